"""Every write to teams, memberships, environments, configuration and secrets.

Callers check permissions first (portal.permissions); these functions validate, write and
audit, in one transaction so no change lands without its audit entry. Bad input raises
ValidationError keyed by field, which forms and serializers show beside the field. Secret
values never enter an audit diff or a log line, and functions that hold one are
@sensitive_variables so error reports leave their locals out too.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify
from django.views.decorators.debug import sensitive_variables

from portal import audit, crypto
from portal.audit import AuditContext
from portal.models import (
    MAX_CONFIG_VALUE_LENGTH,
    ConfigValue,
    Environment,
    Membership,
    Role,
    Team,
    validate_config_key,
)

ENVIRONMENT_EDITABLE = (
    "name",
    "slug",
    "master_urls",
    "mesos_role",
    "colour",
    "position",
    "mesos_ca_bundle",
)


def _user_id(ctx: AuditContext) -> int | None:
    return ctx.user.pk if ctx.user is not None else None


# Their pages' URLs would shadow an object with one of these slugs.
RESERVED_SLUGS = frozenset({"new"})


def _clean(obj: Any, **kwargs: Any) -> None:
    if getattr(obj, "slug", None) in RESERVED_SLUGS:
        raise ValidationError({"slug": f"{obj.slug!r} is reserved; pick another."})
    obj.full_clean(**kwargs)


# Teams and members


@transaction.atomic
def team_create(*, ctx: AuditContext, name: str, slug: str) -> Team:
    team = Team(name=name.strip(), slug=slug.strip())
    _clean(team)
    team.save()
    audit.record(ctx, action="team.create", obj=team, team=team, diff={"name": [None, team.name]})
    return team


def _admin_count(team: Team) -> int:
    return Membership.objects.filter(team=team, role=Role.ADMIN).count()


@transaction.atomic
def membership_add(
    *, ctx: AuditContext, team: Team, user: AbstractBaseUser, role: Role
) -> Membership:
    if Membership.objects.filter(team=team, user_id=user.pk).exists():
        raise ValidationError({"username": f"{user.get_username()} is already in {team.name}."})
    try:
        with transaction.atomic():
            membership = Membership.objects.create(team=team, user_id=user.pk, role=role)
    except IntegrityError:
        raise ValidationError(
            {"username": f"{user.get_username()} is already in {team.name}."}
        ) from None
    audit.record(
        ctx,
        action="membership.add",
        obj=membership,
        team=team,
        diff={"user": [None, user.get_username()], "role": [None, role.value]},
    )
    return membership


def _guard_last_admin(membership: Membership, message: str) -> None:
    # Without an admin nobody but a superuser could manage the team again.
    if membership.role == Role.ADMIN and _admin_count(membership.team) <= 1:
        raise ValidationError({"role": message})


@transaction.atomic
def membership_set_role(*, ctx: AuditContext, membership: Membership, role: Role) -> Membership:
    old = membership.role
    if old == role:
        return membership
    with transaction.atomic():
        Team.objects.select_for_update().filter(pk=membership.team_id).first()
        _guard_last_admin(membership, "A team keeps at least one admin: promote someone first.")
        membership.role = role
        membership.save(update_fields=["role"])
    audit.record(
        ctx,
        action="membership.role",
        obj=membership,
        team=membership.team,
        diff={"role": [old, role.value]},
    )
    return membership


@transaction.atomic
def membership_remove(*, ctx: AuditContext, membership: Membership) -> None:
    with transaction.atomic():
        Team.objects.select_for_update().filter(pk=membership.team_id).first()
        _guard_last_admin(membership, "A team keeps at least one admin: promote someone first.")
        username = membership.user.get_username()
        pk = membership.pk
        membership.delete()
    audit.record(
        ctx,
        action="membership.remove",
        object_type="membership",
        object_id=str(pk),
        object_repr=f"{username} in {membership.team}",
        team=membership.team,
        diff={"user": [username, None], "role": [membership.role, None]},
    )


# Environments


def _environment_snapshot(environment: Environment) -> dict[str, Any]:
    return {name: getattr(environment, name) for name in ENVIRONMENT_EDITABLE}


@transaction.atomic
def environment_create(*, ctx: AuditContext, data: dict[str, Any]) -> Environment:
    environment = Environment(**{k: v for k, v in data.items() if k in ENVIRONMENT_EDITABLE})
    _clean(environment)
    environment.save()
    audit.record(
        ctx,
        action="environment.create",
        obj=environment,
        diff=audit.changes({}, _environment_snapshot(environment)),
    )
    return environment


@transaction.atomic
def environment_update(
    *, ctx: AuditContext, environment: Environment, data: dict[str, Any]
) -> Environment:
    before = _environment_snapshot(environment)
    for name in ENVIRONMENT_EDITABLE:
        if name in data:
            setattr(environment, name, data[name])
    _clean(environment)
    diff = audit.changes(before, _environment_snapshot(environment))
    if not diff:
        return environment
    environment.save()
    audit.record(ctx, action="environment.update", obj=environment, diff=diff)
    return environment


@sensitive_variables()
@transaction.atomic
def environment_credentials_set(
    *,
    ctx: AuditContext,
    environment: Environment,
    principal: str,
    secret: str = "",
    clear_secret: bool = False,
) -> Environment:
    """Set the Mesos principal; a blank secret keeps the stored one unless clear_secret."""
    before = {"principal": environment.mesos_principal, "secret": environment.has_mesos_secret()}
    environment.mesos_principal = principal.strip()
    secret_changed = bool(secret) or (clear_secret and environment.has_mesos_secret())
    if secret:
        environment.mesos_secret_encrypted = crypto.encrypt(secret)
    elif clear_secret:
        environment.mesos_secret_encrypted = b""
    if secret_changed:
        environment.mesos_secret_updated_at = timezone.now()
        environment.mesos_secret_updated_by_id = _user_id(ctx)
    _clean(environment)
    environment.save()
    diff = audit.changes(before, {"principal": environment.mesos_principal, "secret": None})
    diff.pop("secret", None)
    if secret_changed:
        diff["secret"] = "[cleared]" if clear_secret and not secret else audit.REDACTED
    audit.record(ctx, action="environment.credentials", obj=environment, diff=diff)
    return environment


# Configuration and secrets


def _validate_value(value: str) -> None:
    if "\x00" in value:
        raise ValidationError({"value": "A value cannot contain a NUL character."})
    if len(value) > MAX_CONFIG_VALUE_LENGTH:
        raise ValidationError(
            {"value": f"Keep values under {MAX_CONFIG_VALUE_LENGTH:,} characters."}
        )


def _validate_key(key: str) -> None:
    try:
        validate_config_key(key)
    except ValidationError as error:
        raise ValidationError({"key": error.messages}) from None


def _config_action(is_secret: bool, verb: str) -> str:
    return f"{'secret' if is_secret else 'config'}.{verb}"


@sensitive_variables()
def _store_value(item: ConfigValue, *, value: str, is_secret: bool, created: bool) -> bool:
    """Write value into item; returns whether the value itself changed."""
    if is_secret:
        keep = value == "" and item.is_secret and not created
        if value == "" and not keep:
            raise ValidationError({"value": "Enter the secret's value."})
        if not keep:
            item.value_encrypted = crypto.encrypt(value)
        item.value = ""
        item.is_secret = True
        return not keep
    if item.is_secret and value == "":
        raise ValidationError(
            {"value": "Enter a value: a secret's old value is never shown, so it cannot stay."}
        )
    changed = item.is_secret or item.value != value or created
    item.value, item.value_encrypted, item.is_secret = value, b"", False
    return changed


def _config_diff(
    before: ConfigValue | None, after: ConfigValue, value_changed: bool
) -> dict[str, Any]:
    was_secret = before is not None and before.is_secret
    old_value = before.value if before is not None else None
    # On creation only a secret says so; "secret: False" on every new value is noise.
    diff = (
        audit.changes({"secret": was_secret}, {"secret": after.is_secret})
        if before is not None or after.is_secret
        else {}
    )
    if value_changed:
        # A secret's value (old or new) never enters the diff.
        diff["value"] = (
            audit.REDACTED
            if was_secret or after.is_secret
            else audit.changes({"v": old_value}, {"v": after.value})["v"]
        )
    return diff


@sensitive_variables()
@transaction.atomic
def config_value_set(
    *,
    ctx: AuditContext,
    environment: Environment,
    team: Team | None,
    key: str,
    value: str,
    is_secret: bool,
) -> ConfigValue:
    """Create or change one variable. For an existing secret a blank value keeps the old one."""
    key = key.strip()
    _validate_key(key)
    _validate_value(value)
    try:
        with transaction.atomic():
            item, before, changed = _config_upsert(environment, team, key, value, is_secret, ctx)
    except IntegrityError:
        # Someone created the same key in the same scope a moment ago.
        raise ValidationError({"key": f"{key} was just set by someone else; try again."}) from None
    if before is not None and not changed and before.is_secret == item.is_secret:
        return item
    audit.record(
        ctx,
        action=_config_action(is_secret, "set"),
        obj=item,
        object_repr=f"{key} in {item.scope_label()}",
        team=team,
        diff=_config_diff(before, item, changed),
    )
    return item


@sensitive_variables()
def _config_upsert(
    environment: Environment,
    team: Team | None,
    key: str,
    value: str,
    is_secret: bool,
    ctx: AuditContext,
) -> tuple[ConfigValue, ConfigValue | None, bool]:
    scope = ConfigValue.objects.select_for_update().filter(environment=environment, key=key)
    existing = scope.filter(team=team).first() if team else scope.filter(team=None).first()
    before = None
    if existing is not None:
        before = ConfigValue(is_secret=existing.is_secret, value=existing.value)
    item = existing or ConfigValue(environment=environment, team=team, key=key)
    changed = _store_value(item, value=value, is_secret=is_secret, created=existing is None)
    if before is not None and not changed and before.is_secret == item.is_secret:
        return item, before, changed
    item.updated_by_id = _user_id(ctx)
    item.updated_at = timezone.now()
    item.save()
    return item, before, changed


@transaction.atomic
def config_value_delete(*, ctx: AuditContext, item: ConfigValue) -> None:
    pk, team, label = item.pk, item.team, item.scope_label()
    item.delete()
    audit.record(
        ctx,
        action=_config_action(item.is_secret, "delete"),
        object_type="configvalue",
        object_id=str(pk),
        object_repr=f"{item.key} in {label}",
        team=team,
        diff={"key": [item.key, None]},
    )


def secrets_reencrypt(*, ctx: AuditContext, batch_size: int = 500) -> int:
    """Re-encrypt every stored secret with the newest key; returns how many were rewritten."""
    count = 0
    with transaction.atomic():
        secrets_qs = ConfigValue.objects.select_for_update().filter(is_secret=True).order_by("pk")
        batch: list[ConfigValue] = []
        for item in secrets_qs.iterator(chunk_size=batch_size):
            item.value_encrypted = crypto.reencrypt(item.value_encrypted)
            batch.append(item)
            if len(batch) >= batch_size:
                count += _flush(batch)
        count += _flush(batch)
        for environment in Environment.objects.select_for_update().exclude(
            mesos_secret_encrypted=b""
        ):
            environment.mesos_secret_encrypted = crypto.reencrypt(
                environment.mesos_secret_encrypted
            )
            environment.save(update_fields=["mesos_secret_encrypted"])
            count += 1
    audit.record(
        ctx,
        action="encryption.rotate",
        object_type="encryption",
        object_repr="secrets at rest",
        diff={"secrets_reencrypted": count, "keys": crypto.key_count()},
    )
    return count


def _flush(batch: list[ConfigValue]) -> int:
    ConfigValue.objects.bulk_update(batch, ["value_encrypted"])
    done = len(batch)
    batch.clear()
    return done


# People


def admin_ensure(
    *, ctx: AuditContext, username: str, email: str, team_name: str = "Default"
) -> tuple[User, str] | None:
    """Create a first superuser when none exists; returns it with its one-time password."""
    user_model = get_user_model()
    if user_model.objects.filter(is_superuser=True).exists():
        return None
    password = secrets.token_urlsafe(18)
    with transaction.atomic():
        user = user_model.objects.create_superuser(
            username=username, email=email, password=password
        )
        audit.record(ctx, action="user.create", obj=user, diff={"superuser": [None, True]})
        if not Team.objects.exists():
            team = team_create(ctx=ctx, name=team_name, slug=slugify(team_name)[:40])
            membership_add(ctx=ctx, team=team, user=user, role=Role.ADMIN)
    return user, password
