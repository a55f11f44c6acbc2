"""A subscription's chunked RecordIO event stream.

Events are queued synchronously (status updates arrive from agents in plain callbacks) and
written once per event-loop iteration: whatever piled up goes out as one HTTP chunk, which
keeps thousands of updates a second cheap. The connection tells the stream at once when
the client goes away, as Mesos notices a closed subscription at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from devcluster.interfaces import Json
from devcluster.master.recordio import encode_event

if TYPE_CHECKING:
    from devcluster.master.httpserver import Connection

OPEN, CLOSING, DONE = "open", "closing", "done"


class EventStream:
    def __init__(self, stream_id: str) -> None:
        self.stream_id = stream_id
        self._connection: Connection | None = None
        self._buffer: list[bytes] = []
        self._flush_scheduled = False
        self._state = OPEN
        self.on_lost: Callable[[EventStream], None] | None = None

    @property
    def open(self) -> bool:
        return self._state == OPEN

    def attach(self, connection: Connection) -> None:
        """The response head is out: events from now on go to this connection."""
        self._connection = connection
        connection.on_lost = self._lost
        self._schedule()

    def send(self, event: Json) -> None:
        if self._state == OPEN:
            self._buffer.append(encode_event(event))
            self._schedule()

    def send_raw(self, record: bytes) -> None:
        """An already framed record (fault injection)."""
        if self._state == OPEN:
            self._buffer.append(record)
            self._schedule()

    def close(self) -> None:
        """Flush what is queued, then end the chunked body cleanly."""
        if self._state == OPEN:
            self._state = CLOSING
            self.on_lost = None
            self._schedule()

    def abort(self) -> None:
        """Drop the connection without the final chunk, as a crash or a partition would.

        The owner hears about it (on_lost) at once, as if the client had gone away."""
        if self._state == DONE:
            return
        connection, self._connection = self._connection, None
        self._lost()
        if connection is not None:
            connection.on_lost = None
            connection.abort()

    def _schedule(self) -> None:
        if not self._flush_scheduled and self._connection is not None:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        connection = self._connection
        if connection is None or self._state == DONE:
            return
        if self._buffer:
            data = b"".join(self._buffer)
            self._buffer.clear()
            connection.write(b"%x\r\n%s\r\n" % (len(data), data))
        if self._state == CLOSING:
            self._state = DONE
            self._connection = None
            connection.write(b"0\r\n\r\n")
            connection.stream_done()

    def _lost(self) -> None:
        callback, self.on_lost = self.on_lost, None
        self._state = DONE
        self._buffer.clear()
        if callback is not None:
            callback(self)
