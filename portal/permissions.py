"""Who may do what. Every view, API endpoint and later app asks here.

Rules:
- Per team: viewer reads, deployer releases/runs/scales, admin manages members,
  the team's configuration and secrets. A superuser is admin of every team.
- Team-owned things are invisible to outsiders: they get 404, never 403, so they cannot
  probe which names exist. Members lacking the role get 403.
- Environments are global: every signed-in user reads them. Creating and editing them,
  their Mesos credentials and their environment-wide configuration is for superusers
  (the operators who run the cluster); team admins manage only their team's overrides.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404
from rest_framework.permissions import BasePermission

from portal.models import Membership, Role, Team

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
    from rest_framework.request import Request
    from rest_framework.views import APIView

    AnyUser = AbstractBaseUser | AnonymousUser


def _signed_in(user: AnyUser) -> bool:
    return bool(user.is_authenticated and user.is_active)


def _uid(user: AnyUser) -> int:
    # Only called once _signed_in() holds, so there is a primary key.
    return int(user.pk or 0)


def is_superuser(user: AnyUser) -> bool:
    return _signed_in(user) and bool(getattr(user, "is_superuser", False))


def role_for(user: AnyUser, team: Team) -> Role | None:
    if not _signed_in(user):
        return None
    if is_superuser(user):
        return Role.ADMIN
    raw = Membership.objects.filter(team=team, user_id=_uid(user)).values_list("role", flat=True)
    found = raw.first()
    return Role(found) if found else None


def has_role(user: AnyUser, team: Team, needed: Role) -> bool:
    role = role_for(user, team)
    return role is not None and role.allows(needed)


def require_role(user: AnyUser, team: Team, needed: Role) -> Role:
    role = role_for(user, team)
    if role is None:
        raise Http404("No such team.")
    if not role.allows(needed):
        raise PermissionDenied(f"This needs the {needed.label.lower()} role in {team.name}.")
    return role


def teams_for(user: AnyUser) -> QuerySet[Team]:
    if is_superuser(user):
        return Team.objects.all()
    if not _signed_in(user):
        return Team.objects.none()
    # A subquery rather than a join, so callers can still count all of a team's members.
    return Team.objects.filter(
        pk__in=Membership.objects.filter(user_id=_uid(user)).values("team_id")
    )


def teams_with_role(user: AnyUser, needed: Role) -> QuerySet[Team]:
    if is_superuser(user):
        return Team.objects.all()
    if not _signed_in(user):
        return Team.objects.none()
    allowed = [role.value for role in Role if role.allows(needed)]
    mine = Membership.objects.filter(user_id=_uid(user), role__in=allowed).values("team_id")
    return Team.objects.filter(pk__in=mine)


def can_manage_environments(user: AnyUser) -> bool:
    return is_superuser(user)


def require_environment_manager(user: AnyUser) -> None:
    if not can_manage_environments(user):
        raise PermissionDenied("Only superusers manage environments.")


def can_manage_config(user: AnyUser, team: Team | None) -> bool:
    """Environment-wide values (team None) are for superusers; a team's for its admins."""
    if team is None:
        return is_superuser(user)
    return has_role(user, team, Role.ADMIN)


def require_config_manager(user: AnyUser, team: Team | None) -> None:
    if team is None:
        require_environment_manager(user)
    else:
        require_role(user, team, Role.ADMIN)


def can_see_audit(user: AnyUser) -> bool:
    return is_superuser(user) or teams_with_role(user, Role.ADMIN).exists()


class TeamRolePermission(BasePermission):
    """DRF: call view.check_object_permissions(request, obj) with a Team or a team-owned obj.

    Subclass and set `role`; outsiders get 404 and members lacking the role 403, like pages.
    """

    role: Role = Role.VIEWER

    def has_permission(self, request: Request, view: APIView) -> bool:
        return _signed_in(request.user)

    def has_object_permission(self, request: Request, view: APIView, obj: Any) -> bool:
        team = obj if isinstance(obj, Team) else obj.team
        require_role(request.user, team, self.role)
        return True


class IsTeamViewer(TeamRolePermission):
    role = Role.VIEWER


class IsTeamDeployer(TeamRolePermission):
    role = Role.DEPLOYER


class IsTeamAdmin(TeamRolePermission):
    role = Role.ADMIN


class IsSuperuser(BasePermission):
    message = "Only superusers may do this."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return is_superuser(request.user)
