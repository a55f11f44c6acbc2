"""The v1 scheduler API connection: one SUBSCRIBE stream plus a separate call client.

Threading model (the framework process is synchronous, built on the Django ORM):

- a reader thread owns the SUBSCRIBE stream and puts typed events on ``events``
  (a queue.Queue), ending every subscription with one DisconnectedEvent;
- the framework's main thread takes events from the queue, stores what they say, and
  sends calls through this object on one keep-alive connection, used serially, so the
  master sees calls in the order they were made.

Policy stays with the caller: this class never resubscribes on its own. ``connect()``
is the "resubscribe now" primitive (leader search, redirects, backoff).
"""

from __future__ import annotations

import itertools
import logging
import queue
import random
import threading
from collections.abc import Callable, Sequence

from cluster.backoff import DEFAULT_BASE_SECONDS, DEFAULT_CAP_SECONDS, backoff_delay
from cluster.client.errors import (
    ConnectionClosed,
    InvalidResponse,
    MesosError,
    MesosHttpError,
    MesosUnreachable,
    NotSubscribed,
    StreamEnded,
    SubscribeRejected,
    TooManyRedirects,
)
from cluster.client.http import (
    JSON_HEADERS,
    Closing,
    HttpOptions,
    base_of,
    encode_json,
    error_for,
    normalize_base_url,
    send,
)
from cluster.client.pipeline import Pipeline
from cluster.client.stream import EventStream
from cluster.translate import calls, task_info
from cluster.translate.calls import EncodedCall, InvalidCall, Json
from cluster.types import (
    DisconnectedEvent,
    ErrorEvent,
    Event,
    FrameworkInfo,
    Offer,
    SubscribedEvent,
    TaskSpec,
    TaskStatus,
    UnparsedEvent,
)

logger = logging.getLogger(__name__)

SCHEDULER_PATH = "/api/v1/scheduler"

# Errors that another master, or the same one a little later, may not repeat.
_TRANSIENT = (MesosUnreachable, TooManyRedirects, StreamEnded, InvalidResponse)


def _retryable(exc: MesosHttpError) -> bool:
    # 503: recovering or no leader elected yet. Other 4xx are configuration bugs.
    return exc.status >= 500


