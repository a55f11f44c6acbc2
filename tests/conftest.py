"""Fixtures shared by every test package."""

from __future__ import annotations

# People and teams (portal). Each role fixture is a User with that role in `team`.
import collections.abc as _abc

import pytest
from django.test import Client
from rest_framework.test import APIClient

from portal.models import Role
from tests import factories as _factories


@pytest.fixture
def team(db):
    return _factories.TeamFactory(name="Payments", slug="payments")


def _member(team, role: Role, username: str):
    user = _factories.UserFactory(username=username)
    _factories.MembershipFactory(team=team, user=user, role=role)
    return user


@pytest.fixture
def user(db):
    """Signed-in somebody in no team."""
    return _factories.UserFactory(username="nobody")


@pytest.fixture
def outsider(db):
    """In another team, not in `team`."""
    other = _factories.TeamFactory(name="Elsewhere", slug="elsewhere")
    return _member(other, Role.ADMIN, "outsider")


@pytest.fixture
def viewer(team):
    return _member(team, Role.VIEWER, "viewer")


@pytest.fixture
def deployer(team):
    return _member(team, Role.DEPLOYER, "deployer")


@pytest.fixture
def team_admin(team):
    return _member(team, Role.ADMIN, "teamadmin")


@pytest.fixture
def superuser(db):
    return _factories.SuperuserFactory(username="root")


@pytest.fixture
def client_for() -> _abc.Callable[..., Client]:
    """client_for(user) -> a django.test.Client signed in as user (None: anonymous)."""

    def make(who=None) -> Client:
        client = Client()
        if who is not None:
            client.force_login(who)
        return client

    return make


@pytest.fixture
def api_client_for() -> _abc.Callable[..., APIClient]:
    """api_client_for(user) -> a DRF APIClient authenticated as user (None: anonymous)."""

    def make(who=None) -> APIClient:
        client = APIClient()
        if who is not None:
            client.force_authenticate(who)
        return client

    return make


# The development cluster: a real `python -m devcluster` process (tests/devcluster_fixture.py).
# Extra command-line options come from @pytest.mark.devcluster("--agents", "2", ...).


@pytest.fixture
def devcluster(request, tmp_path):
    """A devcluster of its own for one test; stopped (terminate, then kill) afterwards."""
    from tests.devcluster_fixture import DevCluster

    marker = request.node.get_closest_marker("devcluster")
    with DevCluster(*(marker.args if marker else ()), work_dir=tmp_path / "devcluster") as cluster:
        yield cluster


@pytest.fixture(scope="module")
def devcluster_module(request, tmp_path_factory):
    """One devcluster shared by a module's tests: each test should subscribe its own framework."""
    from tests.devcluster_fixture import DevCluster

    marker = request.node.get_closest_marker("devcluster")
    work_dir = tmp_path_factory.mktemp("devcluster")
    with DevCluster(*(marker.args if marker else ()), work_dir=work_dir) as cluster:
        yield cluster
