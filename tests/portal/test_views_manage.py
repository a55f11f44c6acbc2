from __future__ import annotations

import pytest
from django.urls import reverse

from portal import actions
from portal.audit import AuditContext
from portal.models import AuditEntry, ConfigValue, Environment, Membership, Role

pytestmark = pytest.mark.django_db

SECRET = "pa55-w0rd-never-shown"
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def admin_client(client_for, superuser):
    return client_for(superuser)


def _config_url(team: str = "") -> str:
    url = reverse("config", args=["prod"])
    return f"{url}?team={team}" if team else url


def test_a_secret_is_masked_on_every_page_that_lists_it(admin_client) -> None:
    response = admin_client.post(
        reverse("config_set", args=["prod"]),
        {"key": "DB_PASSWORD", "value": SECRET, "is_secret": "on"},
    )
    assert response.status_code == 302
    for url in (
        _config_url(),
        _config_url() + "&key=DB_PASSWORD".replace("&", "?"),
        reverse("environment_detail", args=["prod"]),
        reverse("audit"),
    ):
        page = admin_client.get(url).content.decode()
        assert SECRET not in page
    page = admin_client.get(_config_url()).content.decode()
    assert "DB_PASSWORD" in page and "••••••••" in page and "by root" in page


def test_editing_a_secret_never_prefills_its_value(admin_client, superuser) -> None:
    actions.config_value_set(
        ctx=AuditContext(user=superuser),
        environment=Environment.objects.get(slug="prod"),
        team=None,
        key="TOKEN",
        value=SECRET,
        is_secret=True,
    )
    page = admin_client.get(reverse("config", args=["prod"]) + "?key=TOKEN").content.decode()
    assert 'value="TOKEN"' in page
    assert SECRET not in page
    assert "Leave blank to keep the current secret." in page