class SchedulerConnection(Closing):
    def __init__(
        self,
        masters: str | Sequence[str],
        *,
        options: HttpOptions | None = None,
        events: queue.Queue[Event | UnparsedEvent] | None = None,
        heartbeat_misses: float = 5.0,
        first_event_timeout: float = 30.0,
        backoff_base: float = DEFAULT_BASE_SECONDS,
        backoff_cap: float = DEFAULT_CAP_SECONDS,
        rand: Callable[[], float] = random.random,
        defer_parsing: bool = False,
    ) -> None:
        urls = [masters] if isinstance(masters, str) else list(masters)
        if not urls:
            raise ValueError("at least one master URL is needed")
        self.masters = [normalize_base_url(url) for url in urls]
        # With defer_parsing, stream records arrive as UnparsedEvent (see stream.parsed).
        self.events: queue.Queue[Event | UnparsedEvent] = (
            events if events is not None else queue.Queue()
        )
        self._defer_parsing = defer_parsing
        self.framework_id: str | None = None
        self._options = options or HttpOptions()
        self._heartbeat_misses = heartbeat_misses
        self._first_event_timeout = first_event_timeout
        self._backoff = (backoff_base, backoff_cap, rand)
        self._calls = self._options.client()
        self._call_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._stream: EventStream | None = None
        self._leader: str | None = None
        self._closing = threading.Event()
        self._pipeline: Pipeline | None = None

    # ---- subscription -----------------------------------------------------------------

    @property
    def stream_id(self) -> str | None:
        stream = self._stream
        return None if stream is None else stream.stream_id

    @property
    def leader_url(self) -> str | None:
        """The master that holds the current (or last) subscription."""
        return self._leader

    def is_current(self, event: DisconnectedEvent) -> bool:
        """False for the end of a stream that a newer subscription already replaced."""
        return event.stream_id == self.stream_id

    def subscribe(
        self,
        framework_info: FrameworkInfo,
        suppressed_roles: Sequence[str] = (),
        *,
        master: str | None = None,
    ) -> SubscribedEvent:
        """One SUBSCRIBE attempt against ``master`` (default: the last leader, else the
        first master), following redirects. The SUBSCRIBED event is returned and also
        queued, so the event loop sees every (re)subscription."""
        if self._closing.is_set():
            raise ConnectionClosed()
        if framework_info.id is None and self.framework_id is not None:
            framework_info = framework_info.with_id(self.framework_id)
        body = encode_json(calls.subscribe_call(framework_info, suppressed_roles))
        target = normalize_base_url(master) if master else (self._leader or self.masters[0])
        self._replace_stream(None)
        stream = self._open_stream(target + SCHEDULER_PATH, body)
        first = stream.first_event()
        if not isinstance(first, SubscribedEvent):
            stream.close(emit=False)
            if isinstance(first, ErrorEvent):
                raise SubscribeRejected(first.message, stream.url)
            raise InvalidResponse(stream.url, f"first event was {first.kind}, not SUBSCRIBED")
        with self._state_lock:
            self.framework_id = first.framework_id
            self._leader = base_of(stream.url)
            self._replace_stream(stream)
        self.events.put(first)
        stream.start()
        logger.info(
            "Subscribed to %s as framework %s (stream %s)",
            self._leader,
            first.framework_id,
            stream.stream_id,
        )
        return first

    def _open_stream(self, url: str, body: bytes) -> EventStream:
        # A connection of its own that only this stream uses; the watchdog, not a read
        # timeout, decides when silence means the master is gone.
        client = self._options.client(read_timeout=None)
        try:
            response, url = send(
                client,
                "POST",
                url,
                content=body,
                headers=JSON_HEADERS,
                max_redirects=self._options.max_redirects,
                stream=True,
            )
        except MesosError:
            client.close()
            raise
        if response.status_code != 200:
            response.read()
            client.close()
            raise error_for(response, url, "SUBSCRIBE")
        stream_id = response.headers.get("Mesos-Stream-Id")
        if not stream_id:
            response.close()
            client.close()
            raise InvalidResponse(url, "SUBSCRIBE answered 200 without a Mesos-Stream-Id")
        return EventStream(
            response,
            client=client,
            url=url,
            stream_id=stream_id,
            sink=self.events.put,
            heartbeat_misses=self._heartbeat_misses,
            first_event_timeout=self._first_event_timeout,
            defer_parsing=self._defer_parsing,
        )

    def _replace_stream(self, stream: EventStream | None) -> None:
        old, self._stream = self._stream, stream
        if old is not None and old is not stream:
            old.close(emit=False)

    def connect(
        self,
        framework_info: FrameworkInfo,
        suppressed_roles: Sequence[str] = (),
        *,
        max_rounds: int | None = None,
    ) -> SubscribedEvent:
        """Subscribe to whichever master leads: try each master in turn (the last leader
        first), then wait a capped, fully jittered backoff before the next round.

        Raises SubscribeRejected at once (retrying cannot fix an invalid FrameworkInfo
        or a removed framework), a non-retryable MesosHttpError at once, or the last
        error after ``max_rounds`` rounds or close()."""
        if max_rounds is not None and max_rounds < 1:
            raise ValueError(f"max_rounds must be at least 1, got {max_rounds}")
        for attempt in itertools.count():
            last = self._connect_round(framework_info, suppressed_roles)
            if isinstance(last, SubscribedEvent):
                return last
            if max_rounds is not None and attempt + 1 >= max_rounds:
                raise last
            base, cap, rand = self._backoff
            if self._closing.wait(backoff_delay(attempt, base=base, cap=cap, rand=rand)):
                raise ConnectionClosed()
        raise AssertionError("unreachable")  # itertools.count() never ends

    def _connect_round(
        self, framework_info: FrameworkInfo, suppressed_roles: Sequence[str]
    ) -> SubscribedEvent | MesosError:
        """One try per master; the SUBSCRIBED event, or the last transient error."""
        last: MesosError | None = None
        for master in self._rotation():
            try:
                return self.subscribe(framework_info, suppressed_roles, master=master)
            except MesosHttpError as exc:
                if not _retryable(exc):
                    raise
                last = exc
            except _TRANSIENT as exc:
                last = exc
            logger.warning("Subscribing via %s failed: %s", master, last)
        assert last is not None  # _rotation() always holds the configured masters
        return last

    def _rotation(self) -> list[str]:
        leader = self._leader
        ordered = [leader] if leader else []
        return ordered + [m for m in self.masters if m != leader]

    # ---- calls --------------------------------------------------------------------------

    def call(self, call_type: str, body: Json | None = None) -> None:
        """Any scheduler call by type name; ``body`` goes under the lower-cased type."""
        self.send(calls.call_envelope(call_type, self._require_framework_id(), body))

    def send(self, call: Json) -> None:
        """POST a complete call with the stream id; raise MesosHttpError unless 2xx."""
        if self._closing.is_set():
            raise ConnectionClosed()
        with self._state_lock:
            leader, stream_id = self._leader, self.stream_id
        if leader is None or stream_id is None:
            raise NotSubscribed()
        headers = {**JSON_HEADERS, "Mesos-Stream-Id": stream_id}
        with self._call_lock:
            response, url = send(
                self._calls,
                "POST",
                leader + SCHEDULER_PATH,
                content=encode_json(call),
                headers=headers,
                max_redirects=self._options.max_redirects,
            )
        # 202 means queued; UPDATE_FRAMEWORK answers 200 once applied.
        if response.status_code not in (200, 202):
            raise error_for(response, url, str(call.get("type")))

    def send_many(
        self,
        calls: Sequence[Json | EncodedCall],
        written: Callable[[], None] | None = None,
    ) -> list[MesosHttpError | None]:
        """Calls in order, pipelined on one keep-alive connection (cluster.client.pipeline):
        per call None when accepted, else its error (a 307 too: the caller falls back to
        send()). `written` is called once every call is on the wire. Raises
        MesosUnreachable when the connection fails part-way."""
        if self._closing.is_set():
            raise ConnectionClosed()
        with self._state_lock:
            leader, stream_id = self._leader, self.stream_id
        if leader is None or stream_id is None:
            raise NotSubscribed()
        headers = {**JSON_HEADERS, "Mesos-Stream-Id": stream_id}
        bodies = [c.body if isinstance(c, EncodedCall) else encode_json(c) for c in calls]
        with self._call_lock:
            pipeline = self._pipeline
            if pipeline is None or pipeline.base_url != leader:
                if pipeline is not None:
                    pipeline.close()
                pipeline = self._pipeline = Pipeline(leader, self._options)
            answers = pipeline.post(SCHEDULER_PATH, bodies, headers, written)
        url = leader + SCHEDULER_PATH
        return [
            None
            if answer.status in (200, 202)
            else MesosHttpError(
                answer.status, answer.body.decode("utf-8", "replace"), url, _call_type(call)
            )
            for answer, call in zip(answers, calls, strict=True)
        ]

    def acknowledge_many(self, statuses: Sequence[TaskStatus]) -> list[MesosHttpError | None]:
        """acknowledge() for many updates at once, pipelined; updates without a uuid are
        skipped (the answers are for the others, in order), and so are updates no master
        would take an acknowledgement for (no agent, a uuid that is not 16 bytes of
        base64): logged, so one bad update never holds back the good ones."""
        fid = self._require_framework_id()
        acks = []
        for status in statuses:
            if status.uuid is None:
                continue
            try:
                if status.agent_id is None:
                    raise InvalidCall("it has a uuid but no agent_id")
                ack = calls.acknowledge_call(fid, status.agent_id, status.task_id, status.uuid)
                acks.append(ack)
            except InvalidCall as error:
                logger.warning("Not acknowledging the update of %s: %s", status.task_id, error)
        return self.send_many(acks) if acks else []

    def _require_framework_id(self) -> str:
        if self.framework_id is None:
            raise NotSubscribed()
        return self.framework_id

    def accept(
        self,
        offer_ids: Sequence[str],
        operations: Sequence[Json],
        refuse_seconds: float | None = None,
    ) -> None:
        fid = self._require_framework_id()
        self.send(calls.accept_call(fid, offer_ids, operations, refuse_seconds))

    def launch(
        self,
        offers: Sequence[Offer],
        tasks: Sequence[TaskSpec],
        refuse_seconds: float | None = None,
    ) -> list[Json]:
        """One ACCEPT launching ``tasks`` on the offers' agent; returns the TaskInfos sent.
        Several offers may be merged, but only from one agent and one role."""
        if not offers:
            raise ValueError("launch needs at least one offer")
        agents = {o.agent_id for o in offers}
        roles = {o.allocation_role for o in offers}
        if len(agents) > 1 or len(roles) > 1:
            spread = f"agents {sorted(agents)}, roles {sorted(map(str, roles))}"
            raise ValueError(f"one ACCEPT takes offers of one agent and one role, not {spread}")
        agent_id, role = offers[0].agent_id, offers[0].allocation_role
        infos = [task_info(spec, agent_id=agent_id, allocation_role=role) for spec in tasks]
        operation = calls.launch_operation(infos)
        self.accept([o.id for o in offers], [operation], refuse_seconds)
        return infos

    def decline(self, offer_ids: Sequence[str], refuse_seconds: float | None = None) -> None:
        self.send(calls.decline_call(self._require_framework_id(), offer_ids, refuse_seconds))

    def kill(
        self, task_id: str, agent_id: str | None = None, grace_seconds: float | None = None
    ) -> None:
        fid = self._require_framework_id()
        self.send(calls.kill_call(fid, task_id, agent_id, grace_seconds))

    def acknowledge(self, status: TaskStatus) -> bool:
        """ACK an update that carries a uuid (echoed exactly); False, and nothing sent,
        for master-generated updates, which must not be acknowledged."""
        if status.uuid is None:
            return False
        if status.agent_id is None:
            raise ValueError(f"update for {status.task_id} has a uuid but no agent_id")
        fid = self._require_framework_id()
        self.send(calls.acknowledge_call(fid, status.agent_id, status.task_id, status.uuid))
        return True

    def reconcile(self, tasks: Sequence[tuple[str, str | None]] = ()) -> None:
        """Explicit for (task_id, agent_id) pairs; implicit (every task) when empty."""
        self.send(calls.reconcile_call(self._require_framework_id(), tasks))

    def suppress(self, roles: Sequence[str] = ()) -> None:
        self.send(calls.suppress_call(self._require_framework_id(), roles))

    def revive(self, roles: Sequence[str] = ()) -> None:
        self.send(calls.revive_call(self._require_framework_id(), roles))

    def update_framework(
        self, framework_info: FrameworkInfo, suppressed_roles: Sequence[str] = ()
    ) -> None:
        info = framework_info.with_id(self._require_framework_id())
        self.send(calls.update_framework_call(info, suppressed_roles))

    def teardown(self) -> None:
        """Kill every task and remove the framework for good; its id can never
        subscribe again, so it is forgotten here."""
        self.send(calls.teardown_call(self._require_framework_id()))
        with self._state_lock:
            self.framework_id = None

    # ---- lifecycle ----------------------------------------------------------------------

    def close(self) -> None:
        """Stop the stream (a final DisconnectedEvent 'closed' wakes the event loop),
        interrupt a connect() backoff, and release the call connection."""
        self._closing.set()
        stream = self._stream
        if stream is not None:
            stream.close()
        self._calls.close()
        # Not under _call_lock: a send_many waiting on a silent master holds it, and
        # aborting wakes that wait instead of waiting for it.
        pipeline = self._pipeline
        if pipeline is not None:
            pipeline.abort()


def _call_type(call: Json | EncodedCall) -> str:
    return call.call_type if isinstance(call, EncodedCall) else str(call.get("type"))
