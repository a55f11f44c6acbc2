"""People, teams, roles and environments: the ground every other app stands on."""

from __future__ import annotations

import ipaddress
import re
from typing import Any, ClassVar
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone

SLUG = RegexValidator(r"^[a-z0-9][a-z0-9-]{0,39}$", "Use lower-case letters, digits and dashes.")
COLOUR = RegexValidator(r"^#[0-9a-fA-F]{6}$", "Use a colour like #1f883d.")
ENV_VAR_NAME = RegexValidator(
    r"^[A-Z_][A-Z0-9_]*$",
    "Use an environment variable name: upper-case letters, digits and _, "
    "not starting with a digit.",
)
# Mesos and libprocess read these from a task's environment; a value set here would
# silently change how the agent runs the task, so they are not configuration.
RESERVED_PREFIXES = ("MESOS_", "LIBPROCESS_")
_HOST = re.compile(
    r"^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$"
)
MAX_CONFIG_VALUE_LENGTH = 32_768


def validate_config_key(key: str) -> None:
    ENV_VAR_NAME(key)
    for prefix in RESERVED_PREFIXES:
        if key.startswith(prefix):
            raise ValidationError(
                f"Names starting with {prefix} are reserved for Mesos.", code="reserved"
            )


def validate_master_urls(raw: str) -> None:
    urls = [url.strip() for url in raw.split(",") if url.strip()]
    if not urls:
        raise ValidationError("Enter at least one master URL, like http://127.0.0.1:5050.")
    for url in urls:
        if not _is_master_url(url):
            raise ValidationError(
                f"{url!r} is not an http(s) URL like http://master.example:5050.", code="url"
            )


def _is_master_url(url: str) -> bool:
    # Masters often have bare hostnames (mesos-master-1), which URLValidator refuses.
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return False
    host = parts.hostname or ""
    return (
        parts.scheme in ("http", "https")
        and bool(_HOST.match(host) or _is_ip(host))
        and (port is None or 0 < port < 65536)
        and not parts.query
        and not parts.fragment
    )


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def validate_mesos_role(role: str) -> None:
    """Mesos's own role-name rules (roles.cpp): "*" or slash-separated components."""
    if role == "*":
        return
    if not role or role.startswith("/") or role.endswith("/"):
        raise ValidationError('A role is "*" or a name like dev or eng/web.', code="role")
    for part in role.split("/"):
        if part in ("", ".", "..") or part.startswith("-") or part == "*":
            raise ValidationError(
                f"Role component {part!r} is not allowed (empty, ., .., * or starting with -).",
                code="role",
            )
        if any(ch.isspace() or ch == "\\" or not ch.isprintable() for ch in part):
            raise ValidationError(
                "A role may not contain spaces, backslashes or control characters.", code="role"
            )


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
    master_urls = models.TextField(
        default="http://127.0.0.1:5050", validators=[validate_master_urls]
    )
    mesos_role = models.CharField(max_length=80, default="*", validators=[validate_mesos_role])
    colour = models.CharField(max_length=7, default="#1f883d", validators=[COLOUR])
    # Optional HTTP basic credentials for Mesos framework authentication; the password
    # is a secret and lives encrypted, see portal.crypto.
    mesos_principal = models.CharField(max_length=120, blank=True)
    mesos_secret_encrypted = models.BinaryField(blank=True, default=b"", editable=False)
    mesos_ca_bundle = models.TextField(blank=True, help_text="PEM CA bundle to verify TLS.")
    position = models.PositiveSmallIntegerField(default=0)
    mesos_secret_updated_at = models.DateTimeField(null=True, blank=True, editable=False)
    mesos_secret_updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
    )

    class Meta:
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name

    def master_url_list(self) -> list[str]:
        if settings.BERTH_MESOS_MASTER:
            return list(settings.BERTH_MESOS_MASTER)
        return [url.strip() for url in self.master_urls.split(",") if url.strip()]

    def has_mesos_secret(self) -> bool:
        return bool(self.mesos_secret_encrypted)


class ConfigValue(models.Model):
    """One environment variable for tasks in an environment, optionally for one team only.

    Team values override environment-wide ones (see portal.config). A secret keeps its value
    only in value_encrypted (Fernet, portal.crypto); its plain column stays empty.
    """

    environment = models.ForeignKey(
        Environment, on_delete=models.CASCADE, related_name="config_values"
    )
    team = models.ForeignKey(
        Team, on_delete=models.CASCADE, null=True, blank=True, related_name="config_values"
    )
    key = models.CharField(max_length=128, validators=[validate_config_key])
    is_secret = models.BooleanField(default=False)
    value = models.TextField(blank=True)
    value_encrypted = models.BinaryField(blank=True, default=b"", editable=False)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    updated_at = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["key"]
        constraints = [
            # NULL team means environment-wide; NULLs never collide in a plain unique
            # constraint, so each scope gets its own conditional one.
            models.UniqueConstraint(
                fields=["environment", "key"],
                condition=models.Q(team__isnull=True),
                name="configvalue_unique_env_key",
            ),
            models.UniqueConstraint(
                fields=["environment", "team", "key"],
                condition=models.Q(team__isnull=False),
                name="configvalue_unique_env_team_key",
            ),
            models.CheckConstraint(
                condition=models.Q(is_secret=False) | models.Q(value=""),
                name="configvalue_secret_has_no_plain_value",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.scope_label()})"

    def scope_label(self) -> str:
        return f"{self.environment} / {self.team}" if self.team_id else f"{self.environment}"


class AuditEntryImmutableError(Exception):
    pass


class AuditEntryQuerySet(models.QuerySet["AuditEntry"]):
    def update(self, **kwargs: Any) -> int:
        raise AuditEntryImmutableError("Audit entries are append-only.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AuditEntryImmutableError("Audit entries are append-only.")


class AuditEntry(models.Model):
    """Who did what to which object, when and from where. Append-only.

    actor and team keep their ids without a database constraint, so deleting a user or a
    team never rewrites history; actor_username keeps the name as it was.
    """

    at = models.DateTimeField(default=timezone.now, editable=False)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        null=True,
        blank=True,
        related_name="+",
    )
    actor_username = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=64)
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=200, blank=True)
    team = models.ForeignKey(
        Team,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        null=True,
        blank=True,
        related_name="+",
    )
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    diff = models.JSONField(default=dict, blank=True)

    objects: ClassVar[models.Manager[AuditEntry]] = AuditEntryQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name_plural = "audit entries"
        # Keyset pagination walks (at, id); the prefixed ones serve the page's filters.
        indexes = [
            models.Index(fields=["at", "id"], name="audit_at_id"),
            models.Index(fields=["team", "at", "id"], name="audit_team_at_id"),
            models.Index(fields=["actor_username", "at", "id"], name="audit_actorname_at_id"),
            models.Index(fields=["action", "at", "id"], name="audit_action_at_id"),
            models.Index(fields=["object_type", "at", "id"], name="audit_type_at_id"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor_username or 'system'} {self.action}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AuditEntryImmutableError("Audit entries are append-only.")
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AuditEntryImmutableError("Audit entries are append-only.")
