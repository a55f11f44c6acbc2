"""One SUBSCRIBE response body: RecordIO records in, typed events out, plus a watchdog.

A half-open TCP connection never errors, so silence is detected by time: a watchdog
thread shuts the socket down once no byte has arrived for ``heartbeat_misses`` heartbeat
intervals. shutdown() (unlike close()) wakes a thread blocked in recv() on Linux.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import replace

import httpx

from cluster.client.errors import StreamEnded
from cluster.recordio import RecordIODecoder, RecordIOError
from cluster.translate import parse_event
from cluster.types import (
    DisconnectCause,
    DisconnectedEvent,
    ErrorEvent,
    Event,
    OffersEvent,
    SubscribedEvent,
    UnparsedEvent,
)

logger = logging.getLogger(__name__)

# Mesos fixes the heartbeat at 15 s; used until SUBSCRIBED states the real interval.
DEFAULT_HEARTBEAT_SECONDS = 15.0


class _Ended(Exception):
    def __init__(self, cause: DisconnectCause, reason: str) -> None:
        super().__init__(reason)
        self.cause = cause
        self.reason = reason


class EventStream:
    """Owns the response; ``first_event()`` runs in the caller, then ``start()`` hands
    the rest of the body to a reader thread that feeds ``sink`` until the stream ends,
    always finishing with exactly one DisconnectedEvent (unless closed silently)."""

    def __init__(
        self,
        response: httpx.Response,
        *,
        client: httpx.Client,
        url: str,
        stream_id: str,
        sink: Callable[[Event | UnparsedEvent], None],
        heartbeat_misses: float,
        first_event_timeout: float,
        defer_parsing: bool = False,
    ) -> None:
        self.url = url
        self.stream_id = stream_id
        self._https = url.startswith("https://")
        self._response = response
        self._client = client
        self._sink = sink
        self._defer = defer_parsing
        self._misses = heartbeat_misses
        self._chunks: Iterator[bytes] = response.iter_raw()
        self._decoder = RecordIODecoder()
        self._records: deque[bytes] = deque()
        self._silence_limit = first_event_timeout
        self._last_byte = time.monotonic()
        self._stop_reason: tuple[DisconnectCause, str] | None = None
        self._emit_on_close = True
        self._done = threading.Event()
        self._reader: threading.Thread | None = None
        self._watchdog = threading.Thread(target=self._watch, name="mesos-watchdog", daemon=True)
        self._watchdog.start()

    # ---- reading ------------------------------------------------------------------------

    def _next_record(self) -> bytes:
        while not self._records:
            try:
                chunk = next(self._chunks)
            except StopIteration:
                raise self._end_of_body() from None
            except httpx.HTTPError as exc:
                raise self._interrupted(exc) from exc
            self._last_byte = time.monotonic()
            try:
                self._records.extend(self._decoder.feed(chunk))
            except RecordIOError as exc:
                raise _Ended(DisconnectCause.PROTOCOL, str(exc)) from exc
        return self._records.popleft()

    def _end_of_body(self) -> _Ended:
        if self._stop_reason is not None:
            return _Ended(*self._stop_reason)
        if not self._decoder.at_boundary:
            return _Ended(DisconnectCause.EOF, "the master closed the stream mid-record")
        return _Ended(DisconnectCause.EOF, "the master closed the stream")

    def _interrupted(self, exc: Exception) -> _Ended:
        if self._stop_reason is not None:
            return _Ended(*self._stop_reason)
        return _Ended(DisconnectCause.TRANSPORT, f"{type(exc).__name__}: {exc}")

    def first_event(self) -> Event:
        """The first event, read in the calling thread (SUBSCRIBED, or ERROR)."""
        try:
            event = parse_event(self._next_record())
        except _Ended as ended:
            self._finish()
            raise StreamEnded(self.url, ended.reason) from None
        if isinstance(event, SubscribedEvent):
            interval = event.heartbeat_interval_seconds or DEFAULT_HEARTBEAT_SECONDS
            self._silence_limit = self._misses * interval
        return event

    def start(self) -> None:
        self._reader = threading.Thread(target=self._run, name="mesos-stream", daemon=True)
        self._reader.start()

    def _run(self) -> None:
        try:
            while True:
                record = self._next_record()
                # An ERROR ends the stream here, so it is looked for: a record that cannot
                # be one (no quoted ERROR anywhere in it) goes on unparsed.
                if self._defer and b'"ERROR"' not in record:
                    self._sink(UnparsedEvent(record, self._https))
                    continue
                event = parse_record(record, self._https)
                if isinstance(event, ErrorEvent):
                    # Fatal for this subscription; the master closes the stream next.
                    raise _Ended(DisconnectCause.ERROR, event.message)
                self._sink(event)
        except _Ended as ended:
            self._end(ended.cause, ended.reason)
        except Exception as exc:  # the reader must end with a report, never silently
            logger.exception("Mesos stream reader failed")
            self._end(DisconnectCause.PROTOCOL, f"reader failed: {type(exc).__name__}: {exc}")

    def _end(self, cause: DisconnectCause, reason: str) -> None:
        self._finish()
        if self._emit_on_close:
            logger.warning("Mesos subscription %s ended (%s): %s", self.stream_id, cause, reason)
            self._sink(DisconnectedEvent(cause, reason, self.stream_id, self.url))

    def _finish(self) -> None:
        self._done.set()
        self._response.close()
        self._client.close()

    # ---- stopping -----------------------------------------------------------------------

    def _watch(self) -> None:
        while not self._done.wait(min(1.0, self._silence_limit / 4)):
            silent = time.monotonic() - self._last_byte
            if silent > self._silence_limit:
                reason = f"no bytes from the master for {silent:.1f} s"
                self._interrupt(DisconnectCause.STALLED, reason)
                return

    def _interrupt(self, cause: DisconnectCause, reason: str) -> None:
        if self._stop_reason is None:
            self._stop_reason = (cause, reason)
        network = self._response.extensions.get("network_stream")
        sock = None if network is None else network.get_extra_info("socket")
        try:
            if sock is not None:
                sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # already closed by the peer: the reader wakes up on its own

    def close(self, *, emit: bool = True, wait: float = 5.0) -> None:
        """Stop reading. ``emit=False`` drops the final DisconnectedEvent (used when a
        new subscription replaces this one and its end is no news)."""
        self._emit_on_close = self._emit_on_close and emit
        if self._done.is_set():
            return
        self._interrupt(DisconnectCause.CLOSED, "closed by Berth")
        if self._reader is not None and self._reader is not threading.current_thread():
            self._reader.join(wait)
        elif self._reader is None:
            self._finish()

    @property
    def done(self) -> bool:
        return self._done.is_set()


def parse_record(record: bytes, https: bool) -> Event:
    event = parse_event(record)
    if https and isinstance(event, OffersEvent):
        event = agents_over_https(event)
    return event


def parsed(item: Event | UnparsedEvent) -> Event:
    """The event, parsing it now if the stream handed it on unparsed."""
    if isinstance(item, UnparsedEvent):
        return parse_record(item.record, item.https)
    return item


def agents_over_https(event: OffersEvent) -> OffersEvent:
    """Mesos writes "http" in every offer's url, even when its agents speak only HTTPS
    (master.cpp: "TODO(bmahler): Set "https" if only "https" is supported"). TLS is a
    libprocess setting of the whole cluster, so the agents of a master reached over HTTPS
    are reached over HTTPS too."""
    offers = tuple(
        replace(offer, agent_endpoint=replace(offer.agent_endpoint, scheme="https"))
        if offer.agent_endpoint is not None and offer.agent_endpoint.scheme == "http"
        else offer
        for offer in event.offers
    )
    return OffersEvent(offers)
