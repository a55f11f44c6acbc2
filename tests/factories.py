"""factory_boy factories for the portal's models."""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model

from portal.models import ConfigValue, Environment, Membership, Role, Team


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.test")
    password = factory.django.Password("pw")


class SuperuserFactory(UserFactory):
    username = factory.Sequence(lambda n: f"root{n}")
    is_staff = True
    is_superuser = True


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team

    name = factory.Sequence(lambda n: f"Team {n}")
    slug = factory.Sequence(lambda n: f"team-{n}")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    team = factory.SubFactory(TeamFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.VIEWER


class EnvironmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Environment

    name = factory.Sequence(lambda n: f"env{n}")
    slug = factory.Sequence(lambda n: f"env-{n}")
    mesos_role = factory.Sequence(lambda n: f"role{n}")
    colour = "#0969da"
    master_urls = "http://127.0.0.1:5050"
    position = factory.Sequence(lambda n: 10 + n)


class ConfigValueFactory(factory.django.DjangoModelFactory):
    """Plain values only: secrets go through portal.actions.config_value_set."""

    class Meta:
        model = ConfigValue

    environment = factory.SubFactory(EnvironmentFactory)
    team = None
    key = factory.Sequence(lambda n: f"VAR_{n}")
    value = "plain"
