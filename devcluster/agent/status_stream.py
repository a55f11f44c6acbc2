"""The agent's status update manager: one ordered, acknowledged stream per task.

Mesos keeps only the head update of a task in flight. It is resent with the same uuid
(10 s, doubling up to 10 min) until the scheduler acknowledges it, and later updates of
that task wait behind it, so a missing acknowledgement freezes the task's stream.
"""

from __future__ import annotations

import asyncio
import binascii
import heapq
import itertools
import logging
import math
import random
from collections import deque
from collections.abc import Callable

from devcluster.interfaces import Json

log = logging.getLogger(__name__)

MAX_RETRY_SECONDS = 600.0


def new_uuid() -> str:
    """16 random bytes, base64: the 24-character form the transcripts show. They only
    need to be unique, so the fast PRNG beats a urandom syscall per update."""
    return binascii.b2a_base64(
        random.getrandbits(128).to_bytes(16, "little"), newline=False
    ).decode()


class RetryQueue:
    """Resend deadlines of all the streams of one agent, behind a single loop timer.

    A loop timer per in-flight update cost more than the rest of an update's path at
    benchmark rates. First resends all wait the same delay, so their deadlines arrive in
    order and a FIFO holds them; only the rarer doubled delays go through a heap.
    Entries are never removed: a stream ignores one whose generation is not its own.
    """

    def __init__(self, retry_seconds: float) -> None:
        self.retry_seconds = max(retry_seconds, 0.001)
        self._first: deque[tuple[float, StatusStream, int]] = deque()
        self._later: list[tuple[float, int, StatusStream, int]] = []
        self._order = itertools.count()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = math.inf

    def schedule(self, stream: StatusStream, generation: int, delay: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + delay
        if delay == self.retry_seconds:
            self._first.append((deadline, stream, generation))
        else:
            heapq.heappush(self._later, (deadline, next(self._order), stream, generation))
        if deadline < self._timer_at:
            self._arm(loop, deadline)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer, self._timer_at = None, math.inf
        self._first.clear()
        self._later.clear()

    def _arm(self, loop: asyncio.AbstractEventLoop, deadline: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = loop.call_at(deadline, self._fire)
        self._timer_at = deadline

    def _fire(self) -> None:
        loop = asyncio.get_running_loop()
        self._timer, self._timer_at = None, math.inf
        now = loop.time()
        due = []
        while self._first and self._first[0][0] <= now:
            due.append(self._first.popleft()[1:])
        while self._later and self._later[0][0] <= now:
            due.append(heapq.heappop(self._later)[2:])
        for stream, generation in due:
            stream.retry(generation)
        upcoming = min(
            self._first[0][0] if self._first else math.inf,
            self._later[0][0] if self._later else math.inf,
        )
        if upcoming < self._timer_at:
            self._arm(loop, upcoming)


class StatusStream:
    """Updates of one task, in order; only the head is in flight."""

    __slots__ = ("_delay", "_generation", "_pending", "_retries", "_send")

    def __init__(self, send: Callable[[Json], None], retries: RetryQueue) -> None:
        self._send = send
        self._retries = retries
        self._delay = retries.retry_seconds
        self._generation = 0
        self._pending: deque[Json] = deque()

    @property
    def head(self) -> Json | None:
        return self._pending[0] if self._pending else None

    @property
    def pending(self) -> int:
        return len(self._pending)

    def push(self, status: Json) -> None:
        self._pending.append(status)
        if len(self._pending) == 1:
            self._send_head()

    def acknowledge(self, uuid_b64: str) -> Json | None:
        """Pop the head when the uuid matches it; the next update goes out at once."""
        if not self._pending or self._pending[0].get("uuid") != uuid_b64:
            return None
        acked = self._pending.popleft()
        self._generation += 1
        self._delay = self._retries.retry_seconds
        if self._pending:
            self._send_head()
        return acked

    def resend(self) -> None:
        """Send the head again now (the framework re-subscribed), restarting its backoff."""
        if self._pending:
            self._delay = self._retries.retry_seconds
            self._send_head()

    def close(self) -> None:
        self._generation += 1
        self._pending.clear()

    def retry(self, generation: int) -> None:
        """The resend deadline of `generation` passed; stale ones are ignored."""
        if generation != self._generation or not self._pending:
            return
        self._delay = min(self._delay * 2, MAX_RETRY_SECONDS)
        self._send_head()

    def _send_head(self) -> None:
        # Schedule before calling out: a sink that acknowledges re-entrantly bumps the
        # generation, which must then make this deadline stale.
        self._generation += 1
        self._retries.schedule(self, self._generation, self._delay)
        try:
            self._send(self._pending[0])
        except Exception:
            log.exception("status sink failed; the update will be resent")
