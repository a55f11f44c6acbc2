"""Reads for teams, environments, configuration and the audit log, scoped to the reader."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model
from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.shortcuts import get_object_or_404
from django.utils import timezone

from portal import permissions
from portal.models import AuditEntry, ConfigValue, Environment, Membership, Role, Team

if TYPE_CHECKING:
    from portal.permissions import AnyUser


def team_list(user: AnyUser) -> QuerySet[Team]:
    """The reader's teams with member_count and my_role (None for a superuser outsider)."""
    my_role = Membership.objects.filter(team=OuterRef("pk"), user_id=user.pk or 0).values("role")
    return (
        permissions.teams_for(user)
        .annotate(member_count=Count("memberships", distinct=True), my_role=Subquery(my_role[:1]))
        .order_by("name")
    )


def team_get(user: AnyUser, slug: str, needed: Role = Role.VIEWER) -> tuple[Team, Role]:
    """The team and the reader's role in it: 404 for outsiders, 403 when the role is short."""
    team = get_object_or_404(Team, slug=slug)
    return team, permissions.require_role(user, team, needed)


def membership_list(team: Team) -> QuerySet[Membership]:
    return team.memberships.select_related("user").order_by("user__username")


def membership_get(team: Team, membership_id: int) -> Membership:
    return get_object_or_404(membership_list(team), pk=membership_id)


def user_find(identifier: str) -> AnyUser | None:
    """A user by username or e-mail address, case-insensitively."""
    identifier = identifier.strip()
    if not identifier:
        return None
    users = get_user_model().objects.filter(is_active=True)
    return (
        users.filter(username__iexact=identifier).first()
        or users.filter(email__iexact=identifier).first()
    )


def environment_list() -> QuerySet[Environment]:
    return Environment.objects.select_related("mesos_secret_updated_by").order_by(
        "position", "name"
    )


def environment_get(slug: str) -> Environment:
    return get_object_or_404(environment_list(), slug=slug)


def config_list(environment: Environment, team: Team | None) -> QuerySet[ConfigValue]:
    values = ConfigValue.objects.filter(environment=environment).select_related(
        "updated_by", "team"
    )
    return (values.filter(team=team) if team else values.filter(team__isnull=True)).order_by("key")


def config_get(environment: Environment, team: Team | None, key: str) -> ConfigValue:
    return get_object_or_404(config_list(environment, team), key=key)


@dataclass(frozen=True)
class EffectiveValue:
    """One variable as a team's task sees it, with where it comes from."""

    key: str
    item: ConfigValue
    source: str  # "team" or "environment"
    overrides: ConfigValue | None  # the environment-wide value a team value replaces


def config_effective(environment: Environment, team: Team) -> list[EffectiveValue]:
    shared = {item.key: item for item in config_list(environment, None)}
    own = {item.key: item for item in config_list(environment, team)}
    rows = [EffectiveValue(key, item, "team", shared.get(key)) for key, item in own.items()]
    rows += [
        EffectiveValue(key, item, "environment", None)
        for key, item in shared.items()
        if key not in own
    ]
    return sorted(rows, key=lambda row: row.key)


# Audit


@dataclass(frozen=True)
class AuditFilters:
    actor: str = ""
    action: str = ""
    object_type: str = ""
    since: date | None = None
    until: date | None = None
    team: Team | None = None


def audit_visible(user: AnyUser) -> QuerySet[AuditEntry]:
    """Superusers see everything; team admins see the entries of the teams they administer."""
    entries = AuditEntry.objects.all()
    if permissions.is_superuser(user):
        return entries
    admin_of = permissions.teams_with_role(user, Role.ADMIN).values_list("pk", flat=True)
    return entries.filter(team_id__in=list(admin_of))


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_current_timezone())


def audit_list(user: AnyUser, filters: AuditFilters) -> QuerySet[AuditEntry]:
    entries = audit_visible(user)
    if filters.actor:
        # By the name recorded with each entry: what the reader sees, and it still works
        # for users deleted since.
        entries = entries.filter(actor_username=filters.actor)
    if filters.action:
        entries = entries.filter(action=filters.action)
    if filters.object_type:
        entries = entries.filter(object_type=filters.object_type)
    if filters.team is not None:
        entries = entries.filter(team_id=filters.team.pk)
    if filters.since:
        entries = entries.filter(at__gte=_day_start(filters.since))
    if filters.until:
        entries = entries.filter(at__lt=_day_start(filters.until + timedelta(days=1)))
    return entries
