"""Keeping Python's cycle collector out of latency-bound work."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Run the block with the cycle collector off; it runs after, once, if it is due.

    An offer round allocates tens of thousands of small objects, which triggers
    collections; in the framework process an older-generation pass walks every object the
    process holds (Django, caches, the task queue), tens of milliseconds spent finding
    nothing, since the round's own cycles are few. Nested use is harmless.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
