"""Incoming payloads: stream events, operator replies and agent endpoints, as a real
master and agent wrote them."""

from __future__ import annotations

import base64
import functools
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from cluster.translate import PayloadError, event_from_dict, parse_event
from cluster.translate import operator as parse
from cluster.types import (
    DisconnectCause,
    DisconnectedEvent,
    ErrorEvent,
    FailureEvent,
    HeartbeatEvent,
    InverseOffersEvent,
    MalformedEvent,
    MessageEvent,
    OffersEvent,
    OperationUpdateEvent,
    PortRange,
    RescindEvent,
    RescindInverseOfferEvent,
    ResourceTotals,
    SubscribedEvent,
    UnknownEvent,
    UpdateEvent,
    cpu_usage,
)

TRANSCRIPTS = Path(__file__).parent.parent / "mesos-transcripts"


@functools.cache
def _transcript(name: str) -> dict[str, Any]:
    return json.loads((TRANSCRIPTS / name).read_text())


def _all_events() -> list[tuple[str, dict[str, Any]]]:
    return [
        (path.name, entry["event"])
        for path in sorted(TRANSCRIPTS.glob("*.json"))
        for entry in _transcript(path.name)["events"]
    ]


def _response(name: str, *, path: str, call: str | None = None, target: str = "master") -> Any:
    for exchange in _transcript(name)["exchanges"]:
        request = exchange["request"]
        body = request["body"]
        if request["target"] != target or not request["path"].startswith(path):
            continue
        if call is None or (isinstance(body, dict) and body.get("type") == call):
            return exchange["response"]["body"]
    raise LookupError(f"{name}: no {call or path}")


def _updates(name: str) -> list[UpdateEvent]:
    events = [event_from_dict(e["event"]) for e in _transcript(name)["events"]]
    return [e for e in events if isinstance(e, UpdateEvent)]


# ---- every recorded event ------------------------------------------------------------


def test_every_event_in_every_transcript_parses_into_a_known_type() -> None:
    kinds: dict[str, int] = {}
    for name, raw in _all_events():
        event = parse_event(json.dumps(raw).encode())
        assert not isinstance(event, UnknownEvent | MalformedEvent), (name, event)
        kinds[event.kind] = kinds.get(event.kind, 0) + 1
    assert kinds == {"subscribed": 19, "heartbeat": 24, "offers": 41, "update": 75, "error": 4}


def test_subscribed_carries_the_framework_id_heartbeat_and_leader_address() -> None:
    event = event_from_dict(_transcript("01-subscribe.json")["events"][0]["event"])
    assert isinstance(event, SubscribedEvent)
    assert event.framework_id == "d79212f0-6a89-4873-b66e-53b3568dbec3-0000"
    assert event.heartbeat_interval_seconds == 15.0
    assert event.master is not None
    assert (event.master.ip, event.master.port, event.master.version) == (
        "127.0.0.1",
        5050,
        "1.12.0",
    )
    assert event.master.base_url == "http://127.0.0.1:5050"


def test_the_raw_records_of_a_real_stream_decode_to_typed_events() -> None:
    raw = _transcript("01-subscribe.json")["raw_first_records"]
    events = [parse_event(record.split("\n", 1)[1].encode()) for record in raw]
    assert [type(e) for e in events] == [
        SubscribedEvent,
        HeartbeatEvent,
        OffersEvent,
        HeartbeatEvent,
    ]


def test_an_offer_is_parsed_with_totals_ports_role_and_agent_endpoint() -> None:
    event = event_from_dict(_transcript("01-subscribe.json")["events"][2]["event"])
    assert isinstance(event, OffersEvent)
    (offer,) = event.offers
    assert offer.id == "d79212f0-6a89-4873-b66e-53b3568dbec3-O0"
    assert offer.agent_id == "77051690-f407-4ed2-8bef-7a8863608ebc-S0"
    assert offer.allocation_role == "*"
    assert offer.totals == ResourceTotals(
        cpus=2, mem=2048, disk=4096, ports=(PortRange(31000, 31100),)
    )
    assert offer.totals.port_count == 101
    assert [r.name for r in offer.resources] == ["ports", "cpus", "mem", "disk"]
    assert all(r.allocation_role == "*" and not r.is_reserved for r in offer.resources)
    assert offer.agent_endpoint is not None
    assert offer.agent_endpoint.base_url == "http://127.0.0.1:5051"
    assert offer.attributes == () and offer.executor_ids == ()


