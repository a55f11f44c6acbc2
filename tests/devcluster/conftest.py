"""Fixtures for devcluster's own tests (the devcluster fixtures are in tests/conftest.py)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.devcluster.client import Scheduler


@pytest.fixture
def subscribe() -> Iterator[Callable[..., Scheduler]]:
    """subscribe(url, info=None, **subscribe_fields) -> a Scheduler, torn down after the test."""
    made: list[Scheduler] = []

    def make(url: str, info: dict[str, Any] | None = None, **extra: Any) -> Scheduler:
        scheduler = Scheduler(url, info, **extra)
        made.append(scheduler)
        return scheduler

    yield make
    for scheduler in made:
        # The cluster may already be gone, or the framework torn down by the test.
        with contextlib.suppress(Exception):
            scheduler.teardown()
        scheduler.close()
