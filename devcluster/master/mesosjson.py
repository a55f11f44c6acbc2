"""JSON the way Mesos writes it: compact, int64 as numbers, proto2 defaults where shown.

Small constructors for the shapes every module repeats (ids, times) live here too, so
that the wire format is spelled in one place.
"""

from __future__ import annotations

import json
import time
from typing import Any

from devcluster.interfaces import TERMINAL_STATES, Json

_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=True)


# Frameworks without PARTITION_AWARE see TASK_LOST in place of each of these.
PARTITION_AWARE_STATES = frozenset(
    {"TASK_DROPPED", "TASK_UNREACHABLE", "TASK_GONE", "TASK_GONE_BY_OPERATOR", "TASK_UNKNOWN"}
)


def dumps(value: Any) -> str:
    return _ENCODER.encode(value)


def dumps_bytes(value: Any) -> bytes:
    return _ENCODER.encode(value).encode("utf-8")


def value_of(wrapper: Any) -> str | None:
    """The string inside an id wrapper such as {"value": "..."}; None when absent."""
    if isinstance(wrapper, dict):
        inner = wrapper.get("value")
        return inner if isinstance(inner, str) else None
    return None


def wrap(value: str) -> Json:
    return {"value": value}


def nanos(seconds: float) -> Json:
    """A v1 TimeInfo/DurationInfo."""
    return {"nanoseconds": int(seconds * 1e9)}


def now() -> float:
    return time.time()


def scalar(value: float) -> float:
    """Mesos keeps scalars in fixed point with three decimals."""
    return round(float(value) + 0.0, 3)


def is_terminal(state: str) -> bool:
    return state in TERMINAL_STATES


def for_framework(state: str, partition_aware: bool) -> str:
    """The state a framework sees: TASK_LOST stands in for the partition-aware states."""
    if partition_aware or state not in PARTITION_AWARE_STATES:
        return state
    return "TASK_LOST"


def event(kind: str, body: Json | None = None) -> Json:
    if body is None:
        return {"type": kind}
    return {"type": kind, kind.lower(): body}
