"""Recording audit entries: who did what, from where, with secrets left out.

Every action that changes something calls `record` with an `AuditContext` built from the
request (or `AuditContext.system()` for commands and background work).
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import models
from django.http import HttpRequest

from portal.models import AuditEntry, Team

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

logger = logging.getLogger("berth.audit")

REDACTED = "[redacted]"
# Offered as suggestions by the audit page's filter; other apps record their own too.
KNOWN_ACTIONS = (
    "config.set",
    "config.delete",
    "secret.set",
    "secret.delete",
    "environment.create",
    "environment.update",
    "environment.credentials",
    "team.create",
    "membership.add",
    "membership.role",
    "membership.remove",
    "encryption.rotate",
    "encryption.drop_old_keys",
    "user.create",
)
KNOWN_OBJECT_TYPES = ("configvalue", "environment", "team", "membership", "user", "encryption")
_MAX_VALUE = 200


@dataclass(frozen=True)
class AuditContext:
    user: AbstractBaseUser | None
    remote_addr: str | None = None

    @classmethod
    def system(cls) -> AuditContext:
        return cls(user=None)

    @classmethod
    def from_request(cls, request: HttpRequest) -> AuditContext:
        user: AbstractBaseUser | AnonymousUser = request.user
        return cls(user=user if user.is_authenticated else None, remote_addr=client_ip(request))


def _valid_ip(raw: str) -> str | None:
    try:
        return str(ipaddress.ip_address(raw.strip()))
    except ValueError:
        return None


def client_ip(request: HttpRequest) -> str | None:
    """The client's address, trusting X-Forwarded-For only behind configured proxies.

    With BERTH_TRUSTED_PROXIES = N, the N proxies in front of Berth each appended the
    address they saw; the client is the Nth entry from the right. Anything further left
    was written by the client itself and proves nothing.
    """
    trusted = int(getattr(settings, "BERTH_TRUSTED_PROXIES", 0))
    direct = _valid_ip(request.META.get("REMOTE_ADDR", ""))
    if trusted <= 0:
        return direct
    hops = [hop for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    if len(hops) < trusted:
        return direct
    return _valid_ip(hops[-trusted]) or direct


def _short(value: Any) -> Any:
    if isinstance(value, str) and len(value) > _MAX_VALUE:
        return value[:_MAX_VALUE] + "..."
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return _short(str(value))


def changes(
    before: dict[str, Any], after: dict[str, Any], *, secret: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """{field: [old, new]} for fields that differ; secret fields say only that they changed."""
    diff: dict[str, Any] = {}
    for name in sorted(before.keys() | after.keys()):
        old, new = before.get(name), after.get(name)
        if old == new:
            continue
        diff[name] = REDACTED if name in secret else [_short(old), _short(new)]
    return diff


def diff_lines(diff: dict[str, Any]) -> list[str]:
    """One readable line per changed field, for pages."""
    lines = []
    for name, change in diff.items():
        if isinstance(change, list) and len(change) == 2:
            old, new = ("-" if value is None else value for value in change)
            lines.append(f"{name}: {old} → {new}")
        else:
            lines.append(f"{name}: {change}")
    return lines


def record(
    ctx: AuditContext,
    *,
    action: str,
    obj: models.Model | None = None,
    object_type: str = "",
    object_id: str = "",
    object_repr: str = "",
    team: Team | None = None,
    diff: dict[str, Any] | None = None,
) -> AuditEntry:
    if obj is not None:
        object_type = object_type or obj._meta.model_name or ""
        object_id = object_id or str(obj.pk)
        object_repr = object_repr or str(obj)
    user = ctx.user
    entry = AuditEntry.objects.create(
        actor_id=user.pk if user is not None else None,
        actor_username=user.get_username() if user is not None else "",
        action=action,
        object_type=object_type,
        object_id=object_id[:64],
        object_repr=object_repr[:200],
        team=team,
        remote_addr=ctx.remote_addr,
        diff=diff or {},
    )
    # Names only: values (and so secrets) stay out of logs even at INFO.
    logger.info(
        "%s by %s on %s %s", action, entry.actor_username or "system", object_type, object_repr
    )
    return entry
