from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection

from portal import actions, crypto
from portal.audit import AuditContext
from portal.config import resolve_environment_variables
from portal.models import AuditEntry, ConfigValue, Environment, Team

pytestmark = pytest.mark.django_db


def _run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_ensure_admin_prints_the_password_once_and_then_nothing_secret() -> None:
    first = _run("ensure_admin", "--username", "boss", "--email", "boss@example.test")
    password = first.split("password: ")[1].split()[0]
    user = get_user_model().objects.get(username="boss")
    assert user.is_superuser and user.check_password(password)
    assert Team.objects.get(slug="default").memberships.get().user == user
    second = _run("ensure_admin")
    assert "nothing to do" in second and password not in second
    assert get_user_model().objects.count() == 1


def test_ensure_admin_reports_a_bad_team_name() -> None:
    with pytest.raises(CommandError):
        _run("ensure_admin", "--team", "")
    assert not get_user_model().objects.exists()


def test_ensure_admin_makes_a_slug_from_the_team_name() -> None:
    _run("ensure_admin", "--team", "Platform Team")
    assert Team.objects.get().slug == "platform-team"


def test_rotate_encryption_key_reencrypts_and_old_values_still_resolve(superuser) -> None:
    prod = Environment.objects.get(slug="prod")
    actions.config_value_set(
        ctx=AuditContext(user=superuser),
        environment=prod,
        team=None,
        key="DB_PASSWORD",
        value="hunter2",
        is_secret=True,
    )
    item = ConfigValue.objects.get()
    before = bytes(item.value_encrypted)
    out = _run("rotate_encryption_key")
    assert "ring now holds 2 keys" in out and "Re-encrypted 1 secrets" in out
    item.refresh_from_db()
    assert bytes(item.value_encrypted) != before
    assert crypto.key_count() == 2
    assert resolve_environment_variables(prod, None) == {"DB_PASSWORD": "hunter2"}
    out = _run("rotate_encryption_key", "--drop-old")
    assert "Dropped 2 old keys" in out and crypto.key_count() == 1
    assert resolve_environment_variables(prod, None) == {"DB_PASSWORD": "hunter2"}
    with connection.cursor() as cursor:
        cursor.execute("SELECT value FROM portal_configvalue")
        assert cursor.fetchone()[0] == ""
    audited = set(AuditEntry.objects.values_list("action", flat=True))
    assert {"encryption.rotate", "encryption.drop_old_keys"} <= audited
    assert "hunter2" not in str(list(AuditEntry.objects.values_list("diff", flat=True)))


def test_rotation_with_keys_in_the_environment_says_what_to_do(monkeypatch) -> None:
    from cryptography.fernet import Fernet

    monkeypatch.setenv(crypto.ENV_VAR, Fernet.generate_key().decode())
    with pytest.raises(CommandError, match="reencrypt-only"):
        _run("rotate_encryption_key")
    assert "Re-encrypted 0 secrets" in _run("rotate_encryption_key", "--reencrypt-only")