def test_editing_a_plain_value_prefills_it(admin_client) -> None:
    admin_client.post(reverse("config_set", args=["prod"]), {"key": "REGION", "value": "eu-1"})
    page = admin_client.get(reverse("config", args=["prod"]) + "?key=REGION").content.decode()
    assert "eu-1</textarea>" in page


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"key": "bad-name", "value": "x"}, "environment variable name"),
        ({"key": "MESOS_TASK_ID", "value": "x"}, "reserved for Mesos"),
        ({"key": "", "value": "x"}, "This field is required."),
        ({"key": "NEW_SECRET", "value": "", "is_secret": "on"}, "Enter the secret"),
        ({"key": "A", "value": "x" * 40_000}, "at most 32768 characters"),
    ],
)
def test_bad_config_input_gets_a_message_beside_the_field(admin_client, data, message) -> None:
    response = admin_client.post(reverse("config_set", args=["prod"]), data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert 'class="field-error"' in response.content.decode()
    assert not ConfigValue.objects.exists()


def test_htmx_config_post_gets_the_fragment_with_the_new_row(admin_client) -> None:
    response = admin_client.post(
        reverse("config_set", args=["prod"]), {"key": "REGION", "value": "eu"}, **HTMX
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in body and "REGION" in body
    assert 'hx-swap-oob="innerHTML:#messages"' in body


def test_htmx_config_errors_come_back_in_the_fragment(admin_client) -> None:
    response = admin_client.post(
        reverse("config_set", args=["prod"]), {"key": "x y", "value": "eu"}, **HTMX
    )
    assert response.status_code == 200
    assert "<html" not in response.content.decode()
    assert "field-error" in response.content.decode()


def test_htmx_config_page_gets_only_the_fragment(admin_client) -> None:
    body = admin_client.get(_config_url(), **HTMX).content.decode()
    assert "<html" not in body and "Set a value" in body


def test_a_team_page_shows_inherited_and_overriding_values(client_for, team_admin, superuser):
    prod = Environment.objects.get(slug="prod")
    ctx = AuditContext(user=superuser)
    for team, key, value in [(None, "REGION", "eu"), (None, "LEVEL", "warn")]:
        actions.config_value_set(
            ctx=ctx, environment=prod, team=team, key=key, value=value, is_secret=False
        )
    client = client_for(team_admin)
    client.post(
        reverse("config_set", args=["prod"]), {"key": "LEVEL", "value": "debug", "team": "payments"}
    )
    body = client.get(_config_url("payments")).content.decode()
    assert "overrides environment" in body and "debug" in body and "REGION" in body
    assert "Override</a>" in body


def test_viewers_see_values_but_no_form(client_for, viewer) -> None:
    body = client_for(viewer).get(_config_url("payments")).content.decode()
    assert "Set a value" not in body
    assert "Only admins of Payments change these values." in body


def test_deleting_a_value_removes_it_and_audits(admin_client) -> None:
    admin_client.post(reverse("config_set", args=["prod"]), {"key": "GONE", "value": "x"})
    response = admin_client.post(reverse("config_delete", args=["prod"]), {"key": "GONE"})
    assert response.status_code == 302
    assert not ConfigValue.objects.exists()
    assert AuditEntry.objects.filter(action="config.delete").exists()


def test_deleting_an_unknown_key_is_404(admin_client) -> None:
    response = admin_client.post(reverse("config_delete", args=["prod"]), {"key": "NOPE"})
    assert response.status_code == 404


def test_an_unknown_team_in_the_config_scope_is_404(admin_client) -> None:
    assert admin_client.get(_config_url("no-such-team")).status_code == 404


# Teams


def test_team_admins_add_change_and_remove_members(client_for, team, team_admin) -> None:
    from tests.factories import UserFactory

    UserFactory(username="carol", email="carol@example.test")
    client = client_for(team_admin)
    client.post(
        reverse("team_member_add", args=["payments"]),
        {"username": "CAROL@example.test", "role": "deployer"},
    )
    membership = Membership.objects.get(team=team, user__username="carol")
    assert membership.role == Role.DEPLOYER
    client.post(reverse("team_member_role", args=["payments", membership.pk]), {"role": "admin"})
    membership.refresh_from_db()
    assert membership.role == Role.ADMIN
    client.post(reverse("team_member_remove", args=["payments", membership.pk]))
    assert not Membership.objects.filter(pk=membership.pk).exists()
    actions_seen = set(AuditEntry.objects.values_list("action", flat=True))
    assert {"membership.add", "membership.role", "membership.remove"} <= actions_seen


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"username": "ghost", "role": "viewer"}, "No active user called ghost."),
        ({"username": "teamadmin", "role": "viewer"}, "already in Payments"),
        ({"username": "", "role": "viewer"}, "This field is required."),
        ({"username": "teamadmin", "role": "owner"}, "Select a valid choice."),
    ],
)
def test_bad_member_input_gets_a_message(client_for, team_admin, data, message) -> None:
    response = client_for(team_admin).post(reverse("team_member_add", args=["payments"]), data)
    assert response.status_code == 400
    assert message in response.content.decode()


def test_a_bad_role_change_says_so(client_for, team, team_admin) -> None:
    membership = Membership.objects.get(user=team_admin)
    client = client_for(team_admin)
    response = client.post(
        reverse("team_member_role", args=["payments", membership.pk]),
        {"role": "owner"},
        follow=True,
    )
    assert "Pick one of viewer, deployer or admin." in response.content.decode()
    response = client.post(
        reverse("team_member_role", args=["payments", membership.pk]),
        {"role": "viewer"},
        follow=True,
    )
    assert "at least one admin" in response.content.decode()


def test_htmx_member_changes_get_the_members_fragment(client_for, team, team_admin, viewer):
    membership = Membership.objects.get(user=viewer)
    response = client_for(team_admin).post(
        reverse("team_member_role", args=["payments", membership.pk]), {"role": "deployer"}, **HTMX
    )
    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body and "Add a member" in body


def test_an_admin_who_removes_themselves_is_sent_to_the_team_list(client_for, team, team_admin):
    from tests.factories import MembershipFactory

    MembershipFactory(team=team, role=Role.ADMIN)
    membership = Membership.objects.get(user=team_admin)
    response = client_for(team_admin).post(
        reverse("team_member_remove", args=["payments", membership.pk]), **HTMX
    )
    assert response["HX-Redirect"] == reverse("teams")


def test_the_team_list_shows_only_my_teams_with_my_role(client_for, team, viewer, outsider):
    body = client_for(viewer).get(reverse("teams")).content.decode()
    assert "Payments" in body and "Elsewhere" not in body and "viewer" in body


