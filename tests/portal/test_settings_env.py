from __future__ import annotations

from pathlib import Path

import pytest

from portal.env import env_bool, env_int, env_list, env_secret


def test_env_bool_is_strict(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLAG", "ture")
    with pytest.raises(ValueError, match="not a boolean"):
        env_bool("FLAG", False)


@pytest.mark.parametrize(("raw", "expected"), [("1", True), ("Yes", True), ("off", False)])
def test_env_bool_reads_common_spellings(
    monkeypatch: pytest.MonkeyPatch, raw: str, expected: bool
) -> None:
    monkeypatch.setenv("FLAG", raw)
    assert env_bool("FLAG", not expected) is expected


def test_env_int_names_the_variable_on_bad_input(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COUNT", "ten")
    with pytest.raises(ValueError, match="COUNT"):
        env_int("COUNT", 1)


def test_env_list_splits_and_trims(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOSTS", " a, b ,,c")
    assert env_list("HOSTS", []) == ["a", "b", "c"]


def test_env_secret_generates_once_and_keeps_it(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "key"
    first = env_secret("BERTH_TEST_NO_SUCH_SECRET", generate_into=target)
    assert env_secret("BERTH_TEST_NO_SUCH_SECRET", generate_into=target) == first
    assert target.stat().st_mode & 0o777 == 0o600


def test_env_secret_reads_the_file_variant(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "s").write_text("from-file\n")
    monkeypatch.setenv("BERTH_TEST_SECRET_FILE", str(tmp_path / "s"))
    assert env_secret("BERTH_TEST_SECRET") == "from-file"