def test_executor_updates_carry_the_uuid_to_echo_and_master_updates_do_not() -> None:
    starting, running, finished = (u.status for u in _updates("02-launch-finish.json"))
    assert (starting.state, running.state, finished.state) == (
        "TASK_STARTING",
        "TASK_RUNNING",
        "TASK_FINISHED",
    )
    assert starting.uuid == "hEaAKw5aSB69UdZobrRzAg==" and starting.needs_ack
    assert starting.source == "SOURCE_EXECUTOR" and starting.executor_id == "echo-hello"
    assert starting.container_ips == ("127.0.0.1",) and starting.executor_pid == 5617
    assert finished.message == "Command exited with status 0" and finished.reason is None
    assert finished.info.terminal and finished.info.success
    reconciled = [
        u.status for u in _updates("07-reconcile.json") if u.status.source == "SOURCE_MASTER"
    ]
    assert reconciled and all(s.uuid is None and not s.needs_ack for s in reconciled)
    assert all(s.reason == "REASON_RECONCILIATION" for s in reconciled)


def test_launch_errors_arrive_as_master_updates_with_reasons() -> None:
    statuses = {u.status.task_id: u.status for u in _updates("05-launch-errors.json")}
    assert statuses["bad/id"].state == "TASK_ERROR"
    assert statuses["bad/id"].reason == "REASON_TASK_INVALID"
    assert statuses["unknown-offer"].state == "TASK_LOST"
    assert statuses["unknown-offer"].reason == "REASON_INVALID_OFFERS"
    assert statuses["unknown-offer"].info.badge == "bad"


def test_health_updates_report_healthy_and_unhealthy() -> None:
    health = [
        (u.status.task_id, u.status.healthy)
        for u in _updates("11-health.json")
        if u.status.reason == "REASON_TASK_HEALTH_CHECK_STATUS_UPDATED"
    ]
    assert ("health-ok", True) in health
    assert health.count(("health-bad", False)) == 2
    plain_running = next(
        u.status for u in _updates("11-health.json") if u.status.state == "TASK_STARTING"
    )
    assert plain_running.healthy is None


def test_error_events_carry_the_masters_message() -> None:
    messages = {
        e.message for _, raw in _all_events() if isinstance(e := event_from_dict(raw), ErrorEvent)
    }
    assert "Framework failed over" in messages
    assert "Framework has been removed" in messages


# ---- event types the transcripts did not exercise (shapes from the protos) -------------


def test_rescind_inverse_offers_and_rescind_inverse_offer() -> None:
    rescind = event_from_dict({"type": "RESCIND", "rescind": {"offer_id": {"value": "O17"}}})
    assert rescind == RescindEvent("O17")
    inverse = event_from_dict(
        {
            "type": "INVERSE_OFFERS",
            "inverse_offers": {
                "inverse_offers": [
                    {
                        "id": {"value": "O40"},
                        "framework_id": {"value": "fid"},
                        "agent_id": {"value": "S3"},
                        "url": {
                            "scheme": "http",
                            "address": {"ip": "10.0.0.13", "port": 5051},
                            "path": "/slave(1)",
                        },
                        "unavailability": {"start": {"nanoseconds": 1718003600000000000}},
                    }
                ]
            },
        }
    )
    assert isinstance(inverse, InverseOffersEvent)
    assert inverse.inverse_offers[0].unavailable_from_ns == 1718003600000000000
    gone = event_from_dict(
        {
            "type": "RESCIND_INVERSE_OFFER",
            "rescind_inverse_offer": {"inverse_offer_id": {"value": "O40"}},
        }
    )
    assert gone == RescindInverseOfferEvent("O40")


