from __future__ import annotations

import pytest

from portal import actions
from portal.audit import AuditContext
from portal.models import AuditEntry, Environment

pytestmark = pytest.mark.django_db

SECRET = "admin-never-sees-this"


@pytest.fixture
def admin_client(client_for, superuser):
    prod = Environment.objects.get(slug="prod")
    actions.config_value_set(
        ctx=AuditContext(user=superuser),
        environment=prod,
        team=None,
        key="TOKEN",
        value=SECRET,
        is_secret=True,
    )
    return client_for(superuser)


def test_audit_entries_are_read_only_in_the_admin(admin_client) -> None:
    entry = AuditEntry.objects.get()
    assert admin_client.get("/admin/portal/auditentry/").status_code == 200
    assert admin_client.get("/admin/portal/auditentry/add/").status_code == 403
    assert admin_client.get(f"/admin/portal/auditentry/{entry.pk}/delete/").status_code == 403
    response = admin_client.post(f"/admin/portal/auditentry/{entry.pk}/change/", {"action": "x"})
    assert response.status_code == 403
    assert AuditEntry.objects.get().action == "secret.set"


def test_config_values_show_only_a_mask_in_the_admin(admin_client) -> None:
    listing = admin_client.get("/admin/portal/configvalue/").content.decode()
    assert "TOKEN" in listing and SECRET not in listing
    item_id = AuditEntry.objects.get().object_id
    detail = admin_client.get(f"/admin/portal/configvalue/{item_id}/change/").content.decode()
    assert "********" in detail and SECRET not in detail


def test_team_changes_in_the_admin_reach_the_audit_log(admin_client) -> None:
    response = admin_client.post(
        "/admin/portal/team/add/",
        {
            "name": "Search",
            "slug": "search",
            "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302
    assert AuditEntry.objects.filter(action="team.admin_create", object_repr="Search").exists()
