from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, transaction

from portal.audit import AuditContext, record
from portal.models import (
    AuditEntry,
    AuditEntryImmutableError,
    validate_master_urls,
    validate_mesos_role,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def entry(superuser) -> AuditEntry:
    return record(AuditContext(user=superuser), action="team.create", object_type="team")


def test_an_audit_entry_cannot_be_saved_again(entry) -> None:
    entry.action = "forged"
    with pytest.raises(AuditEntryImmutableError):
        entry.save()


def test_an_audit_entry_cannot_be_deleted(entry) -> None:
    with pytest.raises(AuditEntryImmutableError):
        entry.delete()
    with pytest.raises(AuditEntryImmutableError):
        AuditEntry.objects.all().delete()
    with pytest.raises(AuditEntryImmutableError):
        AuditEntry.objects.filter(pk=entry.pk).update(action="forged")
    # bulk_update runs in its own atomic block; the refusal must not poison this test's.
    with pytest.raises(AuditEntryImmutableError), transaction.atomic():
        AuditEntry.objects.bulk_update([entry], ["action"])
    assert AuditEntry.objects.get(pk=entry.pk).action == "team.create"


def test_the_database_refuses_raw_updates_of_audit_rows(entry) -> None:
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE portal_auditentry SET action = 'forged' WHERE id = %s", [entry.pk])
    assert AuditEntry.objects.get(pk=entry.pk).action == "team.create"


def test_deleting_the_actor_keeps_the_entry_and_the_name(entry, superuser) -> None:
    superuser.delete()
    kept = AuditEntry.objects.get(pk=entry.pk)
    assert kept.actor_username == "root"


@pytest.mark.parametrize(
    "urls",
    [
        "http://127.0.0.1:5050",
        "http://mesos-master-1:5050,http://mesos-master-2:5050",
        "https://[::1]:5050",
        "https://master.example.com",
    ],
)
def test_master_urls_accept_bare_hosts_ips_and_several(urls) -> None:
    validate_master_urls(urls)


@pytest.mark.parametrize(
    "urls", ["", "master:5050", "ftp://m:21", "http://m:99999", "http://m:5050/?q=1", "http://"]
)
def test_master_urls_reject_what_is_not_an_http_master(urls) -> None:
    with pytest.raises(ValidationError):
        validate_master_urls(urls)


@pytest.mark.parametrize("role", ["*", "dev", "eng/web", "a.b", "prod-1"])
def test_mesos_roles_accept_what_mesos_accepts(role) -> None:
    validate_mesos_role(role)


@pytest.mark.parametrize("role", ["", ".", "..", "-x", "a b", "/a", "a/", "a//b", "a/*", "a\\b"])
def test_mesos_roles_reject_what_mesos_rejects(role) -> None:
    with pytest.raises(ValidationError):
        validate_mesos_role(role)
