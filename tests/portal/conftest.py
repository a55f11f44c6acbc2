from __future__ import annotations

from pathlib import Path

import pytest

from portal import crypto


@pytest.fixture(autouse=True)
def keys_file(settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test gets its own key ring file, so rotation tests cannot leak."""
    monkeypatch.delenv(crypto.ENV_VAR, raising=False)
    path = tmp_path / "keys" / "encryption-keys"
    settings.BERTH_ENCRYPTION_KEYS_FILE = path
    return path
