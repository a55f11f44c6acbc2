from __future__ import annotations

import pytest
from django.urls import reverse

from portal import actions
from portal.audit import AuditContext
from portal.models import AuditEntry, ConfigValue, Environment

pytestmark = pytest.mark.django_db

SECRET = "api-secret-value-42"
WHO = ["anonymous", "outsider", "viewer", "deployer", "team_admin", "superuser"]


@pytest.fixture
def seeded(team, superuser):
    prod = Environment.objects.get(slug="prod")
    ctx = AuditContext(user=superuser)
    for scope, key in ((None, "SHARED"), (team, "OWN")):
        actions.config_value_set(
            ctx=ctx, environment=prod, team=scope, key=key, value=SECRET, is_secret=True
        )
    return prod


def _client(request, api_client_for, who):
    return api_client_for(None if who == "anonymous" else request.getfixturevalue(who))


CASES = {
    "environments": ("get", reverse("api_environments"), None, {"member": 200}),
    "environment": ("get", reverse("api_environment_detail", args=["prod"]), None, {"member": 200}),
    "config": ("get", reverse("api_config", args=["prod"]), None, {"member": 200}),
    "team_config": (
        "get",
        reverse("api_config", args=["prod"]) + "?team=payments",
        None,
        {"outsider": 404, "member": 200},
    ),
    "config_set": (
        "post",
        reverse("api_config_set", args=["prod"]),
        {"key": "NEW", "value": "v"},
        {"superuser": 200, "member": 403},
    ),
    "team_config_set": (
        "post",
        reverse("api_config_set", args=["prod"]),
        {"key": "NEW", "value": "v", "team": "payments"},
        {"outsider": 404, "viewer": 403, "deployer": 403, "member": 200},
    ),
    "config_delete": (
        "post",
        reverse("api_config_delete", args=["prod"]),
        {"key": "SHARED"},
        {"superuser": 204, "member": 403},
    ),
    "team_config_delete": (
        "post",
        reverse("api_config_delete", args=["prod"]),
        {"key": "OWN", "team": "payments"},
        {"outsider": 404, "viewer": 403, "deployer": 403, "member": 204},
    ),
    "teams": ("get", reverse("api_teams"), None, {"member": 200}),
    "audit": ("get", reverse("api_audit"), None, {"member": 200}),
}


@pytest.mark.parametrize("who", WHO)
@pytest.mark.parametrize("case", sorted(CASES))
def test_every_endpoint_answers_each_kind_of_user_as_its_role_allows(
    request, api_client_for, seeded, team_admin, case, who
) -> None:
    method, url, data, table = CASES[case]
    response = getattr(_client(request, api_client_for, who), method)(url, data, format="json")
    expected = 403 if who == "anonymous" else table.get(who, table["member"])
    assert response.status_code == expected, response.content[:300]
    assert SECRET not in response.content.decode()


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_wrong_method_gets_405(api_client_for, superuser, seeded, case) -> None:
    method, url, _, _ = CASES[case]
    client = api_client_for(superuser)
    wrong = "post" if method == "get" else "get"
    assert getattr(client, wrong)(url, {}, format="json").status_code == 405
    assert client.delete(url).status_code == 405


def test_config_list_masks_secrets_and_shows_who_changed_them(api_client_for, superuser, seeded):
    body = api_client_for(superuser).get(reverse("api_config", args=["prod"])).json()
    assert body["results"] == [
        {
            "key": "SHARED",
            "team": None,
            "is_secret": True,
            "value": "********",
            "updated_by": "root",
            "updated_at": body["results"][0]["updated_at"],
        }
    ]
    assert "next" in body and "count" not in body