def test_operation_status_uuid_is_unwrapped_from_its_message() -> None:
    event = event_from_dict(
        {
            "type": "UPDATE_OPERATION_STATUS",
            "update_operation_status": {
                "status": {
                    "operation_id": {"value": "op-7"},
                    "state": "OPERATION_FINISHED",
                    "uuid": {"value": "XwyKPpsdTC6POh0uP0BRYg=="},
                    "agent_id": {"value": "S3"},
                }
            },
        }
    )
    assert event == OperationUpdateEvent(
        "op-7", "OPERATION_FINISHED", "XwyKPpsdTC6POh0uP0BRYg==", "S3"
    )


def test_message_data_is_base64_decoded() -> None:
    event = event_from_dict(
        {
            "type": "MESSAGE",
            "message": {
                "agent_id": {"value": "S3"},
                "executor_id": {"value": "e"},
                "data": "aGVsbG8gZXhlY3V0b3I=",
            },
        }
    )
    assert event == MessageEvent("S3", "e", b"hello executor")


def test_failure_status_is_a_wait_status_not_an_exit_code() -> None:
    exited = event_from_dict(
        {
            "type": "FAILURE",
            "failure": {"agent_id": {"value": "S3"}, "executor_id": {"value": "e"}, "status": 256},
        }
    )
    assert isinstance(exited, FailureEvent)
    assert (exited.exit_code, exited.signal) == (1, None)
    killed = event_from_dict(
        {"type": "FAILURE", "failure": {"executor_id": {"value": "e"}, "status": 9}}
    )
    assert isinstance(killed, FailureEvent)
    assert (killed.exit_code, killed.signal) == (None, 9)
    agent_gone = event_from_dict({"type": "FAILURE", "failure": {"agent_id": {"value": "S3"}}})
    assert agent_gone == FailureEvent("S3")


def test_the_documented_offer_with_attributes_domain_and_reservations() -> None:
    offer_json = {
        "id": {"value": "O17"},
        "framework_id": {"value": "fid"},
        "agent_id": {"value": "S3"},
        "hostname": "agent-3",
        "allocation_info": {"role": "batch"},
        "resources": [
            {
                "name": "cpus",
                "type": "SCALAR",
                "scalar": {"value": 7.5},
                "allocation_info": {"role": "batch"},
            },
            {
                "name": "cpus",
                "type": "SCALAR",
                "scalar": {"value": 0.5},
                "reservations": [
                    {"type": "STATIC", "role": "batch"},
                    {"type": "DYNAMIC", "role": "batch/hi", "principal": "ops"},
                ],
            },
            {
                "name": "mem",
                "type": "SCALAR",
                "scalar": {"value": 512},
                "role": "eng",
                "reservation": {"principal": "ops"},
            },
            {"name": "cpus", "type": "SCALAR", "scalar": {"value": 4}, "revocable": {}},
            {
                "name": "disk",
                "type": "SCALAR",
                "scalar": {"value": 1024},
                "disk": {
                    "persistence": {"id": "pg-data-1"},
                    "volume": {"container_path": "data", "mode": "RW"},
                },
            },
            {"name": "disk", "type": "SCALAR", "scalar": {"value": 90000}},
            {
                "name": "ports",
                "type": "RANGES",
                "ranges": {
                    "range": [{"begin": 31200, "end": 32000}, {"begin": 31000, "end": 31099}]
                },
            },
            {"name": "zones", "type": "SET", "set": {"item": ["a", "b"]}},
        ],
        "attributes": [
            {"name": "rack", "type": "TEXT", "text": {"value": "r1"}},
            {"name": "ssd", "type": "SCALAR", "scalar": {"value": 1}},
        ],
        "executor_ids": [{"value": "exec-1"}],
        "domain": {"fault_domain": {"region": {"name": "eu-west"}, "zone": {"name": "az-b"}}},
        "unavailability": {
            "start": {"nanoseconds": 1718000000000000000},
            "duration": {"nanoseconds": 3600000000000},
        },
    }
    event = event_from_dict({"type": "OFFERS", "offers": {"offers": [offer_json]}})
    assert isinstance(event, OffersEvent)
    (offer,) = event.offers
    refined, legacy, revocable, volume = (
        offer.resources[1],
        offer.resources[2],
        offer.resources[3],
        offer.resources[4],
    )
    assert refined.reserved_role == "batch/hi" and refined.reservations[1].principal == "ops"
    assert legacy.reserved_role == "eng" and legacy.reservations[0].type == "DYNAMIC"
    assert revocable.revocable and volume.volume_id == "pg-data-1"
    # Revocable cpus and the persistent volume are not for plain tasks.
    assert offer.totals == ResourceTotals(
        cpus=8.0, mem=512, disk=90000, ports=(PortRange(31000, 31099), PortRange(31200, 32000))
    )
    assert offer.resources[7].items == ("a", "b")
    rack = offer.attribute("rack")
    assert rack is not None and rack.value_text == "r1"
    assert [a.value_text for a in offer.attributes] == ["r1", "1"]
    assert (offer.region, offer.zone, offer.executor_ids) == ("eu-west", "az-b", ("exec-1",))
    assert (offer.unavailable_from_ns, offer.unavailable_for_ns) == (
        1718000000000000000,
        3600000000000,
    )


