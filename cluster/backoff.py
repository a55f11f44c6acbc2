"""Reconnect delays: capped exponential backoff with full jitter.

Full jitter (a uniform draw between 0 and the capped exponential) spreads the schedulers
of a cluster apart after a master failover, instead of having them all resubscribe in
lock-step (AWS architecture blog, "Exponential Backoff And Jitter").
"""

from __future__ import annotations

import random
from collections.abc import Callable

DEFAULT_BASE_SECONDS = 0.5
# mesos docs/scheduler-http-api.md suggests capping resubscription backoff around 15 s.
DEFAULT_CAP_SECONDS = 15.0


def backoff_ceiling(
    attempt: int, *, base: float = DEFAULT_BASE_SECONDS, cap: float = DEFAULT_CAP_SECONDS
) -> float:
    """The largest delay allowed before retry number ``attempt`` (0-based)."""
    if attempt < 0:
        raise ValueError(f"attempt must be >= 0, got {attempt}")
    if base <= 0 or cap <= 0:
        raise ValueError(f"base and cap must be positive, got base={base} cap={cap}")
    # 2**attempt overflows float for huge attempts; past 64 doublings the cap wins anyway.
    return min(cap, base * 2.0 ** min(attempt, 64))


def backoff_delay(
    attempt: int,
    *,
    base: float = DEFAULT_BASE_SECONDS,
    cap: float = DEFAULT_CAP_SECONDS,
    rand: Callable[[], float] = random.random,
) -> float:
    """A random delay in [0, backoff_ceiling(attempt)); ``rand`` returns [0, 1)."""
    return backoff_ceiling(attempt, base=base, cap=cap) * rand()