def test_setting_a_secret_stores_it_encrypted_and_answers_masked(api_client_for, team_admin):
    response = api_client_for(team_admin).post(
        reverse("api_config_set", args=["prod"]),
        {"key": "TOKEN", "value": SECRET, "is_secret": True, "team": "payments"},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["value"] == "********"
    item = ConfigValue.objects.get(key="TOKEN")
    assert item.value == "" and SECRET.encode() not in bytes(item.value_encrypted)
    assert AuditEntry.objects.get(action="secret.set").actor_username == "teamadmin"


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"key": "bad key", "value": "x"}, "key", "environment variable name"),
        ({"key": "MESOS_X", "value": "x"}, "key", "reserved"),
        ({"value": "x"}, "key", "required"),
        ({"key": "A"}, "value", "required"),
        ({"key": "A", "value": "", "is_secret": True}, "value", "Enter the secret"),
        ({"key": "A", "value": "x", "is_secret": "maybe"}, "is_secret", "valid boolean"),
        ({"key": "A", "value": "x", "team": "No Such"}, "team", "slug"),
    ],
)
def test_bad_input_gets_400_naming_the_field(api_client_for, superuser, data, field, message):
    response = api_client_for(superuser).post(
        reverse("api_config_set", args=["prod"]), data, format="json"
    )
    assert response.status_code == 400
    assert message in " ".join(response.json()[field])


def test_a_malformed_body_gets_400(api_client_for, superuser) -> None:
    response = api_client_for(superuser).post(
        reverse("api_config_set", args=["prod"]), "{not json", content_type="application/json"
    )
    assert response.status_code == 400


def test_deleting_an_unknown_key_is_404(api_client_for, superuser) -> None:
    response = api_client_for(superuser).post(
        reverse("api_config_delete", args=["prod"]), {"key": "NOPE"}, format="json"
    )
    assert response.status_code == 404


def test_environments_never_expose_the_mesos_secret(api_client_for, superuser, viewer) -> None:
    prod = Environment.objects.get(slug="prod")
    actions.environment_credentials_set(
        ctx=AuditContext(user=superuser), environment=prod, principal="berth", secret=SECRET
    )
    body = api_client_for(viewer).get(reverse("api_environment_detail", args=["prod"])).json()
    assert body["mesos_principal"] == "berth" and body["has_mesos_secret"] is True
    assert SECRET not in str(body)
    listing = api_client_for(viewer).get(reverse("api_environments")).json()
    assert [env["slug"] for env in listing["results"]] == ["dev", "staging", "prod"]


def test_teams_list_my_teams_with_my_role(api_client_for, team, deployer, outsider) -> None:
    body = api_client_for(deployer).get(reverse("api_teams")).json()
    assert body["results"] == [
        {"slug": "payments", "name": "Payments", "member_count": 1, "role": "deployer"}
    ]


def test_audit_pages_with_cursors_and_filters(api_client_for, superuser) -> None:
    ctx = AuditContext(user=superuser)
    from portal.audit import record

    for number in range(7):
        record(ctx, action="team.create", object_type="team", object_repr=f"T{number}")
    record(ctx, action="config.set", object_type="configvalue", object_repr="C")
    client = api_client_for(superuser)
    first = client.get(reverse("api_audit"), {"action": "team.create", "limit": 5}).json()
    assert [row["object_repr"] for row in first["results"]] == ["T6", "T5", "T4", "T3", "T2"]
    assert first["previous"] is None
    second = client.get(first["next"]).json()
    assert [row["object_repr"] for row in second["results"]] == ["T1", "T0"]
    assert second["next"] is None and second["previous"]


@pytest.mark.parametrize(
    ("params", "field"),
    [({"cursor": "junk"}, "cursor"), ({"since": "yesterday"}, "since"), ({"limit": 0}, "limit")],
)
def test_bad_audit_queries_get_400(api_client_for, superuser, params, field) -> None:
    response = api_client_for(superuser).get(reverse("api_audit"), params)
    assert response.status_code == 400
    assert field in response.json()


def test_team_admins_get_only_their_teams_audit(api_client_for, team, team_admin, superuser):
    from portal.audit import record

    record(AuditContext(user=superuser), action="x.y", object_type="t", object_repr="GLOBAL")
    record(
        AuditContext(user=superuser), action="x.y", object_type="t", object_repr="MINE", team=team
    )
    body = api_client_for(team_admin).get(reverse("api_audit")).json()
    assert [row["object_repr"] for row in body["results"]] == ["MINE"]


def test_a_superuser_is_admin_of_teams_they_are_not_in(api_client_for, team, superuser) -> None:
    body = api_client_for(superuser).get(reverse("api_teams")).json()
    assert [(row["slug"], row["role"]) for row in body["results"]] == [("payments", "admin")]
