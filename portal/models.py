"""People, teams, roles and environments: the ground every other app stands on."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models

SLUG = RegexValidator(r"^[a-z0-9][a-z0-9-]{0,39}$", "Use lower-case letters, digits and dashes.")
COLOUR = RegexValidator(r"^#[0-9a-fA-F]{6}$", "Use a colour like #1f883d.")


class Role(models.TextChoices):
    # Ordered by power: each role can do everything the ones before it can.
    VIEWER = "viewer", "Viewer"
    DEPLOYER = "deployer", "Deployer"
    ADMIN = "admin", "Admin"

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank


class Team(models.Model):
    name = models.CharField(max_length=80, unique=True)
    slug = models.SlugField(max_length=40, unique=True, validators=[SLUG])
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "user"], name="membership_unique_team_user")
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.team} as {self.role}"


class Environment(models.Model):
    """A named slice of the cluster (dev, staging, prod), told apart by its Mesos role."""

    name = models.CharField(max_length=40, unique=True)
    slug = models.SlugField(max_length=40, unique=True, validators=[SLUG])
    # Comma-separated master URLs; several for an HA cluster. BERTH_MESOS_MASTER overrides.
    master_urls = models.TextField(default="http://127.0.0.1:5050")
    mesos_role = models.CharField(max_length=80, default="*")
    colour = models.CharField(max_length=7, default="#1f883d", validators=[COLOUR])
    # Optional HTTP basic credentials for Mesos framework authentication; the password
    # is a secret and lives encrypted, see portal.crypto.
    mesos_principal = models.CharField(max_length=120, blank=True)
    mesos_secret_encrypted = models.BinaryField(blank=True, default=b"", editable=False)
    mesos_ca_bundle = models.TextField(blank=True, help_text="PEM CA bundle to verify TLS.")
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name

    def master_url_list(self) -> list[str]:
        if settings.BERTH_MESOS_MASTER:
            return list(settings.BERTH_MESOS_MASTER)
        return [url.strip() for url in self.master_urls.split(",") if url.strip()]
