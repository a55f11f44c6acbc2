from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from portal.audit import AuditContext, record
from portal.models import AuditEntry
from tests.factories import TeamFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def log(team, team_admin, superuser):
    other = TeamFactory(name="Other", slug="other")
    ctx = AuditContext(user=superuser)
    record(ctx, action="config.set", object_type="configvalue", object_repr="MINE", team=team)
    record(ctx, action="config.set", object_type="configvalue", object_repr="THEIRS", team=other)
    record(ctx, action="environment.update", object_type="environment", object_repr="GLOBAL")
    record(
        AuditContext(user=team_admin),
        action="membership.add",
        object_type="membership",
        object_repr="BY_ADMIN",
        team=team,
    )


def _page(client, **params) -> str:
    return client.get(reverse("audit"), params).content.decode()


def test_superusers_see_every_entry(client_for, superuser, log) -> None:
    body = _page(client_for(superuser))
    assert all(name in body for name in ("MINE", "THEIRS", "GLOBAL", "BY_ADMIN"))


def test_team_admins_see_only_their_teams_entries(client_for, team_admin, log) -> None:
    body = _page(client_for(team_admin))
    assert "MINE" in body and "BY_ADMIN" in body
    assert "THEIRS" not in body and "GLOBAL" not in body


def test_members_who_admin_nothing_see_an_explanation(client_for, deployer, log) -> None:
    body = _page(client_for(deployer))
    assert "You are not an admin of any team." in body and "MINE" not in body


@pytest.mark.parametrize(
    ("params", "shown", "hidden"),
    [
        ({"actor": "teamadmin"}, "BY_ADMIN", "MINE"),
        ({"action": "environment.update"}, "GLOBAL", "MINE"),
        ({"object_type": "membership"}, "BY_ADMIN", "GLOBAL"),
    ],
)
def test_filters_narrow_the_list(client_for, superuser, log, params, shown, hidden) -> None:
    body = _page(client_for(superuser), **params)
    assert shown in body and hidden not in body


def test_the_date_range_filter_includes_the_last_day(client_for, superuser, log) -> None:
    today = timezone.localdate()
    client = client_for(superuser)
    assert "MINE" in _page(client, since=today.isoformat(), until=today.isoformat())
    yesterday = (today - timedelta(days=1)).isoformat()
    assert "MINE" not in _page(client, since=yesterday, until=yesterday)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"since": "2026-13-40"}, "Enter a valid date."),
        ({"since": "2026-05-02", "until": "2026-05-01"}, "on or after the first day"),
        ({"cursor": "garbage"}, "invalid or expired"),
    ],
)
def test_bad_filters_get_a_message_not_a_500(client_for, superuser, log, params, message):
    response = client_for(superuser).get(reverse("audit"), params)
    assert response.status_code == 200
    assert message in response.content.decode()


def test_pages_link_older_and_newer_without_counting(client_for, superuser, log) -> None:
    ctx = AuditContext(user=superuser)
    for number in range(60):
        record(ctx, action="team.create", object_type="team", object_repr=f"T{number:02d}")
    client = client_for(superuser)
    first = client.get(reverse("audit"), {"action": "team.create"})
    assert "T59" in first.content.decode() and "T09" not in first.content.decode()
    older_url = first.context["next_url"]
    assert "action=team.create" in older_url
    older = client.get(older_url).content.decode()
    assert "T09" in older and "T59" not in older
    assert AuditEntry.objects.count() == 64


def test_htmx_gets_only_the_entries_fragment(client_for, superuser, log) -> None:
    body = client_for(superuser).get(reverse("audit"), HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in body and "MINE" in body