def test_a_task_status_with_check_status_labels_data_and_unreachable_time() -> None:
    event = event_from_dict(
        {
            "type": "UPDATE",
            "update": {
                "status": {
                    "task_id": {"value": "t"},
                    "state": "TASK_UNREACHABLE",
                    "check_status": {"type": "HTTP", "http": {"status_code": 503}},
                    "labels": {"labels": [{"key": "a", "value": "b"}, {"key": "flag"}]},
                    "data": base64.b64encode(b"\x00raw").decode(),
                    "unreachable_time": {"nanoseconds": 1718000000123456789},
                }
            },
        }
    )
    assert isinstance(event, UpdateEvent)
    status = event.status
    assert status.check_status is not None and status.check_status.http_status_code == 503
    assert [(label.key, label.value) for label in status.labels] == [("a", "b"), ("flag", None)]
    assert status.data == b"\x00raw"
    assert status.unreachable_time_ns == 1718000000123456789
    assert not status.info.terminal and status.info.badge == "warn"


# ---- what cannot be understood is reported, never raised ----------------------------------


def test_an_unknown_event_type_is_reported_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        event = parse_event(b'{"type":"SHINY_NEW_EVENT","shiny_new_event":{"x":1}}')
    assert isinstance(event, UnknownEvent) and event.type == "SHINY_NEW_EVENT"
    assert "SHINY_NEW_EVENT" in caplog.text
    assert isinstance(parse_event(b'{"type":"UNKNOWN"}'), UnknownEvent)


@pytest.mark.parametrize(
    ("record", "problem"),
    [
        (b"not json", "not a JSON document"),
        (b"\xff\xfe", "not a JSON document"),
        (b"[1, 2]", "event: expected an object"),
        (b'{"kind":"HEARTBEAT"}', "event.type: expected a string"),
        (b'{"type":"UPDATE"}', "event.update: expected an object"),
        (
            b'{"type":"UPDATE","update":{"status":{"state":"TASK_RUNNING"}}}',
            "update.status.task_id",
        ),
        (
            b'{"type":"OFFERS","offers":{"offers":[{"id":{"value":1}}]}}',
            "offers.offers[0].id.value",
        ),
        (
            b'{"type":"UPDATE","update":{"status":{"task_id":{"value":"t"},"state":"TASK_RUNNING","healthy":"yes"}}}',
            "update.status.healthy: expected true or false",
        ),
        (
            b'{"type":"MESSAGE","message":{"agent_id":{"value":"a"},"executor_id":{"value":"e"},"data":"!!"}}',
            "base64",
        ),
        (b'{"type":"ERROR","error":{}}', "error.message"),
    ],
)
def test_a_malformed_record_is_reported_with_the_path_that_was_wrong(
    record: bytes, problem: str
) -> None:
    event = parse_event(record)
    assert isinstance(event, MalformedEvent)
    assert problem in event.problem
    assert event.raw


