from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cluster.backoff import backoff_ceiling, backoff_delay


def test_the_ceiling_doubles_from_the_base() -> None:
    assert [backoff_ceiling(n, base=0.5, cap=100) for n in range(5)] == [0.5, 1, 2, 4, 8]


def test_the_ceiling_never_exceeds_the_cap() -> None:
    assert backoff_ceiling(10, base=0.5, cap=15) == 15
    assert backoff_ceiling(10_000, base=0.5, cap=15) == 15


def test_full_jitter_scales_the_ceiling_by_the_random_draw() -> None:
    assert backoff_delay(3, base=1, cap=60, rand=lambda: 0.25) == 2.0
    assert backoff_delay(3, base=1, cap=60, rand=lambda: 0.0) == 0.0


@given(
    attempt=st.integers(min_value=0, max_value=10_000),
    draw=st.floats(min_value=0, max_value=1, exclude_max=True),
)
def test_every_delay_lies_between_zero_and_the_cap(attempt: int, draw: float) -> None:
    ceiling = backoff_ceiling(attempt, base=0.5, cap=15)
    delay = backoff_delay(attempt, base=0.5, cap=15, rand=lambda: draw)
    assert 0 <= delay < ceiling <= 15


def test_delays_vary_with_the_default_random_source() -> None:
    delays = {backoff_delay(6) for _ in range(20)}
    assert len(delays) > 1
    assert all(0 <= d <= 15 for d in delays)


@pytest.mark.parametrize(("attempt", "base", "cap"), [(-1, 0.5, 15), (0, 0, 15), (0, 0.5, -1)])
def test_nonsense_parameters_are_refused(attempt: int, base: float, cap: float) -> None:
    with pytest.raises(ValueError):
        backoff_ceiling(attempt, base=base, cap=cap)
