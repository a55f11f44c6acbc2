"""SUBSCRIBE against devcluster, held to 01-subscribe, 08-bad-requests and 09-failover."""

from __future__ import annotations

import json
import time

import pytest

from tests.devcluster import golden
from tests.devcluster.client import EOF, RecordIODecoder, Stream, framework_info

pytestmark = pytest.mark.devcluster


def _golden_records() -> list[str]:
    return list(golden.load("01-subscribe")["raw_first_records"])


def _as_here(record: str, master: str, agent: dict) -> bytes:
    """A golden record rewritten with this cluster's host and ports, re-framed."""
    payload = record.split("\n", 1)[1]
    host, port = master.removeprefix("http://").split(":")
    agent_host, agent_port = agent["url"].removeprefix("http://").split(":")
    payload = payload.replace(
        '"hostname":"localhost","ip":"127.0.0.1","port":5051',
        f'"hostname":"{agent_host}","ip":"{agent_host}","port":{agent_port}',
    )
    payload = (
        payload.replace('"hostname":"localhost"', f'"hostname":"{agent_host}"', 1)
        if '"OFFERS"' in payload
        else payload
    )
    payload = payload.replace("127.0.0.1:5050", f"{host}:{port}").replace(
        '"port":5050', f'"port":{port}'
    )
    payload = payload.replace('"hostname":"localhost"', f'"hostname":"{host}"')
    data = payload.encode()
    return b"%d\n%s" % (len(data), data)


def _ids_normalized(data: bytes) -> str:
    return golden.normalize(data.decode())


@pytest.mark.devcluster("--heartbeat-interval", "15")
def test_the_first_records_are_byte_for_byte_those_of_the_real_master(devcluster):
    stream = Stream(
        devcluster.url,
        {"type": "SUBSCRIBE", "subscribe": {"framework_info": framework_info("golden-subscribe")}},
    )
    try:
        stream.wait_for("OFFERS")
        decoder = RecordIODecoder()
        records = list(decoder.feed(bytes(stream.raw)))
        ours = [b"%d\n%s" % (len(r), r) for r in records[:3]]
        expected = [
            _as_here(r, devcluster.url, devcluster.agents[0]) for r in _golden_records()[:3]
        ]
        assert [_ids_normalized(r) for r in ours] == [_ids_normalized(r) for r in expected]
    finally:
        stream.close()


def test_subscribe_answers_200_chunked_json_with_a_stream_id(devcluster_module, subscribe):
    scheduler = subscribe(devcluster_module.url)
    stream = scheduler.stream
    assert stream.status == 200
    assert stream.headers["Content-Type"] == "application/json"
    assert stream.headers["Transfer-Encoding"] == "chunked"
    assert len(stream.stream_id) == 36


def test_subscribed_heartbeat_and_offers_look_like_the_real_masters(devcluster_module, subscribe):
    scheduler = subscribe(devcluster_module.url, framework_info("golden-subscribe"))
    scheduler.stream.wait_for("OFFERS")
    first = scheduler.stream.received[:3]
    recorded = golden.events("01-subscribe")[:3]
    assert sorted(e["type"] for e in first) == sorted(e["type"] for e in recorded)
    by_type = {e["type"]: e for e in first}
    for event in recorded:
        golden.assert_like(by_type[event["type"]], event)


def test_heartbeats_keep_coming_every_interval(devcluster_module, subscribe):
    scheduler = subscribe(devcluster_module.url)
    scheduler.stream.wait_for("OFFERS")
    started = time.monotonic()
    scheduler.stream.wait_for("HEARTBEAT", timeout=3)
    scheduler.stream.wait_for("HEARTBEAT", timeout=3)
    assert time.monotonic() - started > 1.0


def test_framework_ids_count_up_from_the_master_id(devcluster_module, subscribe):
    first = subscribe(devcluster_module.url).framework_id
    second = subscribe(devcluster_module.url).framework_id
    prefix = devcluster_module.master_id + "-"
    assert first.startswith(prefix) and second.startswith(prefix)
    assert int(second.rsplit("-", 1)[1]) == int(first.rsplit("-", 1)[1]) + 1
    assert len(first.rsplit("-", 1)[1]) == 4


@pytest.mark.parametrize(
    ("note", "info_change"),
    [
        ("both role and roles", {"role": "*"}),
        ("roles but without the MULTI_ROLE", {"capabilities": []}),
    ],
)
def test_an_invalid_framework_info_gets_one_error_event_then_a_clean_end(
    devcluster_module, note, info_change
):
    info = {**framework_info("golden-bad-subscribe"), **info_change}
    recorded = golden.exchange("08-bad-requests", note=note)
    stream = Stream(
        devcluster_module.url, {"type": "SUBSCRIBE", "subscribe": {"framework_info": info}}
    )
    try:
        assert stream.status == recorded["response"]["status"] == 200
        assert "Mesos-Stream-Id" in stream.headers
        event = stream.next()
        expected = [e for e in golden.events("08-bad-requests") if e["type"] == "ERROR"]
        assert event in expected
        assert stream.next() is EOF
        assert stream.wait_closed() == "eof"
    finally:
        stream.close()


def test_subscribing_again_fails_the_old_stream_over(devcluster_module, subscribe):
    scheduler = subscribe(devcluster_module.url)
    old = scheduler.stream
    new = scheduler.resubscribe()
    try:
        assert (
            new.wait_for("SUBSCRIBED")["subscribed"]["framework_id"]["value"]
            == scheduler.framework_id
        )
        assert old.wait_for("ERROR") == golden.events("09-failover", "ERROR", "B")[0]
        assert old.wait_closed() == "eof"
        assert new.stream_id != old.stream_id
        assert scheduler.call("REVIVE").status_code == 202
        wrong = scheduler.post(
            {"type": "REVIVE", "framework_id": {"value": scheduler.framework_id}},
            stream_id=old.stream_id,
        )
        recorded = golden.exchange("09-failover", note="REVIVE with stream B's id")["response"]
        assert wrong.status_code == recorded["status"]
        assert golden.normalize(wrong.text) == golden.normalize(recorded["body"])
    finally:
        old.close()


def test_resubscribing_drops_the_old_offers_and_makes_new_ones(devcluster_module, subscribe):
    scheduler = subscribe(devcluster_module.url)
    first = scheduler.offers()[0]["id"]["value"]
    stream = scheduler.resubscribe()
    second = scheduler.offers()[0]["id"]["value"]
    assert second != first
    assert stream.received[0]["type"] == "SUBSCRIBED"
    gone = scheduler.decline({"id": {"value": first}})
    assert gone.status_code == 202


def test_a_subscription_body_may_arrive_in_any_order_of_keys(devcluster_module):
    body = json.dumps({"subscribe": {"framework_info": framework_info()}, "type": "SUBSCRIBE"})
    stream = Stream(devcluster_module.url, body)
    try:
        framework_id = stream.wait_for("SUBSCRIBED")["subscribed"]["framework_id"]["value"]
        assert framework_id.startswith(devcluster_module.master_id)
    finally:
        stream.close()