def test_a_huge_malformed_record_is_truncated_for_the_log() -> None:
    event = parse_event(b'{"type":"UPDATE","update":"' + b"x" * 10_000 + b'"}')
    assert isinstance(event, MalformedEvent)
    assert len(event.raw) < 600 and event.raw.endswith("chars)")


def test_bare_infinity_tokens_from_mesos_are_accepted() -> None:
    record = (
        b'{"type":"UPDATE","update":{"status":{"task_id":{"value":"t"},'
        b'"state":"TASK_RUNNING","timestamp":Infinity}}}'
    )
    event = parse_event(record)
    assert isinstance(event, UpdateEvent)


def test_a_disconnect_after_framework_removal_says_so() -> None:
    removed = DisconnectedEvent(DisconnectCause.ERROR, "Framework has been removed")
    assert removed.framework_removed
    assert not DisconnectedEvent(DisconnectCause.ERROR, "Framework failed over").framework_removed


# ---- operator API replies ------------------------------------------------------------------


def test_get_agents_gives_total_and_allocated_resources() -> None:
    body = parse.response_body(
        _response("12-operator.json", path="/api/v1", call="GET_AGENTS"), "GET_AGENTS"
    )
    (agent,) = parse.parse_agents(body)
    assert agent.agent_id == "77051690-f407-4ed2-8bef-7a8863608ebc-S0"
    assert (agent.hostname, agent.port, agent.active) == ("localhost", 5051, True)
    assert agent.total == ResourceTotals(
        cpus=2, mem=2048, disk=4096, ports=(PortRange(31000, 31100),)
    )
    assert (agent.allocated.cpus, agent.allocated.mem) == (0.1, 32)
    assert agent.free == ResourceTotals(cpus=1.9, mem=2016, disk=4096)
    assert agent.registered_time_ns == 1795652297842259968


def test_get_state_holds_agents_frameworks_and_tasks() -> None:
    body = parse.response_body(
        _response("12-operator.json", path="/api/v1", call="GET_STATE"), "GET_STATE"
    )
    state = parse.parse_state(body)
    assert len(state.agents) == 1
    assert [f.name for f in state.frameworks] == ["golden-operator"]
    (task,) = state.tasks
    assert (task.task_id, task.state, task.executor_id) == ("op-sleep", "TASK_RUNNING", None)
    assert task.resources.cpus == 0.1
    assert [s.state for s in task.statuses] == ["TASK_STARTING", "TASK_RUNNING"]
    assert task.status_update_uuid == task.statuses[-1].uuid


def test_get_frameworks_separates_live_and_completed() -> None:
    reply = _response("12-operator.json", path="/api/v1", call="GET_FRAMEWORKS")
    live, done = parse.parse_frameworks(parse.response_body(reply, "GET_FRAMEWORKS"))
    (framework,) = live
    assert (framework.active, framework.connected, framework.roles) == (True, True, ("*",))
    assert framework.capabilities == ("MULTI_ROLE",) and framework.failover_timeout == 60
    assert framework.allocated.mem == 32
    assert done and all(not f.active for f in done) and done[0].unregistered_time_ns


def test_get_master_version_and_metrics() -> None:
    master = parse.parse_master(
        parse.response_body(
            _response("12-operator.json", path="/api/v1", call="GET_MASTER"), "GET_MASTER"
        )
    )
    assert (
        master.master.base_url == "http://127.0.0.1:5050" and master.start_time == 1795652227.077746
    )
    version = parse.parse_version(
        parse.response_body(
            _response("12-operator.json", path="/api/v1", call="GET_VERSION"), "GET_VERSION"
        )
    )
    assert version.version == "1.12.0" and version.git_sha is None
    metrics = parse.parse_metrics_list(
        parse.response_body(
            _response("12-operator.json", path="/api/v1", call="GET_METRICS"), "GET_METRICS"
        )
    )
    assert len(metrics) == 354
    summary = parse.cluster_metrics(metrics)
    assert (summary.cpus_total, summary.cpus_used, summary.cpus_percent) == (2.0, 0.1, 0.05)
    assert summary.elected and summary.agents_active == 1


