"""Offer filters, SUPPRESS and REVIVE, held to 10-decline-filters and 10-suppress-revive."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.devcluster import golden
from tests.devcluster.client import Scheduler, framework_info

# A short default filter keeps "DECLINE without filters" quick; 0.5 s allocation cycles.
pytestmark = pytest.mark.devcluster("--refuse-seconds", "1.5")


def _gap_after_decline(scheduler: Scheduler, **decline: float) -> float:
    offer = scheduler.offers()[0]
    declined = time.monotonic()
    assert scheduler.decline(offer, **decline).status_code == 202
    scheduler.offers(timeout=10)
    return time.monotonic() - declined


def test_a_refused_offer_comes_back_after_its_filter_and_the_next_cycle(
    devcluster_module, subscribe
):
    gap = _gap_after_decline(subscribe(devcluster_module.url), refuse_seconds=1.0)
    assert 1.0 <= gap < 2.5


def test_a_decline_without_filters_uses_the_default_filter(devcluster_module, subscribe):
    gap = _gap_after_decline(subscribe(devcluster_module.url))
    assert 1.5 <= gap < 3.0


def test_a_negative_refusal_means_the_default(devcluster_module, subscribe):
    gap = _gap_after_decline(subscribe(devcluster_module.url), refuse_seconds=-3)
    assert 1.5 <= gap < 3.0


def test_refuse_seconds_zero_waits_only_for_the_next_allocation(devcluster_module, subscribe):
    gap = _gap_after_decline(subscribe(devcluster_module.url), refuse_seconds=0)
    assert gap < 1.0


def test_revive_clears_filters_and_offers_at_once(devcluster_module, subscribe):
    scheduler = subscribe(devcluster_module.url)
    scheduler.decline(scheduler.offers()[0], refuse_seconds=60)
    with pytest.raises(TimeoutError):
        scheduler.offers(timeout=1.0)
    revived = time.monotonic()
    assert scheduler.call("REVIVE").status_code == 202
    scheduler.offers(timeout=2)
    assert time.monotonic() - revived < 0.5


def test_suppress_keeps_the_outstanding_offer_and_stops_new_ones(devcluster_module, subscribe):
    scheduler = subscribe(devcluster_module.url, framework_info("golden-suppress-revive"))
    offer = scheduler.offers()[0]
    assert scheduler.call("SUPPRESS").status_code == 202
    response = httpx.get(
        f"{devcluster_module.url}/master/frameworks",
        params={"framework_id": scheduler.framework_id},
    )
    recorded = golden.exchange(
        "10-suppress-revive", path=f"/master/frameworks?framework_id={_golden_id()}"
    )
    golden.assert_like(response.json(), recorded["response"]["body"])
    scheduler.decline(offer, refuse_seconds=0.1)
    with pytest.raises(TimeoutError):
        scheduler.offers(timeout=2.0)
    assert not [e for e in scheduler.stream.received if e["type"] == "RESCIND"]
    revived = time.monotonic()
    scheduler.call("REVIVE")
    scheduler.offers(timeout=2)
    assert time.monotonic() - revived < 0.5


def _golden_id() -> str:
    return golden.load("10-suppress-revive")["streams"][0]["framework_id"]


def test_suppress_and_revive_by_role(devcluster_module, subscribe):
    scheduler = subscribe(devcluster_module.url)
    scheduler.call("SUPPRESS", {"roles": ["*"]})
    scheduler.decline(scheduler.offers()[0], refuse_seconds=0.1)
    with pytest.raises(TimeoutError):
        scheduler.offers(timeout=1.5)
    scheduler.call("REVIVE", {"roles": ["*"]})
    scheduler.offers(timeout=2)


def test_offers_in_the_default_format_for_a_framework_without_multi_role(
    devcluster_module, subscribe
):
    scheduler = subscribe(devcluster_module.url, {"user": "root", "name": "single-role"})
    offer = scheduler.offers()[0]
    assert "allocation_info" not in offer
    assert all("allocation_info" not in r and r["role"] == "*" for r in offer["resources"])
