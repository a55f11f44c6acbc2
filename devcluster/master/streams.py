"""A subscription's chunked RecordIO event stream.

Events are queued synchronously (status updates arrive from agents in plain callbacks) and
one writer coroutine, the SUBSCRIBE request's own handler, drains the queue: whatever
piled up since the last write goes out as one chunk, which keeps thousands of updates a
second cheap. The server runs with handler cancellation, so a client that goes away
cancels the writer and the master hears about it at once, as Mesos does.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from aiohttp import web

from devcluster.interfaces import Json
from devcluster.master.recordio import encode_event

log = logging.getLogger(__name__)

OPEN, CLOSING, ABORTED, DONE = "open", "closing", "aborted", "done"


class EventStream:
    def __init__(self, request: web.Request, stream_id: str) -> None:
        self.stream_id = stream_id
        self._request = request
        self._response = web.StreamResponse(
            status=200,
            headers={"Content-Type": "application/json", "Mesos-Stream-Id": stream_id},
        )
        self._response.enable_chunked_encoding()
        self._buffer: list[bytes] = []
        self._wakeup = asyncio.Event()
        self._state = OPEN
        self.on_lost: Callable[[EventStream], None] | None = None

    @property
    def open(self) -> bool:
        return self._state == OPEN

    async def prepare(self) -> None:
        await self._response.prepare(self._request)

    def send(self, event: Json) -> None:
        if self._state == OPEN:
            self._buffer.append(encode_event(event))
            self._wakeup.set()

    def send_raw(self, record: bytes) -> None:
        """An already encoded record (one OFFERS payload shared by nobody else)."""
        if self._state == OPEN:
            self._buffer.append(record)
            self._wakeup.set()

    def close(self) -> None:
        """Flush what is queued, then end the chunked body cleanly."""
        if self._state == OPEN:
            self._state = CLOSING
            self.on_lost = None
            self._wakeup.set()

    def abort(self) -> None:
        """Drop the connection without the final chunk, as a crash or a partition would.

        The owner hears about it (on_lost) at once, as if the client had gone away."""
        if self._state in (OPEN, CLOSING):
            self._state = ABORTED
            transport = self._request.transport
            if transport is not None:
                transport.abort()
            self._wakeup.set()
            self._lost()

    async def run(self) -> web.StreamResponse:
        """The writer loop; returns when the stream ends for whatever reason."""
        try:
            await self._drain()
        except (ConnectionError, RuntimeError) as error:
            log.debug("stream %s: write failed: %s", self.stream_id, error)
            self._lost()
        except asyncio.CancelledError:
            self._lost()
            raise
        return self._response

    async def _drain(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            if self._buffer and self._state != ABORTED:
                data = b"".join(self._buffer)
                self._buffer.clear()
                await self._response.write(data)
            if self._state == CLOSING:
                self._state = DONE
                await self._response.write_eof()
                return
            if self._state == ABORTED:
                return

    def _lost(self) -> None:
        callback, self.on_lost = self.on_lost, None
        if self._state != ABORTED:
            self._state = DONE
        self._buffer.clear()
        if callback is not None:
            callback(self)
