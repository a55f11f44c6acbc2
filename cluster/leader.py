"""At most one active framework process per installation.

A lease row in the database rather than a Redis lock: the embedded default has no Redis,
and the database is already what every framework replica must reach. The holder renews
well inside the lease; a standby polls and takes over once the lease has expired.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from cluster.models import LeaderLease

FRAMEWORK_LEASE = "framework"


def lease_acquire(*, name: str, holder: str, ttl: timedelta) -> bool:
    """Take or renew the lease; False when another live holder has it."""
    now = timezone.now()
    renewed = (
        LeaderLease.objects.filter(name=name)
        .filter(Q(holder=holder) | Q(expires_at__lt=now))
        .update(holder=holder, expires_at=now + ttl)
    )
    if renewed:
        return True
    try:
        # The unique name makes two standbys racing for a fresh lease safe: one insert wins.
        with transaction.atomic():
            LeaderLease.objects.create(name=name, holder=holder, expires_at=now + ttl)
    except IntegrityError:
        return False
    return True


def lease_release(*, name: str, holder: str) -> None:
    LeaderLease.objects.filter(name=name, holder=holder).delete()


def lease_holder(*, name: str) -> str | None:
    lease = LeaderLease.objects.filter(name=name, expires_at__gte=timezone.now()).first()
    return lease.holder if lease else None
