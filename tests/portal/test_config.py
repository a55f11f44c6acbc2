from __future__ import annotations

import pytest

from portal import actions
from portal.audit import AuditContext
from portal.config import mesos_credentials, resolve_environment_variables
from portal.models import Environment
from tests.factories import TeamFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def ctx(superuser) -> AuditContext:
    return AuditContext(user=superuser)


def _set(ctx, env, team, key, value, secret=False) -> None:
    actions.config_value_set(
        ctx=ctx, environment=env, team=team, key=key, value=value, is_secret=secret
    )


def test_team_values_override_environment_wide_ones_and_secrets_are_decrypted(ctx, team) -> None:
    prod = Environment.objects.get(slug="prod")
    _set(ctx, prod, None, "REGION", "eu")
    _set(ctx, prod, None, "LOG_LEVEL", "warn")
    _set(ctx, prod, team, "LOG_LEVEL", "debug")
    _set(ctx, prod, team, "DB_PASSWORD", "pw", secret=True)
    assert resolve_environment_variables(prod, team) == {
        "DB_PASSWORD": "pw",
        "LOG_LEVEL": "debug",
        "REGION": "eu",
    }


def test_other_teams_and_other_environments_do_not_leak_in(ctx, team) -> None:
    prod, dev = Environment.objects.get(slug="prod"), Environment.objects.get(slug="dev")
    other = TeamFactory()
    _set(ctx, prod, other, "OTHER", "no")
    _set(ctx, dev, team, "DEV_ONLY", "no")
    _set(ctx, prod, team, "MINE", "yes")
    assert resolve_environment_variables(prod, team) == {"MINE": "yes"}
    assert resolve_environment_variables(prod, None) == {}


def test_mesos_credentials_are_none_without_a_principal() -> None:
    assert mesos_credentials(Environment.objects.get(slug="dev")) is None


def test_the_default_environments_point_at_the_devcluster(settings) -> None:
    rows = list(Environment.objects.values_list("slug", "mesos_role", "colour", "master_urls"))
    assert [row[:2] for row in rows] == [("dev", "dev"), ("staging", "staging"), ("prod", "prod")]
    assert [row[2] for row in rows] == ["#1f883d", "#bf8700", "#cf222e"]
    assert {row[3] for row in rows} == {settings.BERTH_DEVCLUSTER_URL}
