"""Outgoing scheduler and operator calls, as the exact JSON Mesos parses.

Mesos silently drops keys it does not know (a typo turns "revive these roles" into
"revive every role"), so every key here is spelled as in scheduler.proto and checked
against recorded request bodies in the tests.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cluster.types import FrameworkInfo

Json = dict[str, Any]


class InvalidCall(ValueError):
    """A call the master would reject (or silently misread); never sent."""


def id_value(value: str) -> Json:
    return {"value": value}


def nanoseconds(seconds: float, what: str) -> Json:
    if not math.isfinite(seconds) or seconds < 0:
        raise InvalidCall(f"{what} must be a finite number of seconds >= 0, got {seconds!r}")
    return {"nanoseconds": round(seconds * 1_000_000_000)}


def framework_info_json(info: FrameworkInfo) -> Json:
    if not info.user or not info.name:
        raise InvalidCall("FrameworkInfo needs a user and a name")
    body: Json = {"user": info.user, "name": info.name}
    if info.id is not None:
        body["id"] = id_value(info.id)
    body["failover_timeout"] = float(info.failover_timeout)
    if info.checkpoint:
        body["checkpoint"] = True
    body.update(_roles_json(info))
    if info.capabilities:
        body["capabilities"] = [{"type": c} for c in info.capabilities]
    optional = {"hostname": info.hostname, "webui_url": info.webui_url, "principal": info.principal}
    body.update({key: value for key, value in optional.items() if value})
    if info.labels:
        body["labels"] = labels_json(info.labels)
    return body


def _roles_json(info: FrameworkInfo) -> Json:
    # The master answers 200 + ERROR for role/roles mix-ups; refuse them here instead.
    if info.multi_role:
        return {"roles": list(info.roles)}
    if len(info.roles) > 1:
        raise InvalidCall(f"several roles {info.roles} need the MULTI_ROLE capability")
    return {"role": info.roles[0]} if info.roles else {}


def labels_json(labels: Mapping[str, str]) -> Json:
    return {"labels": [{"key": k, "value": v} for k, v in labels.items()]}


def call_envelope(call_type: str, framework_id: str | None, body: Json | None = None) -> Json:
    """``{"type": T, "framework_id": ..., "<t>": body}``: the body key is the lower-cased type."""
    call: Json = {"type": call_type}
    if framework_id is not None:
        call["framework_id"] = id_value(framework_id)
    if body is not None:
        call[call_type.lower()] = body
    return call


def subscribe_call(info: FrameworkInfo, suppressed_roles: Sequence[str] = ()) -> Json:
    """A re-subscribe carries the id twice, top level and in framework_info, or 400."""
    subscribe: Json = {"framework_info": framework_info_json(info)}
    if suppressed_roles:
        subscribe["suppressed_roles"] = list(suppressed_roles)
    return call_envelope("SUBSCRIBE", info.id, subscribe)


def update_framework_call(info: FrameworkInfo, suppressed_roles: Sequence[str] = ()) -> Json:
    if info.id is None:
        raise InvalidCall("UPDATE_FRAMEWORK needs the framework id in FrameworkInfo.id")
    body: Json = {"framework_info": framework_info_json(info)}
    if suppressed_roles:
        body["suppressed_roles"] = list(suppressed_roles)
    return call_envelope("UPDATE_FRAMEWORK", info.id, body)


def _offer_ids(offer_ids: Sequence[str]) -> list[Json]:
    if not offer_ids:
        raise InvalidCall("at least one offer id is needed")
    if len(set(offer_ids)) != len(offer_ids):
        raise InvalidCall(f"an offer id may be used once per call: {list(offer_ids)}")
    return [id_value(o) for o in offer_ids]


def _filters(refuse_seconds: float | None) -> Json:
    if refuse_seconds is None:
        return {}
    if not math.isfinite(refuse_seconds) or refuse_seconds < 0:
        raise InvalidCall(f"refuse_seconds must be finite and >= 0, got {refuse_seconds!r}")
    return {"filters": {"refuse_seconds": float(refuse_seconds)}}


def launch_operation(task_infos: Sequence[Json]) -> Json:
    if not task_infos:
        raise InvalidCall("a LAUNCH needs at least one task")
    return {"type": "LAUNCH", "launch": {"task_infos": list(task_infos)}}


def accept_call(
    framework_id: str,
    offer_ids: Sequence[str],
    operations: Sequence[Json],
    refuse_seconds: float | None = None,
) -> Json:
    """Without refuse_seconds Mesos filters the unused rest of the offers for 5 s."""
    body: Json = {"offer_ids": _offer_ids(offer_ids), "operations": list(operations)}
    body.update(_filters(refuse_seconds))
    return call_envelope("ACCEPT", framework_id, body)


@dataclass(frozen=True, slots=True)
class EncodedCall:
    """A call already in its JSON text, for the hot path that builds it from pieces."""

    call_type: str
    body: bytes


def encode_call(call: Json) -> bytes:
    # allow_nan=False: a NaN would reach Mesos as a bare token its parser rejects.
    return json.dumps(call, separators=(",", ":"), allow_nan=False).encode("utf-8")


def accept_launch_encoded(
    framework_id: str,
    offer_ids: Sequence[str],
    task_infos: Sequence[str],
    refuse_seconds: float | None = None,
) -> EncodedCall:
    """accept_call with one LAUNCH whose TaskInfos are JSON texts already (each one built
    through task_info, see cluster.framework.taskinfo): spliced in, not parsed again."""
    if not task_infos:
        raise InvalidCall("a LAUNCH needs at least one task")
    mark = f"berth-task-infos-{uuid.uuid4().hex}"
    operation = {"type": "LAUNCH", "launch": {"task_infos": [mark]}}
    call = accept_call(framework_id, offer_ids, [operation], refuse_seconds)
    before, _, after = encode_call(call).partition(f'"{mark}"'.encode())
    return EncodedCall("ACCEPT", before + ",".join(task_infos).encode("utf-8") + after)


def decline_call(
    framework_id: str, offer_ids: Sequence[str], refuse_seconds: float | None = None
) -> Json:
    body: Json = {"offer_ids": _offer_ids(offer_ids)}
    body.update(_filters(refuse_seconds))
    return call_envelope("DECLINE", framework_id, body)


def kill_call(
    framework_id: str,
    task_id: str,
    agent_id: str | None = None,
    grace_seconds: float | None = None,
) -> Json:
    body: Json = {"task_id": id_value(task_id)}
    if agent_id is not None:
        body["agent_id"] = id_value(agent_id)
    if grace_seconds is not None:
        body["kill_policy"] = {"grace_period": nanoseconds(grace_seconds, "kill grace period")}
    return call_envelope("KILL", framework_id, body)


def acknowledge_call(framework_id: str, agent_id: str, task_id: str, uuid: str) -> Json:
    """``uuid`` is echoed byte for byte; it must decode to the 16 bytes Mesos expects."""
    try:
        raw = base64.b64decode(uuid, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidCall(f"status uuid {uuid!r} is not base64: {exc}") from exc
    if len(raw) != 16:
        raise InvalidCall(f"status uuid {uuid!r} decodes to {len(raw)} bytes, not 16")
    body = {"agent_id": id_value(agent_id), "task_id": id_value(task_id), "uuid": uuid}
    return call_envelope("ACKNOWLEDGE", framework_id, body)


def reconcile_call(framework_id: str, tasks: Sequence[tuple[str, str | None]] = ()) -> Json:
    """Explicit for (task_id, agent_id or None) pairs; implicit (all tasks) when empty."""
    entries = []
    for task_id, agent_id in tasks:
        entry: Json = {"task_id": id_value(task_id)}
        if agent_id is not None:
            entry["agent_id"] = id_value(agent_id)
        entries.append(entry)
    return call_envelope("RECONCILE", framework_id, {"tasks": entries})


def suppress_call(framework_id: str, roles: Sequence[str] = ()) -> Json:
    """No roles: every role of the framework (the body is left out, as Mesos reads it)."""
    return call_envelope("SUPPRESS", framework_id, {"roles": list(roles)} if roles else None)


def revive_call(framework_id: str, roles: Sequence[str] = ()) -> Json:
    """Also clears every refuse filter of those roles. The key is ``roles``: a ``role``
    key would be ignored and revive everything."""
    return call_envelope("REVIVE", framework_id, {"roles": list(roles)} if roles else None)


def teardown_call(framework_id: str) -> Json:
    return call_envelope("TEARDOWN", framework_id)


def shutdown_call(framework_id: str, executor_id: str, agent_id: str) -> Json:
    body = {"executor_id": id_value(executor_id), "agent_id": id_value(agent_id)}
    return call_envelope("SHUTDOWN", framework_id, body)


def message_call(framework_id: str, agent_id: str, executor_id: str, data: bytes) -> Json:
    body = {
        "agent_id": id_value(agent_id),
        "executor_id": id_value(executor_id),
        "data": base64.b64encode(data).decode("ascii"),
    }
    return call_envelope("MESSAGE", framework_id, body)


def operator_call(call_type: str, body: Json | None = None) -> Json:
    """A master or agent ``/api/v1`` call: ``{"type": T, "<t>": {...}}``."""
    return call_envelope(call_type, None, body)


def get_metrics_call(timeout_seconds: float | None = None) -> Json:
    if timeout_seconds is None:
        return operator_call("GET_METRICS")
    return operator_call("GET_METRICS", {"timeout": nanoseconds(timeout_seconds, "timeout")})
