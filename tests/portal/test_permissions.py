from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.http import Http404

from portal import permissions
from portal.models import Role
from tests.factories import MembershipFactory, TeamFactory

pytestmark = pytest.mark.django_db


def test_role_for_reads_the_membership(team, viewer, deployer, team_admin, outsider) -> None:
    assert permissions.role_for(viewer, team) == Role.VIEWER
    assert permissions.role_for(deployer, team) == Role.DEPLOYER
    assert permissions.role_for(team_admin, team) == Role.ADMIN
    assert permissions.role_for(outsider, team) is None
    assert permissions.role_for(AnonymousUser(), team) is None


def test_a_superuser_is_admin_of_every_team(team, superuser) -> None:
    assert permissions.role_for(superuser, team) == Role.ADMIN
    assert list(permissions.teams_for(superuser)) == [team]


def test_an_inactive_member_has_no_role(team, viewer) -> None:
    viewer.is_active = False
    viewer.save()
    assert permissions.role_for(viewer, team) is None


def test_require_role_hides_the_team_from_outsiders(team, outsider) -> None:
    with pytest.raises(Http404):
        permissions.require_role(outsider, team, Role.VIEWER)


def test_require_role_forbids_members_lacking_the_role(team, viewer, deployer) -> None:
    with pytest.raises(PermissionDenied, match="deployer"):
        permissions.require_role(viewer, team, Role.DEPLOYER)
    assert permissions.require_role(deployer, team, Role.DEPLOYER) == Role.DEPLOYER


def test_teams_for_lists_only_the_users_teams(team, viewer, outsider) -> None:
    assert list(permissions.teams_for(viewer)) == [team]
    assert team not in permissions.teams_for(outsider)
    assert not permissions.teams_for(AnonymousUser()).exists()


def test_teams_with_role_filters_by_rank(team, deployer) -> None:
    other = TeamFactory()
    MembershipFactory(team=other, user=deployer, role=Role.ADMIN)
    assert list(permissions.teams_with_role(deployer, Role.ADMIN)) == [other]
    assert set(permissions.teams_with_role(deployer, Role.DEPLOYER)) == {team, other}


def test_environment_wide_config_is_for_superusers_and_team_config_for_team_admins(
    team, team_admin, deployer, superuser
) -> None:
    assert permissions.can_manage_config(superuser, None)
    assert not permissions.can_manage_config(team_admin, None)
    assert permissions.can_manage_config(team_admin, team)
    assert not permissions.can_manage_config(deployer, team)


def test_the_drf_permission_hides_teams_from_outsiders_and_forbids_short_roles(
    team, viewer, deployer, outsider
) -> None:
    from rest_framework.test import APIRequestFactory

    def check(user):
        request = APIRequestFactory().get("/")
        request.user = user
        return permissions.IsTeamDeployer().has_object_permission(request, None, team)

    assert check(deployer) is True
    with pytest.raises(PermissionDenied):
        check(viewer)
    with pytest.raises(Http404):
        check(outsider)
    anonymous = APIRequestFactory().get("/")
    anonymous.user = AnonymousUser()
    assert permissions.IsTeamViewer().has_permission(anonymous, None) is False