def test_a_user_in_no_team_is_told_what_to_do(client_for, user) -> None:
    body = client_for(user).get(reverse("teams")).content.decode()
    assert "You are in no team yet" in body


def test_the_new_team_link_opens_the_form_for_superusers_only(admin_client, client_for, viewer):
    body = admin_client.get(reverse("team_create")).content.decode()
    assert "Create team" in body
    assert client_for(viewer).get(reverse("team_create")).status_code == 403


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "Payments", "slug": "fresh"}, "already exists"),
        ({"name": "Fresh", "slug": "Bad Slug"}, "lower-case letters"),
        ({"name": "Fresh", "slug": "new"}, "reserved"),
        ({"name": "", "slug": "fresh"}, "This field is required."),
    ],
)
def test_bad_team_input_gets_a_message(admin_client, team, data, message) -> None:
    response = admin_client.post(reverse("team_create"), data)
    assert response.status_code == 400
    assert message in response.content.decode()


# Environments


def test_the_environment_list_shows_colour_chips(client_for, viewer) -> None:
    body = client_for(viewer).get(reverse("environments")).content.decode()
    assert 'class="env-chip" style="--env: #cf222e"' in body
    assert "New environment" not in body


def test_superusers_create_and_edit_environments(admin_client) -> None:
    data = {
        "name": "qa",
        "slug": "qa",
        "master_urls": "http://m1:5050, https://m2:5050",
        "mesos_role": "eng/qa",
        "colour": "#8250df",
        "position": "3",
    }
    assert admin_client.post(reverse("environment_create"), data).status_code == 302
    data["colour"] = "#000000"
    assert admin_client.post(reverse("environment_edit", args=["qa"]), data).status_code == 302
    qa = Environment.objects.get(slug="qa")
    assert qa.colour == "#000000" and qa.master_url_list() == ["http://m1:5050", "https://m2:5050"]
    body = admin_client.get(reverse("environment_detail", args=["qa"])).content.decode()
    assert "https://m2:5050" in body and "eng/qa" in body


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("master_urls", "m1:5050", "is not an http(s) URL"),
        ("master_urls", " , ", "at least one master URL"),
        ("mesos_role", "-x", "not allowed"),
        ("mesos_role", "a b", "spaces"),
        ("colour", "red", "Use a colour like"),
        ("slug", "staging", "already exists"),
        ("slug", "new", "reserved"),
        ("position", "-1", "greater than or equal to 0"),
    ],
)
def test_bad_environment_input_gets_a_message_beside_the_field(
    admin_client, field, value, message
) -> None:
    data = {
        "name": "prod",
        "slug": "prod",
        "master_urls": "http://127.0.0.1:5050",
        "mesos_role": "prod",
        "colour": "#cf222e",
        "position": "2",
    }
    data[field] = value
    response = admin_client.post(reverse("environment_edit", args=["prod"]), data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert Environment.objects.get(slug="prod").colour == "#cf222e"


def test_credentials_are_never_shown_back(admin_client) -> None:
    url = reverse("environment_credentials", args=["prod"])
    admin_client.post(url, {"principal": "berth", "secret": SECRET})
    for page in (url, reverse("environment_detail", args=["prod"]), reverse("audit")):
        assert SECRET not in admin_client.get(page).content.decode()
    assert "berth" in admin_client.get(url).content.decode()


def test_credentials_refuse_a_new_secret_and_a_removal_at_once(admin_client) -> None:
    response = admin_client.post(
        reverse("environment_credentials", args=["prod"]),
        {"principal": "p", "secret": "s", "clear_secret": "on"},
    )
    assert response.status_code == 400
    assert "not both" in response.content.decode()


def test_an_unknown_environment_is_404(admin_client) -> None:
    assert admin_client.get(reverse("environment_detail", args=["nope"])).status_code == 404


def test_a_page_about_prod_wears_prods_band_whatever_the_switcher_says(admin_client) -> None:
    for url in (
        reverse("environment_detail", args=["prod"]),
        reverse("config", args=["prod"]),
        reverse("environment_edit", args=["prod"]),
    ):
        assert 'data-environment="prod"' in admin_client.get(url).content.decode()
    assert 'data-environment="dev"' in admin_client.get(reverse("teams")).content.decode()
