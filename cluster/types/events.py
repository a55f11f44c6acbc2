"""Scheduler stream events (mesos.v1.scheduler.Event) and what they carry.

Each event class has a ``kind`` that names its ``on_<kind>`` handler, so the framework can
dispatch with ``getattr(handler, f"on_{event.kind}")``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar

from cluster.states import StateInfo, describe
from cluster.types.resources import InverseOffer, Label, Offer


@dataclass(frozen=True, slots=True)
class MasterInfo:
    id: str
    hostname: str | None
    port: int
    ip: str | None = None  # address.ip, the readable form (master_info.ip is a uint32)
    version: str | None = None
    pid: str | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.ip or self.hostname}:{self.port}"


@dataclass(frozen=True, slots=True)
class CheckStatus:
    type: str | None
    exit_code: int | None = None  # COMMAND checks
    http_status_code: int | None = None  # HTTP checks
    tcp_succeeded: bool | None = None  # TCP checks


@dataclass(frozen=True, slots=True)
class TaskStatus:
    task_id: str
    state: str  # a TASK_* name; kept as text so a newer master's states survive parsing
    source: str | None = None
    reason: str | None = None
    message: str | None = None
    agent_id: str | None = None
    executor_id: str | None = None
    timestamp: float | None = None  # seconds since the epoch
    # Base64 exactly as sent; only agent/executor updates have one, and only those
    # may (and must) be acknowledged.
    uuid: str | None = None
    healthy: bool | None = None  # None means "no news", not "unhealthy"
    check_status: CheckStatus | None = None
    data: bytes | None = None
    labels: tuple[Label, ...] = ()
    container_id: str | None = None
    container_ips: tuple[str, ...] = ()
    executor_pid: int | None = None
    unreachable_time_ns: int | None = None

    @property
    def info(self) -> StateInfo:
        return describe(self.state)

    @property
    def needs_ack(self) -> bool:
        return self.uuid is not None


@dataclass(frozen=True, slots=True)
class SubscribedEvent:
    kind: ClassVar[str] = "subscribed"
    framework_id: str
    heartbeat_interval_seconds: float | None
    master: MasterInfo | None = None


@dataclass(frozen=True, slots=True)
class OffersEvent:
    kind: ClassVar[str] = "offers"
    offers: tuple[Offer, ...]


@dataclass(frozen=True, slots=True)
class InverseOffersEvent:
    kind: ClassVar[str] = "inverse_offers"
    inverse_offers: tuple[InverseOffer, ...]


@dataclass(frozen=True, slots=True)
class RescindEvent:
    kind: ClassVar[str] = "rescind"
    offer_id: str


@dataclass(frozen=True, slots=True)
class RescindInverseOfferEvent:
    kind: ClassVar[str] = "rescind_inverse_offer"
    inverse_offer_id: str


@dataclass(frozen=True, slots=True)
class UpdateEvent:
    kind: ClassVar[str] = "update"
    status: TaskStatus


@dataclass(frozen=True, slots=True)
class OperationUpdateEvent:
    kind: ClassVar[str] = "update_operation_status"
    operation_id: str | None
    state: str
    uuid: str | None = None  # the inner base64 of the UUID message
    agent_id: str | None = None
    resource_provider_id: str | None = None
    message: str | None = None


@dataclass(frozen=True, slots=True)
class MessageEvent:
    kind: ClassVar[str] = "message"
    agent_id: str
    executor_id: str
    data: bytes


@dataclass(frozen=True, slots=True)
class FailureEvent:
    """An agent was removed (agent_id only) or an executor exited."""

    kind: ClassVar[str] = "failure"
    agent_id: str | None
    executor_id: str | None = None
    status: int | None = None  # raw POSIX wait status, not an exit code

    @property
    def exit_code(self) -> int | None:
        if self.status is None or not os.WIFEXITED(self.status):
            return None
        return os.WEXITSTATUS(self.status)

    @property
    def signal(self) -> int | None:
        if self.status is None or not os.WIFSIGNALED(self.status):
            return None
        return os.WTERMSIG(self.status)


@dataclass(frozen=True, slots=True)
class ErrorEvent:
    kind: ClassVar[str] = "error"
    message: str


@dataclass(frozen=True, slots=True)
class HeartbeatEvent:
    kind: ClassVar[str] = "heartbeat"


@dataclass(frozen=True, slots=True)
class UnknownEvent:
    """A well-formed event of a type this client does not know (a newer master)."""

    kind: ClassVar[str] = "unknown"
    type: str
    raw: str  # truncated payload, for the log


@dataclass(frozen=True, slots=True)
class MalformedEvent:
    """A record that is not valid JSON or does not have the shape the protos promise."""

    kind: ClassVar[str] = "malformed"
    problem: str
    raw: str  # truncated payload, for the log


class DisconnectCause(StrEnum):
    EOF = "eof"  # the master ended the stream (teardown, failover, shutdown)
    ERROR = "error"  # an ERROR event; the master closes the stream right after it
    STALLED = "stalled"  # no bytes for too many heartbeat intervals
    TRANSPORT = "transport"  # socket error, reset, refused
    PROTOCOL = "protocol"  # the bytes were not RecordIO
    CLOSED = "closed"  # this process closed the connection


# Text of the ERROR a master sends when the framework id can never subscribe again.
FRAMEWORK_REMOVED_MESSAGE = "Framework has been removed"


@dataclass(frozen=True, slots=True)
class DisconnectedEvent:
    """The last item a subscription's stream puts on the queue."""

    kind: ClassVar[str] = "disconnected"
    cause: DisconnectCause
    reason: str
    stream_id: str | None = None
    master_url: str | None = None

    @property
    def framework_removed(self) -> bool:
        """Resubscribing with the same framework id is pointless: register anew."""
        return self.cause is DisconnectCause.ERROR and FRAMEWORK_REMOVED_MESSAGE in self.reason


@dataclass(frozen=True, slots=True)
class UnparsedEvent:
    """A record of the stream handed on as bytes, for the consumer to parse in its own
    thread (cluster.client.stream.parsed): parsing in the reader thread would contend
    for the interpreter with the consumer's own latency-bound work."""

    record: bytes
    https: bool = False


Event = (
    SubscribedEvent
    | OffersEvent
    | InverseOffersEvent
    | RescindEvent
    | RescindInverseOfferEvent
    | UpdateEvent
    | OperationUpdateEvent
    | MessageEvent
    | FailureEvent
    | ErrorEvent
    | HeartbeatEvent
    | UnknownEvent
    | MalformedEvent
    | DisconnectedEvent
)
