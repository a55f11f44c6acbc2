"""The frame every page sits in: dashboard, sign-in, environment switch, error pages."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.contrib.sessions.backends.cache import SessionStore
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.test import Client, RequestFactory
from django.urls import URLPattern, URLResolver, path, reverse
from django.views import defaults
from pytest_django import DjangoAssertNumQueries

from portal import urls as portal_urls
from portal.context_processors import navigation
from portal.middleware import SESSION_KEY, CurrentEnvironmentMiddleware
from portal.models import Environment, Membership, Role, Team

pytestmark = pytest.mark.django_db


def _crash(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("a bug in some view")


# The portal's own URLs plus one view that fails, for the server error page.
urlpatterns: list[URLPattern | URLResolver] = [
    path("crash/", _crash),
    *portal_urls.urlpatterns,
]

DEV_COLOUR = "#1f883d"
PROD_COLOUR = "#cf222e"


@pytest.fixture
def environments() -> dict[str, Environment]:
    # update_or_create: the data migration may already have made dev and prod.
    dev, _ = Environment.objects.update_or_create(
        slug="dev", defaults={"name": "dev", "colour": DEV_COLOUR, "position": 0}
    )
    prod, _ = Environment.objects.update_or_create(
        slug="prod", defaults={"name": "prod", "colour": PROD_COLOUR, "position": 2}
    )
    return {"dev": dev, "prod": prod}


@pytest.fixture
def user(django_user_model: type[User]) -> User:
    return django_user_model.objects.create_user("ada", password="correct horse battery")


@pytest.fixture
def user_client(client: Client, user: User) -> Client:
    client.force_login(user)
    return client


def _band(html: str) -> str:
    start = html.index('class="env-band')
    return html[start : html.index("</div>", start)]


# Dashboard


def test_dashboard_sends_anonymous_visitors_to_the_login_page(client: Client) -> None:
    response = client.get(reverse("dashboard"))
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next=/"


def test_dashboard_lists_the_users_teams_with_their_roles(
    user_client: Client, user: User, environments: dict[str, Environment]
) -> None:
    payments = Team.objects.create(name="Payments", slug="payments")
    Membership.objects.create(team=payments, user=user, role=Role.DEPLOYER)
    response = user_client.get(reverse("dashboard"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Payments" in html
    assert "Deployer" in html
    assert "You are in no team" not in html


def test_dashboard_tells_a_user_without_teams_to_ask_an_admin(
    user_client: Client, environments: dict[str, Environment]
) -> None:
    Team.objects.create(name="Search", slug="search")
    html = user_client.get(reverse("dashboard")).content.decode()
    assert "You are in no team" in html
    assert "Ask an admin" in html
    assert "Search" not in html


def test_dashboard_says_what_to_do_first(
    user_client: Client, environments: dict[str, Environment]
) -> None:
    html = user_client.get(reverse("dashboard")).content.decode()
    for step in ("Define a service", "Schedule a job", "Check environments and configuration"):
        assert step in html
    assert 'href="/cluster/"' in html or f'href="{reverse("cluster:index")}"' in html


def test_dashboard_says_when_the_master_cannot_be_reached(
    user_client: Client, environments: dict[str, Environment], settings: object
) -> None:
    # Port 9 (discard) has no listener on loopback: the connection is refused at once.
    settings.BERTH_MESOS_MASTER = ["http://127.0.0.1:9"]  # type: ignore[attr-defined]
    response = user_client.get(reverse("dashboard"))
    assert response.status_code == 200
    assert "Cannot reach the master at" in response.content.decode()


def test_dashboard_shows_the_devclusters_agents_and_capacity(
    user_client: Client, environments: dict[str, Environment], settings: object, devcluster: object
) -> None:
    settings.BERTH_MESOS_MASTER = [devcluster.url]  # type: ignore[attr-defined]
    html = user_client.get(reverse("dashboard")).content.decode()
    assert 'id="cluster-summary"' in html
    assert "1 agent" in html
    assert "Cannot reach" not in html


def test_dashboard_lists_environments_with_their_colours(
    user_client: Client, environments: dict[str, Environment]
) -> None:
    html = user_client.get(reverse("dashboard")).content.decode()
    assert f'<span class="env-chip" style="--env: {DEV_COLOUR}">dev</span>' in html
    assert f'<span class="env-chip" style="--env: {PROD_COLOUR}">prod</span>' in html


def test_dashboard_without_any_environment_says_to_define_one(user_client: Client) -> None:
    Environment.objects.all().delete()
    response = user_client.get(reverse("dashboard"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "none defined" in _band(html)
    assert "No environments yet" in html


def test_every_page_carries_the_csrf_token_for_htmx(user_client: Client) -> None:
    response = user_client.get(reverse("dashboard"))
    token = response.context["csrf_token"]
    assert f"""<body hx-headers='{{"X-CSRFToken": "{token}"}}'>""" in response.content.decode()
    assert "vendor/htmx.min.js" in response.content.decode()


def test_the_admin_link_is_shown_to_superusers_only(
    user_client: Client, admin_client: Client
) -> None:
    admin_url = f'href="{reverse("admin:index")}"'
    assert admin_url not in user_client.get(reverse("dashboard")).content.decode()
    assert admin_url in admin_client.get(reverse("dashboard")).content.decode()


def test_the_navigation_marks_the_current_section(user_client: Client) -> None:
    html = user_client.get(reverse("dashboard")).content.decode()
    assert '<a href="/" aria-current="page">Dashboard</a>' in html
    assert ">Services</a>" in html
    assert ">Audit</a>" in html


# Current environment


def test_the_band_shows_the_first_environment_until_one_is_chosen(
    user_client: Client, environments: dict[str, Environment]
) -> None:
    band = _band(user_client.get(reverse("dashboard")).content.decode())
    assert f"--env: {DEV_COLOUR}" in band
    assert ">dev</strong>" in band


def test_switching_environment_changes_the_colour_of_every_page(
    user_client: Client, environments: dict[str, Environment]
) -> None:
    response = user_client.post(
        reverse("environment_switch"), {"environment": "prod", "next": "/?tab=1"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/?tab=1"
    assert user_client.session[SESSION_KEY] == "prod"
    band = _band(user_client.get(reverse("dashboard")).content.decode())
    assert f"--env: {PROD_COLOUR}" in band
    assert ">prod</strong>" in band


def test_switching_to_an_unknown_environment_explains_and_changes_nothing(
    user_client: Client, environments: dict[str, Environment]
) -> None:
    user_client.post(reverse("environment_switch"), {"environment": "prod"})
    response = user_client.post(
        reverse("environment_switch"), {"environment": "nope", "next": "/"}, follow=True
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "There is no environment called “nope”" in html
    assert user_client.session[SESSION_KEY] == "prod"


def test_switching_without_choosing_an_environment_says_so(
    user_client: Client, environments: dict[str, Environment]
) -> None:
    response = user_client.post(reverse("environment_switch"), {}, follow=True)
    assert response.status_code == 200
    assert "No environment chosen" in response.content.decode()


def test_switching_environment_by_get_is_refused(user_client: Client) -> None:
    assert user_client.get(reverse("environment_switch")).status_code == 405


@pytest.mark.parametrize(
    "unsafe", ["https://evil.example/", "//evil.example/", "javascript:alert(1)"]
)
def test_switching_environment_ignores_an_unsafe_next(
    user_client: Client, environments: dict[str, Environment], unsafe: str
) -> None:
    response = user_client.post(
        reverse("environment_switch"), {"environment": "prod", "next": unsafe}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard")


def test_switching_environment_requires_login(
    client: Client, environments: dict[str, Environment]
) -> None:
    response = client.post(reverse("environment_switch"), {"environment": "prod"})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert SESSION_KEY not in client.session


def test_a_deleted_environment_in_the_session_falls_back_to_the_first(
    user_client: Client, environments: dict[str, Environment]
) -> None:
    user_client.post(reverse("environment_switch"), {"environment": "prod"})
    environments["prod"].delete()
    band = _band(user_client.get(reverse("dashboard")).content.decode())
    assert f"--env: {DEV_COLOUR}" in band


def test_the_current_environment_costs_one_query_per_request(
    rf: RequestFactory,
    environments: dict[str, Environment],
    django_assert_num_queries: DjangoAssertNumQueries,
) -> None:
    seen: list[dict[str, object]] = []

    def view(request: HttpRequest) -> HttpResponse:
        seen.append(navigation(request))
        return HttpResponse()

    request = rf.get("/")
    request.session = SessionStore()
    request.session[SESSION_KEY] = "prod"
    with django_assert_num_queries(1):
        CurrentEnvironmentMiddleware(view)(request)
    assert seen[0]["current_environment"] == environments["prod"]
    assert seen[0]["environments"] == list(Environment.objects.all())


# Sign-in and sign-out


def test_the_login_page_shows_the_form(client: Client) -> None:
    response = client.get(reverse("login"))
    html = response.content.decode()
    assert response.status_code == 200
    assert 'name="username"' in html
    assert 'name="password"' in html
    assert 'class="env-band' not in html


def test_logging_in_with_a_wrong_password_explains_beside_the_form(
    client: Client, user: User
) -> None:
    response = client.post(reverse("login"), {"username": "ada", "password": "wrong"})
    html = response.content.decode()
    assert response.status_code == 200
    assert 'class="form-errors"' in html
    assert "correct username and password" in html
    assert 'value="ada"' in html


def test_logging_in_lands_on_the_page_asked_for(client: Client, user: User) -> None:
    response = client.post(
        reverse("login"),
        {"username": "ada", "password": "correct horse battery", "next": "/?from=login"},
    )
    assert response.status_code == 302
    assert response["Location"] == "/?from=login"


def test_logging_out_takes_a_post_and_ends_the_session(user_client: Client) -> None:
    assert user_client.get(reverse("logout")).status_code == 405
    response = user_client.post(reverse("logout"))
    assert response.status_code == 302
    assert response["Location"] == reverse("login")
    assert user_client.get(reverse("dashboard")).status_code == 302


# Error pages


def test_a_missing_page_gets_the_portal_layout(
    user_client: Client, environments: dict[str, Environment]
) -> None:
    response = user_client.get("/no/such/page/")
    html = response.content.decode()
    assert response.status_code == 404
    assert "This page does not exist" in html
    assert "/no/such/page/" in html
    assert f"--env: {DEV_COLOUR}" in _band(html)


def test_a_forbidden_page_shows_the_reason(
    rf: RequestFactory, user: User, environments: dict[str, Environment]
) -> None:
    request = rf.get("/services/")
    request.user = user
    request.environment = environments["dev"]  # type: ignore[attr-defined]
    response = defaults.permission_denied(
        request, PermissionDenied("Releasing to prod needs the deployer role in Payments.")
    )
    html = response.content.decode()
    assert response.status_code == 403
    assert "Releasing to prod needs the deployer role in Payments." in html


def test_the_server_error_page_needs_no_request_or_context() -> None:
    html = render_to_string("500.html")
    assert "Something went wrong on our side" in html
    assert "app.css" in html


@pytest.mark.urls(__name__)
def test_a_crashing_view_shows_the_server_error_page(user_client: Client) -> None:
    user_client.raise_request_exception = False
    response = user_client.get("/crash/")
    assert response.status_code == 500
    assert "Something went wrong on our side" in response.content.decode()


def test_a_form_posted_without_its_token_says_it_expired(
    user: User, environments: dict[str, Environment]
) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    response = client.post(reverse("environment_switch"), {"environment": "prod"})
    assert response.status_code == 403
    assert "This form has expired" in response.content.decode()
