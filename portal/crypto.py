"""Secrets at rest: Fernet tokens under a MultiFernet key ring.

The key ring comes from BERTH_ENCRYPTION_KEYS (comma-separated, newest first) or, when that
is unset, from the file settings.BERTH_ENCRYPTION_KEYS_FILE (one key per line, newest first),
which is generated with mode 0600 on first use. The first key encrypts; every key decrypts,
so a rotation can add a key, re-encrypt, and only then drop the old ones.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.views.decorators.debug import sensitive_variables

ENV_VAR = "BERTH_ENCRYPTION_KEYS"


class KeyRingError(Exception):
    pass


@dataclass(frozen=True)
class _Cached:
    signature: tuple[object, ...]
    ring: MultiFernet
    keys: tuple[bytes, ...]


_lock = threading.Lock()
_cache: _Cached | None = None


def keys_from_environment() -> bool:
    return bool(os.environ.get(ENV_VAR, "").strip())


def _keys_file() -> Path:
    return Path(settings.BERTH_ENCRYPTION_KEYS_FILE)


def _parse_keys(raw: str, source: str) -> tuple[bytes, ...]:
    keys = tuple(item.strip().encode() for item in raw.replace(",", "\n").split() if item.strip())
    if not keys:
        raise KeyRingError(f"{source} holds no encryption keys.")
    for index, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except ValueError:
            # The key itself must never reach a log line, only its position.
            raise KeyRingError(f"Key {index} in {source} is not a Fernet key.") from None
    return keys


def _write_keys_file(path: Path, keys: tuple[bytes, ...]) -> None:
    """Replace the file atomically so a reader never sees half a key ring."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write("\n".join(key.decode() for key in keys) + "\n")
    tmp.replace(path)


def _ensure_keys_file(path: Path) -> None:
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: two processes starting at once must not each write a different key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "w") as handle:
        handle.write(Fernet.generate_key().decode() + "\n")


def _signature() -> tuple[object, ...]:
    raw = os.environ.get(ENV_VAR, "").strip()
    if raw:
        return ("env", raw)
    path = _keys_file()
    _ensure_keys_file(path)
    stat = path.stat()
    # Another process may rotate the file; its mtime and size tell us to read it again.
    return ("file", str(path), stat.st_mtime_ns, stat.st_size, stat.st_ino)


def _load(signature: tuple[object, ...]) -> _Cached:
    if signature[0] == "env":
        keys = _parse_keys(str(signature[1]), ENV_VAR)
    else:
        path = _keys_file()
        keys = _parse_keys(path.read_text(), str(path))
    return _Cached(signature, MultiFernet([Fernet(key) for key in keys]), keys)


def _current() -> _Cached:
    global _cache
    with _lock:
        signature = _signature()
        if _cache is None or _cache.signature != signature:
            _cache = _load(signature)
        return _cache


@sensitive_variables()
def encrypt(plain: str) -> bytes:
    return _current().ring.encrypt(plain.encode())


@sensitive_variables()
def decrypt(token: bytes | memoryview) -> str:
    try:
        return _current().ring.decrypt(bytes(token)).decode()
    except InvalidToken:
        raise KeyRingError(
            "A secret cannot be decrypted with any configured key (was a key dropped?)."
        ) from None


def reencrypt(token: bytes | memoryview) -> bytes:
    """Decrypt with any key and encrypt again with the newest one."""
    try:
        return _current().ring.rotate(bytes(token))
    except InvalidToken:
        raise KeyRingError("A secret cannot be decrypted with any configured key.") from None


def key_count() -> int:
    return len(_current().keys)


def _require_file_keys() -> Path:
    if keys_from_environment():
        raise KeyRingError(
            f"Keys come from {ENV_VAR}: put a new key first in that variable, restart, and "
            "run rotate_encryption_key --reencrypt-only; remove old keys from it yourself."
        )
    return _keys_file()


def add_key() -> int:
    """Put a fresh key first in the key file; returns how many keys the ring now holds."""
    path = _require_file_keys()
    keys = (Fernet.generate_key(), *_current().keys)
    _write_keys_file(path, keys)
    return len(keys)


def drop_old_keys() -> int:
    """Keep only the newest key; returns how many were dropped."""
    path = _require_file_keys()
    keys = _current().keys
    _write_keys_file(path, keys[:1])
    return len(keys) - 1
