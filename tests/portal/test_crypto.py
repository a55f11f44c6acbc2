from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from portal import crypto


def test_it_generates_the_key_file_with_mode_0600_on_first_use(keys_file: Path) -> None:
    assert not keys_file.exists()
    token = crypto.encrypt("s3cret")
    assert keys_file.stat().st_mode & 0o777 == 0o600
    assert crypto.decrypt(token) == "s3cret"
    assert b"s3cret" not in token


def test_it_reads_keys_from_the_environment_variable_first(
    keys_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = Fernet.generate_key()
    monkeypatch.setenv(crypto.ENV_VAR, f"{key.decode()}, {Fernet.generate_key().decode()}")
    token = crypto.encrypt("x")
    assert Fernet(key).decrypt(token) == b"x"
    assert not keys_file.exists()


def test_a_bad_key_is_reported_by_position_not_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(crypto.ENV_VAR, "not-a-key-at-all")
    with pytest.raises(crypto.KeyRingError, match="Key 1") as caught:
        crypto.encrypt("x")
    assert "not-a-key-at-all" not in str(caught.value)


def test_old_tokens_still_decrypt_after_a_key_is_added() -> None:
    old = crypto.encrypt("before")
    assert crypto.add_key() == 2
    assert crypto.decrypt(old) == "before"
    assert crypto.reencrypt(old) != old


def test_dropping_old_keys_makes_old_tokens_unreadable() -> None:
    old = crypto.encrypt("before")
    crypto.add_key()
    fresh = crypto.reencrypt(old)
    assert crypto.drop_old_keys() == 1
    assert crypto.decrypt(fresh) == "before"
    with pytest.raises(crypto.KeyRingError, match="cannot be decrypted"):
        crypto.decrypt(old)


def test_rotation_refuses_keys_that_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(crypto.ENV_VAR, Fernet.generate_key().decode())
    with pytest.raises(crypto.KeyRingError, match="reencrypt-only"):
        crypto.add_key()


def test_it_notices_another_process_rewriting_the_key_file(keys_file: Path) -> None:
    crypto.encrypt("warm the cache")
    other = Fernet.generate_key()
    keys_file.write_text(other.decode() + "\n" + keys_file.read_text())
    assert Fernet(other).decrypt(crypto.encrypt("y")) == b"y"
