"""Typed readers for deploy-specific settings in the process environment.

Kept free of Django imports so settings.py, devcluster launchers and scripts can share it.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    # Strict on purpose: "ture" must fail loudly rather than quietly mean False.
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"{name}={raw!r} is not a boolean (use 1/0, true/false, yes/no, on/off)")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not an integer") from None


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_secret(name: str, *, generate_into: Path | None = None) -> str:
    """Read a secret from NAME, or from the file named by NAME_FILE.

    With neither set and generate_into given, a random value is written to that file
    (mode 0600) on first use and read back on later starts, so a laptop needs no set-up
    and the value never lands in the repository.
    """
    value = os.environ.get(name)
    if value:
        return value
    file_name = os.environ.get(f"{name}_FILE")
    if file_name:
        return Path(file_name).read_text().strip()
    if generate_into is None:
        raise ValueError(f"{name} (or {name}_FILE) must be set")
    if not generate_into.exists():
        generate_into.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(generate_into, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(50))
    return generate_into.read_text().strip()
