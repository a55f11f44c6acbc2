from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from cluster.leader import lease_acquire, lease_holder, lease_release

pytestmark = pytest.mark.django_db
TTL = timedelta(seconds=15)


def test_the_first_process_takes_the_lease() -> None:
    assert lease_acquire(name="framework", holder="a", ttl=TTL)
    assert lease_holder(name="framework") == "a"


def test_a_second_process_waits_while_the_lease_is_live() -> None:
    lease_acquire(name="framework", holder="a", ttl=TTL)
    assert not lease_acquire(name="framework", holder="b", ttl=TTL)
    assert lease_holder(name="framework") == "a"


def test_the_holder_renews_its_own_lease() -> None:
    lease_acquire(name="framework", holder="a", ttl=TTL)
    assert lease_acquire(name="framework", holder="a", ttl=TTL)


def test_a_standby_takes_over_once_the_lease_expires() -> None:
    lease_acquire(name="framework", holder="a", ttl=TTL)
    with time_machine.travel(timezone.now() + TTL + timedelta(seconds=1)):
        assert lease_acquire(name="framework", holder="b", ttl=TTL)
        assert lease_holder(name="framework") == "b"
        assert not lease_acquire(name="framework", holder="a", ttl=TTL)


def test_release_frees_the_lease_for_others_at_once() -> None:
    lease_acquire(name="framework", holder="a", ttl=TTL)
    lease_release(name="framework", holder="a")
    assert lease_holder(name="framework") is None
    assert lease_acquire(name="framework", holder="b", ttl=TTL)


def test_release_by_a_non_holder_changes_nothing() -> None:
    lease_acquire(name="framework", holder="a", ttl=TTL)
    lease_release(name="framework", holder="b")
    assert lease_holder(name="framework") == "a"
