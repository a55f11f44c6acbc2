"""One RecordIO record -> one typed scheduler event. Never raises: a record that cannot
be understood becomes an UnknownEvent or MalformedEvent for the framework to log."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from cluster.translate._read import (
    PayloadError,
    as_obj,
    obj,
    objs,
    opt_bytes,
    opt_integer,
    opt_number,
    opt_obj,
    opt_text,
    opt_value_id,
    text,
    value_id,
)
from cluster.translate.resources import (
    parse_inverse_offer,
    parse_master_info,
    parse_offer,
    parse_task_status,
)
from cluster.types import (
    ErrorEvent,
    Event,
    FailureEvent,
    HeartbeatEvent,
    InverseOffersEvent,
    MalformedEvent,
    MessageEvent,
    OffersEvent,
    OperationUpdateEvent,
    RescindEvent,
    RescindInverseOfferEvent,
    SubscribedEvent,
    UnknownEvent,
    UpdateEvent,
)

logger = logging.getLogger(__name__)

RAW_PREVIEW_CHARS = 500


def preview(raw: bytes | str, limit: int = RAW_PREVIEW_CHARS) -> str:
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", errors="replace")
    return raw if len(raw) <= limit else raw[:limit] + f"... ({len(raw)} chars)"


def _subscribed(body: dict[str, Any], where: str) -> SubscribedEvent:
    master = opt_obj(body, "master_info", where)
    return SubscribedEvent(
        framework_id=value_id(body, "framework_id", where),
        heartbeat_interval_seconds=opt_number(body, "heartbeat_interval_seconds", where),
        master=None if master is None else parse_master_info(master, f"{where}.master_info"),
    )


def _offers(body: dict[str, Any], where: str) -> OffersEvent:
    return OffersEvent(tuple(parse_offer(o, p) for p, o in objs(body, "offers", where)))


def _inverse_offers(body: dict[str, Any], where: str) -> InverseOffersEvent:
    pairs = objs(body, "inverse_offers", where)
    return InverseOffersEvent(tuple(parse_inverse_offer(o, p) for p, o in pairs))


def _operation_update(body: dict[str, Any], where: str) -> OperationUpdateEvent:
    status = obj(body, "status", where)
    where = f"{where}.status"
    # Here uuid is a UUID message {"value": b64}, unlike TaskStatus.uuid (plain bytes).
    return OperationUpdateEvent(
        operation_id=opt_value_id(status, "operation_id", where),
        state=text(status, "state", where),
        uuid=opt_value_id(status, "uuid", where),
        agent_id=opt_value_id(status, "agent_id", where),
        resource_provider_id=opt_value_id(status, "resource_provider_id", where),
        message=opt_text(status, "message", where),
    )


def _message(body: dict[str, Any], where: str) -> MessageEvent:
    return MessageEvent(
        agent_id=value_id(body, "agent_id", where),
        executor_id=value_id(body, "executor_id", where),
        data=opt_bytes(body, "data", where) or b"",
    )


def _failure(body: dict[str, Any], where: str) -> FailureEvent:
    return FailureEvent(
        agent_id=opt_value_id(body, "agent_id", where),
        executor_id=opt_value_id(body, "executor_id", where),
        status=opt_integer(body, "status", where),
    )


_PARSERS: dict[str, Callable[[dict[str, Any], str], Event]] = {
    "SUBSCRIBED": _subscribed,
    "OFFERS": _offers,
    "INVERSE_OFFERS": _inverse_offers,
    "RESCIND": lambda b, w: RescindEvent(value_id(b, "offer_id", w)),
    "RESCIND_INVERSE_OFFER": lambda b, w: RescindInverseOfferEvent(
        value_id(b, "inverse_offer_id", w)
    ),
    "UPDATE": lambda b, w: UpdateEvent(parse_task_status(obj(b, "status", w), f"{w}.status")),
    "UPDATE_OPERATION_STATUS": _operation_update,
    "MESSAGE": _message,
    "FAILURE": _failure,
    "ERROR": lambda b, w: ErrorEvent(text(b, "message", w)),
}


def event_from_dict(payload: Any) -> Event:
    """Dispatch on ``type``; the body sits under the lower-cased type name."""
    try:
        document = as_obj(payload, "event")
        event_type = text(document, "type", "event")
        if event_type == "HEARTBEAT":
            return HeartbeatEvent()
        parser = _PARSERS.get(event_type)
        if parser is None:
            return UnknownEvent(event_type, preview(json.dumps(document)))
        key = event_type.lower()
        return parser(obj(document, key, "event"), key)
    except PayloadError as exc:
        return MalformedEvent(str(exc), preview(json.dumps(payload, default=repr)))


def parse_event(record: bytes) -> Event:
    """Decode one RecordIO payload (JSON as the scheduler stream sends it)."""
    try:
        # json.loads accepts the bare Infinity/NaN tokens Mesos writes for limits.
        payload = json.loads(record.decode("utf-8"))
    # RecursionError: a document nested deeper than the parser goes.
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        malformed = MalformedEvent(f"not a JSON document: {exc}", preview(record))
        logger.warning("Malformed Mesos event (%s): %s", malformed.problem, malformed.raw)
        return malformed
    event = event_from_dict(payload)
    if isinstance(event, MalformedEvent):
        logger.warning("Malformed Mesos event (%s): %s", event.problem, event.raw)
    elif isinstance(event, UnknownEvent):
        logger.warning("Ignoring Mesos event of unknown type %s: %s", event.type, event.raw)
    return event
