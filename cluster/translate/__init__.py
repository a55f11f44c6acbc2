"""Berth types <-> Mesos v1 JSON. Pure: no network, no database.

- calls: outgoing scheduler and operator calls (snake_case, enum names, base64 bytes).
- tasks: TaskSpec -> TaskInfo, validated the way the master validates it.
- events: one stream record -> one typed event, never an exception.
- resources, operator: payload parsers shared by events, operator and agent replies.
"""

from __future__ import annotations

from cluster.translate._read import PayloadError
from cluster.translate.calls import (
    EncodedCall,
    InvalidCall,
    accept_call,
    accept_launch_encoded,
    acknowledge_call,
    call_envelope,
    decline_call,
    encode_call,
    framework_info_json,
    get_metrics_call,
    kill_call,
    launch_operation,
    message_call,
    operator_call,
    reconcile_call,
    revive_call,
    shutdown_call,
    subscribe_call,
    suppress_call,
    teardown_call,
    update_framework_call,
)
from cluster.translate.events import event_from_dict, parse_event, preview
from cluster.translate.tasks import InvalidTaskSpec, ports_to_ranges, task_info, validate_task_id

__all__ = [
    "EncodedCall",
    "InvalidCall",
    "InvalidTaskSpec",
    "PayloadError",
    "accept_call",
    "accept_launch_encoded",
    "acknowledge_call",
    "call_envelope",
    "decline_call",
    "encode_call",
    "event_from_dict",
    "framework_info_json",
    "get_metrics_call",
    "kill_call",
    "launch_operation",
    "message_call",
    "operator_call",
    "parse_event",
    "ports_to_ranges",
    "preview",
    "reconcile_call",
    "revive_call",
    "shutdown_call",
    "subscribe_call",
    "suppress_call",
    "task_info",
    "teardown_call",
    "update_framework_call",
    "validate_task_id",
]
