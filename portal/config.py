"""Configuration as tasks see it: resolved variables and Mesos credentials, secrets decrypted.

Only code that launches tasks or talks to Mesos calls these; the decrypted values must go
straight into a TaskInfo or an HTTP header and never into a log, a page or a stored spec.
"""

from __future__ import annotations

from django.db.models import Q
from django.views.decorators.debug import sensitive_variables

from portal import crypto
from portal.models import ConfigValue, Environment, Team


def _plain(item: ConfigValue) -> str:
    return crypto.decrypt(item.value_encrypted) if item.is_secret else item.value


@sensitive_variables()
def resolve_environment_variables(environment: Environment, team: Team | None) -> dict[str, str]:
    """The variables a task of `team` gets in `environment`, as {name: value}.

    1. Start from the environment-wide values (team NULL).
    2. Overlay the team's own values for this environment: a team value wins over an
       environment-wide value of the same name.
    3. Decrypt secrets on the way out. Keys come back sorted for a stable TaskInfo.
    With team None only the environment-wide values are returned.
    """
    scope = Q(team__isnull=True)
    if team is not None:
        scope |= Q(team=team)
    rows = ConfigValue.objects.filter(scope, environment=environment)
    # Environment-wide rows first so the team's rows overwrite them in the dict.
    ordered = sorted(rows, key=lambda item: (item.team_id is not None, item.key))
    resolved: dict[str, str] = {}
    for item in ordered:
        resolved[item.key] = _plain(item)
    return dict(sorted(resolved.items()))


@sensitive_variables()
def mesos_credentials(environment: Environment) -> tuple[str, str] | None:
    """(principal, secret) for framework authentication, or None when none is set."""
    if not environment.mesos_principal:
        return None
    secret = (
        crypto.decrypt(environment.mesos_secret_encrypted) if environment.has_mesos_secret() else ""
    )
    return environment.mesos_principal, secret
