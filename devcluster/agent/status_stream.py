"""The agent's status update manager: one ordered, acknowledged stream per task.

Mesos keeps only the head update of a task in flight. It is resent with the same uuid
(10 s, doubling up to 10 min) until the scheduler acknowledges it, and later updates of
that task wait behind it, so a missing acknowledgement freezes the task's stream.
"""

from __future__ import annotations

import asyncio
import binascii
import logging
import random
from collections import deque
from collections.abc import Callable

from devcluster.interfaces import Json

log = logging.getLogger(__name__)

MAX_RETRY_SECONDS = 600.0

TERMINAL_STATES = frozenset(
    {
        "TASK_FINISHED",
        "TASK_FAILED",
        "TASK_KILLED",
        "TASK_LOST",
        "TASK_ERROR",
        "TASK_DROPPED",
        "TASK_GONE",
        "TASK_GONE_BY_OPERATOR",
    }
)


def new_uuid() -> str:
    """16 random bytes, base64: the 24-character form the transcripts show. They only
    need to be unique, so the fast PRNG beats a urandom syscall per update."""
    return binascii.b2a_base64(
        random.getrandbits(128).to_bytes(16, "little"), newline=False
    ).decode()


class StatusStream:
    """Updates of one task, in order; only the head is in flight."""

    __slots__ = ("_delay", "_pending", "_retry_seconds", "_send", "_timer")

    def __init__(self, send: Callable[[Json], None], retry_seconds: float) -> None:
        self._send = send
        self._retry_seconds = max(retry_seconds, 0.001)
        self._delay = self._retry_seconds
        self._pending: deque[Json] = deque()
        self._timer: asyncio.TimerHandle | None = None

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
        self._cancel_timer()
        self._delay = self._retry_seconds
        if self._pending:
            self._send_head()
        return acked

    def resend(self) -> None:
        """Send the head again now (the framework re-subscribed), restarting its backoff."""
        if self._pending:
            self._cancel_timer()
            self._delay = self._retry_seconds
            self._send_head()

    def close(self) -> None:
        self._cancel_timer()
        self._pending.clear()

    def _send_head(self) -> None:
        # Arm the timer before calling out: a sink that acknowledges re-entrantly must
        # find the timer in place so that it can cancel it.
        self._timer = asyncio.get_running_loop().call_later(self._delay, self._on_retry)
        try:
            self._send(self._pending[0])
        except Exception:
            log.exception("status sink failed; the update will be resent")

    def _on_retry(self) -> None:
        self._timer = None
        if not self._pending:
            return
        self._delay = min(self._delay * 2, MAX_RETRY_SECONDS)
        self._send_head()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
