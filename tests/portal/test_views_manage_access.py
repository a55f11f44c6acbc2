"""Who gets what from every page: anonymous, outsider, viewer, deployer, team admin, superuser."""

from __future__ import annotations

import pytest
from django.urls import reverse

from portal import actions
from portal.audit import AuditContext
from portal.models import Environment, Membership, Role
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

WHO = ["anonymous", "outsider", "viewer", "deployer", "team_admin", "superuser"]


@pytest.fixture
def world(team, superuser):
    """A second member to change, a team value and an environment-wide value to delete."""
    target = UserFactory(username="target")
    Membership.objects.create(team=team, user=target, role=Role.VIEWER)
    UserFactory(username="newcomer")
    prod = Environment.objects.get(slug="prod")
    ctx = AuditContext(user=superuser)
    for scope in (team, None):
        actions.config_value_set(
            ctx=ctx, environment=prod, team=scope, key="OLD", value="v", is_secret=False
        )
    return {"target": Membership.objects.get(user=target)}


def _client(request, client_for, who: str):
    return client_for(None if who == "anonymous" else request.getfixturevalue(who))


def _expect(who: str, table: dict[str, int]) -> int:
    return table.get(who, table.get("member", 0))


# (method, url builder, data, expected status by who; "member" covers the rest)
CASES = {
    "teams": ("get", lambda w: reverse("teams"), None, {"anonymous": 302, "member": 200}),
    "team_create": (
        "post",
        lambda w: reverse("team_create"),
        {"name": "Search", "slug": "search"},
        {"anonymous": 302, "superuser": 302, "member": 403},
    ),
    "team_detail": (
        "get",
        lambda w: reverse("team_detail", args=["payments"]),
        None,
        {"anonymous": 302, "outsider": 404, "member": 200},
    ),
    "team_member_add": (
        "post",
        lambda w: reverse("team_member_add", args=["payments"]),
        {"username": "newcomer", "role": "viewer"},
        {"anonymous": 302, "outsider": 404, "viewer": 403, "deployer": 403, "member": 302},
    ),
    "team_member_role": (
        "post",
        lambda w: reverse("team_member_role", args=["payments", w["target"].pk]),
        {"role": "deployer"},
        {"anonymous": 302, "outsider": 404, "viewer": 403, "deployer": 403, "member": 302},
    ),
    "team_member_remove": (
        "post",
        lambda w: reverse("team_member_remove", args=["payments", w["target"].pk]),
        {},
        {"anonymous": 302, "outsider": 404, "viewer": 403, "deployer": 403, "member": 302},
    ),
    "environments": (
        "get",
        lambda w: reverse("environments"),
        None,
        {"anonymous": 302, "member": 200},
    ),
    "environment_detail": (
        "get",
        lambda w: reverse("environment_detail", args=["prod"]),
        None,
        {"anonymous": 302, "member": 200},
    ),
    "environment_create": (
        "get",
        lambda w: reverse("environment_create"),
        None,
        {"anonymous": 302, "superuser": 200, "member": 403},
    ),
    "environment_create_post": (
        "post",
        lambda w: reverse("environment_create"),
        {
            "name": "qa",
            "slug": "qa",
            "master_urls": "http://127.0.0.1:5050",
            "mesos_role": "qa",
            "colour": "#8250df",
            "position": "3",
        },
        {"anonymous": 302, "superuser": 302, "member": 403},
    ),
    "environment_edit": (
        "get",
        lambda w: reverse("environment_edit", args=["prod"]),
        None,
        {"anonymous": 302, "superuser": 200, "member": 403},
    ),
    "environment_credentials": (
        "post",
        lambda w: reverse("environment_credentials", args=["prod"]),
        {"principal": "berth", "secret": "pw"},
        {"anonymous": 302, "superuser": 302, "member": 403},
    ),
    "config": (
        "get",
        lambda w: reverse("config", args=["prod"]),
        None,
        {"anonymous": 302, "member": 200},
    ),
    "team_config": (
        "get",
        lambda w: reverse("config", args=["prod"]) + "?team=payments",
        None,
        {"anonymous": 302, "outsider": 404, "member": 200},
    ),
    "config_set": (
        "post",
        lambda w: reverse("config_set", args=["prod"]),
        {"key": "NEW", "value": "v"},
        {"anonymous": 302, "superuser": 302, "member": 403},
    ),
    "team_config_set": (
        "post",
        lambda w: reverse("config_set", args=["prod"]),
        {"key": "NEW", "value": "v", "team": "payments"},
        {"anonymous": 302, "outsider": 404, "viewer": 403, "deployer": 403, "member": 302},
    ),
    "config_delete": (
        "post",
        lambda w: reverse("config_delete", args=["prod"]),
        {"key": "OLD"},
        {"anonymous": 302, "superuser": 302, "member": 403},
    ),
    "team_config_delete": (
        "post",
        lambda w: reverse("config_delete", args=["prod"]),
        {"key": "OLD", "team": "payments"},
        {"anonymous": 302, "outsider": 404, "viewer": 403, "deployer": 403, "member": 302},
    ),
    "audit": ("get", lambda w: reverse("audit"), None, {"anonymous": 302, "member": 200}),
}


@pytest.mark.parametrize("who", WHO)
@pytest.mark.parametrize("case", sorted(CASES))
def test_every_page_answers_each_kind_of_user_as_its_role_allows(
    request, client_for, world, team_admin, case, who
) -> None:
    method, url, data, table = CASES[case]
    client = _client(request, client_for, who)
    response = getattr(client, method)(url(world), data or {})
    assert response.status_code == _expect(who, table), response.content[:300]
    if who == "anonymous":
        assert response["Location"].startswith(reverse("login"))


GET_ONLY = ["teams", "team_detail", "environments", "environment_detail", "config", "audit"]
POST_ONLY = [
    "team_member_add",
    "team_member_role",
    "team_member_remove",
    "config_set",
    "config_delete",
]


@pytest.mark.parametrize("case", GET_ONLY + POST_ONLY)
def test_the_wrong_method_gets_405(client_for, superuser, world, case) -> None:
    method, url, _, _ = CASES[case]
    client = client_for(superuser)
    wrong = "post" if method == "get" else "get"
    assert getattr(client, wrong)(url(world)).status_code == 405
    assert client.delete(url(world)).status_code == 405


@pytest.mark.parametrize("case", ["environment_create", "environment_edit", "team_create"])
def test_form_pages_refuse_other_methods(client_for, superuser, world, case) -> None:
    _, url, _, _ = CASES[case]
    assert client_for(superuser).put(url(world)).status_code == 405