def test_the_metrics_snapshot_becomes_utilization_figures() -> None:
    snapshot = parse.parse_metrics_snapshot(_response("13-legacy.json", path="/metrics/snapshot"))
    metrics = parse.cluster_metrics(snapshot)
    assert (metrics.cpus_used, metrics.cpus_total, metrics.cpus_percent) == (0.5, 2.0, 0.25)
    assert metrics.mem_percent == pytest.approx(0.015625)
    assert (metrics.tasks_running, metrics.tasks_killed) == (1, 1)
    assert metrics.values["master/mem_used"] == 32


def test_missing_metrics_read_as_zero() -> None:
    metrics = parse.cluster_metrics({})
    assert (metrics.cpus_total, metrics.cpus_percent, metrics.elected) == (0.0, 0.0, False)


def test_a_reply_of_the_wrong_type_is_a_payload_error() -> None:
    with pytest.raises(PayloadError, match="expected GET_AGENTS"):
        parse.response_body({"type": "GET_HEALTH", "get_health": {"healthy": True}}, "GET_AGENTS")
    with pytest.raises(PayloadError, match=r"get_agents.agents\[0\].agent_info"):
        parse.parse_agents({"agents": [{"active": True}]})
    with pytest.raises(PayloadError, match=r"metrics\.master/cpus_total"):
        parse.parse_metrics_snapshot({"master/cpus_total": "many"})


# ---- agent endpoints -----------------------------------------------------------------------


def test_agent_state_finds_the_sandbox_of_a_running_and_a_completed_task() -> None:
    state = parse.parse_agent_state(_response("13-legacy.json", path="/state", target="agent"))
    running = state.sandbox_directory("d79212f0-6a89-4873-b66e-53b3568dbec3-0002", "burn")
    assert running == (
        "/var/lib/mesos/agent/slaves/77051690-f407-4ed2-8bef-7a8863608ebc-S0/frameworks/"
        "d79212f0-6a89-4873-b66e-53b3568dbec3-0002/executors/burn/runs/4e972eac-f045-4161-82f3-2965a24c2bee"
    )
    done = state.sandbox_directory(
        "c291de79-a660-427c-bfdb-fa2d27428b72-0000", "probe-fail-20478fa1"
    )
    assert done is not None and done.endswith("/runs/1d63013e-6045-4fec-a3d3-e0b2932f2a1e")
    assert (
        state.sandbox_directory("d79212f0-6a89-4873-b66e-53b3568dbec3-0002", "no-such-task") is None
    )


def test_monitor_statistics_use_the_soft_limit_when_posix_isolation_reports_only_that() -> None:
    exchanges = [
        e["response"]["body"]
        for e in _transcript("13-legacy.json")["exchanges"]
        if e["request"]["path"] == "/monitor/statistics"
    ]
    (first,), (second,) = (parse.parse_statistics(body) for body in exchanges)
    assert (first.executor_id, first.cpus_limit, first.mem_rss_bytes) == ("burn", 0.6, 453935104)
    assert first.disk_used_bytes is None and first.threads is None
    usage = cpu_usage(first, second)
    assert usage == pytest.approx((5.32 - 3.29) / (1795652352.6855397 - 1795652350.657994))
    assert cpu_usage(second, first) is None


def test_files_browse_and_read_replies() -> None:
    listing = parse.parse_browse(_response("13-legacy.json", path="/files/browse", target="agent"))
    assert [(f.name, f.size, f.is_dir) for f in listing] == [
        ("stderr", 535, False),
        ("stdout", 13, False),
    ]
    assert listing[0].mode == "-rw-r--r--" and listing[0].uid == "root"
    chunk = parse.parse_file_chunk({"data": "hello-stdout\n", "offset": 0})
    assert (chunk.data, chunk.offset) == (b"hello-stdout\n", 0)
    # Bytes that are not UTF-8 come back through surrogateescape unchanged.
    raw = json.loads(b'{"data":"\xff\xfeok","offset":3}'.decode("utf-8", "surrogateescape"))
    assert parse.parse_file_chunk(raw).data == b"\xff\xfeok"
