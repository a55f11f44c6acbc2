"""The Mesos HTTP client against a real devcluster over real HTTP.

Every test subscribes a framework of its own and tears it down, so tests also hold when
the devcluster is shared.
"""

from __future__ import annotations

import contextlib
import queue
import ssl
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import httpx
import pytest

from cluster.client import (
    AgentClient,
    HttpOptions,
    MesosError,
    MesosHttpError,
    MesosUnreachable,
    NotSubscribed,
    OperatorClient,
    SandboxFileNotFound,
    SchedulerConnection,
    SubscribeRejected,
    sandbox_path,
)
from cluster.client.http import normalize_base_url, resolve_redirect
from cluster.client.stream import EventStream
from cluster.recordio import encode_all
from cluster.types import (
    CommandSpec,
    DisconnectCause,
    DisconnectedEvent,
    Event,
    FrameworkInfo,
    HeartbeatEvent,
    MalformedEvent,
    Offer,
    OffersEvent,
    SubscribedEvent,
    TaskSpec,
    TaskStatus,
    UnknownEvent,
    UpdateEvent,
)
from tests.devcluster_fixture import DevCluster

E = TypeVar("E")
WAIT = 15.0  # generous: the suite may run on a loaded 2-core machine


class Recorder:
    """Reads a connection's queue, remembering everything seen."""

    def __init__(self, conn: SchedulerConnection) -> None:
        self.conn = conn
        self.seen: list[Event] = []

    def next(
        self, kind: type[E], where: Callable[[E], bool] = lambda _e: True, timeout: float = WAIT
    ) -> E:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            try:
                event = self.conn.events.get(timeout=max(remaining, 0.01))
            except queue.Empty:
                kinds = [e.kind for e in self.seen[-10:]]
                raise AssertionError(
                    f"no {kind.__name__} within {timeout} s; last: {kinds}"
                ) from None
            self.seen.append(event)
            if isinstance(event, kind) and where(event):
                return event

    def offer(self) -> Offer:
        return self.next(OffersEvent).offers[0]

    def update(self, task_id: str, state: str, *, ack: bool = True) -> TaskStatus:
        """Wait for ``state`` of ``task_id``, acknowledging every update on the way."""
        while True:
            status = self.next(UpdateEvent, lambda e: e.status.task_id == task_id).status
            if ack:
                self.conn.acknowledge(status)
            if status.state == state:
                return status

    def nothing(self, kind: type[Any], seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                event = self.conn.events.get(timeout=remaining)
            except queue.Empty:
                return
            self.seen.append(event)
            assert not isinstance(event, kind), f"unexpected {event}"


def _info(name: str, **kwargs: Any) -> FrameworkInfo:
    return FrameworkInfo(user="root", name=name, failover_timeout=60, **kwargs)


def _connection(*masters: str, **kwargs: Any) -> SchedulerConnection:
    kwargs.setdefault("heartbeat_misses", 3)
    kwargs.setdefault("backoff_base", 0.05)
    kwargs.setdefault("backoff_cap", 0.2)
    return SchedulerConnection(list(masters), **kwargs)


def _finish(conn: SchedulerConnection) -> None:
    if conn.framework_id is not None and conn.stream_id is not None:
        with contextlib.suppress(MesosError):  # already gone: nothing to clean up
            conn.teardown()
    conn.close()


def _task(task_id: str, line: str, **kwargs: Any) -> TaskSpec:
    return TaskSpec(
        task_id=task_id,
        name=task_id,
        command=CommandSpec.shell_line(line),
        cpus=0.1,
        mem=32,
        **kwargs,
    )


def _subscribed(url: str) -> Iterator[Recorder]:
    conn = _connection(url)
    conn.connect(_info("berth-test"))
    yield Recorder(conn)
    _finish(conn)


@pytest.fixture
def cluster(devcluster_module: DevCluster) -> DevCluster:
    """Shared by this module: every test subscribes, and tears down, its own framework."""
    return devcluster_module


@pytest.fixture
def scheduler(cluster: DevCluster) -> Iterator[Recorder]:
    yield from _subscribed(cluster.url)


@pytest.fixture
def lone_scheduler(devcluster: DevCluster) -> Iterator[Recorder]:
    """On a devcluster of its own: for tests that restart the master or count tasks."""
    yield from _subscribed(devcluster.url)


# ---- subscribe, launch, files ------------------------------------------------------------


@pytest.mark.devcluster
def test_it_subscribes_and_receives_subscribed_heartbeat_and_offers(
    cluster: DevCluster, scheduler: Recorder
) -> None:
    subscribed = scheduler.next(SubscribedEvent)
    assert subscribed.framework_id == scheduler.conn.framework_id
    assert subscribed.heartbeat_interval_seconds == 1.0
    assert scheduler.conn.leader_url == cluster.url
    assert scheduler.conn.stream_id is not None and len(scheduler.conn.stream_id) == 36
    offer = scheduler.offer()
    assert offer.totals.cpus == 2 and offer.totals.mem == 2048
    assert offer.agent_id == cluster.agent_ids[0]
    assert offer.agent_endpoint is not None
    assert offer.agent_endpoint.base_url == cluster.agents[0]["url"]
    scheduler.next(HeartbeatEvent)
    scheduler.conn.close()  # wakes an event loop blocked on the queue
    assert scheduler.next(DisconnectedEvent).cause is DisconnectCause.CLOSED


@pytest.mark.devcluster
def test_it_launches_echo_hello_acknowledges_each_update_and_reads_stdout(
    scheduler: Recorder,
) -> None:
    conn = scheduler.conn
    offer = scheduler.offer()
    (sent,) = conn.launch([offer], [_task("echo-hello", "echo hello")])
    assert sent["agent_id"] == {"value": offer.agent_id}
    starting = scheduler.update("echo-hello", "TASK_STARTING")
    running = scheduler.update("echo-hello", "TASK_RUNNING")
    finished = scheduler.update("echo-hello", "TASK_FINISHED")
    assert all(s.uuid and s.source == "SOURCE_EXECUTOR" for s in (starting, running, finished))
    assert finished.message == "Command exited with status 0"

    assert conn.framework_id is not None
    with AgentClient.for_offer(offer) as agent:
        assert agent.read_sandbox_file(conn.framework_id, "echo-hello", "stdout") == "hello\n"
        path = sandbox_path(conn.framework_id, "echo-hello", "stdout")
        assert agent.file_size(path) == 6
        assert agent.read(path, 1, 3).data == b"ell"
        assert agent.download(path) == b"hello\n"
        names = {f.name for f in agent.browse(sandbox_path(conn.framework_id, "echo-hello"))}
        assert {"stdout", "stderr"} <= names
        directory = agent.sandbox_directory(conn.framework_id, "echo-hello")
        assert directory is not None
        assert {f.name for f in agent.browse(directory)} == names
        with pytest.raises(SandboxFileNotFound, match="not found on agent"):
            agent.read_sandbox_file(conn.framework_id, "never-ran", "stdout")


@pytest.mark.devcluster
def test_several_tasks_launch_in_one_accept_and_each_reports_its_outcome(
    scheduler: Recorder,
) -> None:
    conn = scheduler.conn
    offer = scheduler.offer()
    tasks = [
        _task("ports-a", 'echo "$MESOS_ALLOCATION_ROLE"', ports=(31005, 31006)),
        _task("ports-b", "true", ports=(31007,)),
        _task("exit-3", "exit 3"),
    ]
    infos = conn.launch([offer], tasks, refuse_seconds=0)
    assert infos[0]["resources"][-1]["ranges"] == {"range": [{"begin": 31005, "end": 31006}]}
    scheduler.update("ports-a", "TASK_FINISHED")
    scheduler.update("ports-b", "TASK_FINISHED")
    failed = scheduler.update("exit-3", "TASK_FAILED")
    assert failed.message == "Command exited with status 3"
    assert failed.info.terminal and not failed.info.success and failed.info.badge == "bad"
    assert conn.framework_id is not None
    with AgentClient.for_offer(offer) as agent:
        assert agent.read_sandbox_file(conn.framework_id, "ports-a") == "*\n"


@pytest.mark.devcluster
def test_the_tail_of_a_long_log_is_read_through_a_size_probe_and_pages(scheduler: Recorder) -> None:
    conn = scheduler.conn
    offer = scheduler.offer()
    # 200 000 bytes: four /files/read pages of 64 KiB.
    conn.launch([offer], [_task("long-log", "yes 0123456789abcdefghi | head -c 200000")])
    scheduler.update("long-log", "TASK_FINISHED")
    assert conn.framework_id is not None
    with AgentClient.for_offer(offer) as agent:
        whole = agent.read_sandbox_file(conn.framework_id, "long-log")
        assert len(whole) == 200_000 and whole.startswith("0123456789abcdefghi\n")
        assert (
            agent.read_sandbox_file(conn.framework_id, "long-log", tail_bytes=100) == whole[-100:]
        )
        assert (
            len(agent.read_sandbox_file(conn.framework_id, "long-log", max_bytes=70_000)) == 70_000
        )


# ---- decline, kill, reconcile, suppress, revive -------------------------------------------


@pytest.mark.devcluster
def test_a_declined_offer_stays_away_until_revive_clears_the_filter(scheduler: Recorder) -> None:
    offer = scheduler.offer()
    scheduler.conn.decline([offer.id], refuse_seconds=3600)
    scheduler.nothing(OffersEvent, 2.0)  # four allocation cycles
    scheduler.conn.revive()
    assert scheduler.offer().agent_id == offer.agent_id


@pytest.mark.devcluster
def test_kill_sends_task_killing_then_task_killed(cluster: DevCluster) -> None:
    conn = _connection(cluster.url)
    recorder = Recorder(conn)
    try:
        conn.connect(_info("kill-test", capabilities=("MULTI_ROLE", "TASK_KILLING_STATE")))
        offer = recorder.offer()
        conn.launch([offer], [_task("sleeper", "sleep 600")])
        running = recorder.update("sleeper", "TASK_RUNNING")
        conn.kill("sleeper", agent_id=running.agent_id, grace_seconds=1)
        recorder.update("sleeper", "TASK_KILLING")
        killed = recorder.update("sleeper", "TASK_KILLED")
        assert killed.info.terminal and killed.info.badge == "neutral"
    finally:
        _finish(conn)


@pytest.mark.devcluster
def test_reconcile_answers_without_uuid_and_such_updates_are_not_acknowledged(
    scheduler: Recorder,
) -> None:
    conn = scheduler.conn
    offer = scheduler.offer()
    conn.launch([offer], [_task("rec-running", "sleep 600")])
    scheduler.update("rec-running", "TASK_RUNNING")

    conn.reconcile([("rec-running", offer.agent_id), ("no-such-task", offer.agent_id)])
    answer = scheduler.update("rec-running", "TASK_RUNNING", ack=False)
    assert (answer.source, answer.reason, answer.uuid) == (
        "SOURCE_MASTER",
        "REASON_RECONCILIATION",
        None,
    )
    assert conn.acknowledge(answer) is False
    unknown = scheduler.next(UpdateEvent, lambda e: e.status.task_id == "no-such-task").status
    assert unknown.state in ("TASK_GONE", "TASK_LOST") and unknown.uuid is None

    conn.reconcile()  # implicit: every task the master knows
    implicit = scheduler.update("rec-running", "TASK_RUNNING", ack=False)
    assert implicit.reason == "REASON_RECONCILIATION"


@pytest.mark.devcluster
def test_suppress_stops_offers_and_revive_brings_them_back(scheduler: Recorder) -> None:
    conn = scheduler.conn
    offer = scheduler.offer()
    conn.suppress(["*"])
    conn.decline([offer.id], refuse_seconds=0)
    scheduler.nothing(OffersEvent, 2.0)
    conn.revive(["*"])
    scheduler.offer()


# ---- leader detection, redirects, errors ----------------------------------------------------


@pytest.mark.devcluster
def test_a_follower_redirects_subscribe_calls_and_operator_reads_to_the_leader(
    cluster: DevCluster,
) -> None:
    with DevCluster("--leader", cluster.url, "--agents", "0") as follower:
        conn = _connection(follower.url)
        recorder = Recorder(conn)
        try:
            conn.connect(_info("redirected"))
            assert conn.leader_url == cluster.url
            offer = recorder.offer()
            conn.decline([offer.id], refuse_seconds=0)  # a call, on the leader
        finally:
            _finish(conn)
        with OperatorClient([follower.url]) as operator:
            assert operator.get_health() is True
            assert operator.cluster_metrics().elected
            assert [a.agent_id for a in operator.get_agents()] == cluster.agent_ids


@pytest.mark.devcluster
def test_connect_skips_a_dead_master_and_gives_up_after_the_last_round(
    cluster: DevCluster,
) -> None:
    dead = "http://127.0.0.1:9"  # discard port: connection refused
    # Credentials go along as Basic auth; a master without authentication ignores them.
    options = HttpOptions(principal="berth", secret="s3cret")
    conn = _connection(dead, cluster.url, options=options)
    try:
        conn.connect(_info("skips-dead", principal="berth"))
        assert conn.leader_url == cluster.url
    finally:
        _finish(conn)
    assert "s3cret" not in repr(options)
    lonely = _connection(dead)
    with pytest.raises(MesosUnreachable, match=r"127\.0\.0\.1:9"):
        lonely.connect(_info("nobody-home"), max_rounds=2)
    lonely.close()


@pytest.mark.devcluster
def test_call_errors_carry_the_status_and_the_masters_text(cluster: DevCluster) -> None:
    conn = _connection(cluster.url)
    with pytest.raises(NotSubscribed):
        conn.revive()
    recorder = Recorder(conn)
    conn.connect(_info("torn-down"))
    framework_id = conn.framework_id
    assert framework_id is not None
    stream_id = conn.stream_id
    conn.teardown()
    ended = recorder.next(DisconnectedEvent)
    assert ended.cause is DisconnectCause.EOF and ended.stream_id == stream_id

    conn.framework_id = framework_id  # keep using the removed id on purpose
    with pytest.raises(MesosHttpError) as caught:
        conn.revive()
    assert caught.value.status == 400
    assert "Framework cannot be found" in caught.value.text
    with pytest.raises(SubscribeRejected) as rejected:
        conn.subscribe(_info("torn-down", id=framework_id))
    assert rejected.value.framework_removed
    conn.close()


# ---- dead streams and failover --------------------------------------------------------------


@pytest.mark.devcluster
def test_a_silent_master_is_detected_and_the_framework_resubscribes_with_both_ids(
    cluster: DevCluster, scheduler: Recorder
) -> None:
    conn = scheduler.conn
    framework_id, old_stream = conn.framework_id, conn.stream_id
    assert framework_id is not None
    cluster.stop_heartbeats(framework_id)
    ended = scheduler.next(DisconnectedEvent)
    assert ended.cause is DisconnectCause.STALLED and "no bytes" in ended.reason
    assert conn.is_current(ended)

    cluster.resume_heartbeats(framework_id)
    again = conn.connect(_info("berth-test"))
    assert again.framework_id == framework_id
    assert conn.stream_id != old_stream
    assert not conn.is_current(ended)
    scheduler.next(HeartbeatEvent)


@pytest.mark.devcluster
def test_a_dropped_connection_ends_the_stream_with_a_typed_disconnect(
    cluster: DevCluster, scheduler: Recorder
) -> None:
    assert scheduler.conn.framework_id is not None
    cluster.drop_framework(scheduler.conn.framework_id)
    ended = scheduler.next(DisconnectedEvent)
    assert ended.cause in (DisconnectCause.EOF, DisconnectCause.TRANSPORT)
    assert ended.master_url is not None and ended.master_url.startswith(cluster.url)


@pytest.mark.devcluster
def test_after_a_scheduler_crash_a_new_process_resubscribes_and_gets_unacked_updates(
    cluster: DevCluster,
) -> None:
    first = _connection(cluster.url)
    recorder = Recorder(first)
    first.connect(_info("failover"))
    framework_id = first.framework_id
    assert framework_id is not None
    first.launch([recorder.offer()], [_task("survivor", "sleep 600")])
    recorder.update("survivor", "TASK_STARTING")
    running = recorder.update("survivor", "TASK_RUNNING", ack=False)
    first.close()  # the process dies without acknowledging RUNNING

    second = _connection(cluster.url)
    successor = Recorder(second)
    try:
        subscribed = second.connect(_info("failover", id=framework_id))
        assert subscribed.framework_id == framework_id
        resent = successor.update("survivor", "TASK_RUNNING")
        assert resent.uuid == running.uuid
        second.reconcile([("survivor", resent.agent_id)])
        assert successor.update("survivor", "TASK_RUNNING", ack=False).uuid is None
    finally:
        _finish(second)


@pytest.mark.devcluster
def test_a_second_subscriber_takes_over_and_the_first_learns_it_failed_over(
    cluster: DevCluster, scheduler: Recorder
) -> None:
    framework_id = scheduler.conn.framework_id
    assert framework_id is not None
    successor = _connection(cluster.url)
    try:
        successor.subscribe(_info("berth-test", id=framework_id))
        ended = scheduler.next(DisconnectedEvent)
        assert ended.cause is DisconnectCause.ERROR and "failed over" in ended.reason
        assert not ended.framework_removed
        with pytest.raises(MesosHttpError) as caught:
            scheduler.conn.revive()  # the old stream id is stale now
        assert caught.value.status == 400 and "stream ID" in caught.value.text
        successor.revive()
    finally:
        _finish(successor)


@pytest.mark.devcluster
def test_after_a_master_failover_the_framework_resubscribes_and_reconciles(
    devcluster: DevCluster, lone_scheduler: Recorder
) -> None:
    conn = lone_scheduler.conn
    framework_id = conn.framework_id
    conn.launch([lone_scheduler.offer()], [_task("outlives-master", "sleep 600")])
    running = lone_scheduler.update("outlives-master", "TASK_RUNNING")
    devcluster.restart_master()
    ended = lone_scheduler.next(DisconnectedEvent)
    assert ended.cause in (DisconnectCause.EOF, DisconnectCause.TRANSPORT)
    assert conn.connect(_info("berth-test")).framework_id == framework_id
    conn.reconcile([("outlives-master", running.agent_id)])
    again = lone_scheduler.next(UpdateEvent, lambda e: e.status.task_id == "outlives-master").status
    assert again.state == "TASK_RUNNING"


# ---- operator API and agent usage -----------------------------------------------------------


@pytest.mark.devcluster
def test_operator_reads_state_agents_frameworks_tasks_and_metrics(
    devcluster: DevCluster, lone_scheduler: Recorder
) -> None:
    conn = lone_scheduler.conn
    offer = lone_scheduler.offer()
    conn.launch([offer], [_task("op-sleep", "sleep 600")])
    lone_scheduler.update("op-sleep", "TASK_RUNNING")
    with OperatorClient(devcluster.url) as operator:
        assert operator.get_health() is True
        assert operator.get_version().version
        assert operator.get_master().master.port == int(devcluster.url.rsplit(":", 1)[1])
        state = operator.get_state()
        assert [t.task_id for t in state.tasks] == ["op-sleep"]
        assert state.frameworks[0].framework_id == conn.framework_id
        (agent,) = operator.get_agents()
        assert agent.total.cpus == 2 and agent.allocated.cpus == pytest.approx(0.1)
        live, _done = operator.get_frameworks()
        assert conn.framework_id in {f.framework_id for f in live}
        tasks, _unreachable, _completed = operator.get_tasks()
        assert tasks[0].state == "TASK_RUNNING"
        metrics = operator.get_metrics()
        assert metrics["master/cpus_total"] == 2
        usage = operator.cluster_metrics()
        assert usage.elected and usage.tasks_running == 1
        assert usage.cpus_used == pytest.approx(0.1) and usage.cpus_percent == pytest.approx(0.05)

    with AgentClient.for_offer(offer) as agent_client:
        stats = agent_client.statistics()
        assert [s.executor_id for s in stats] == ["op-sleep"]
        assert stats[0].framework_id == conn.framework_id and stats[0].timestamp > 0


# ---- pure parts of the transport ------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "location", "expected"),
    [
        (
            "http://m1:5050/api/v1/scheduler",
            "//m2:5050/api/v1/scheduler",
            "http://m2:5050/api/v1/scheduler",
        ),
        (
            "https://m1:5050/api/v1/scheduler",
            "//m2:5050/api/v1/scheduler",
            "https://m2:5050/api/v1/scheduler",
        ),
        ("http://m1:5050/api/v1", "//m2:5050", "http://m2:5050/api/v1"),
        (
            "http://m1:5050/metrics/snapshot?timeout=5secs",
            "//m2:5050",
            "http://m2:5050/metrics/snapshot?timeout=5secs",
        ),
    ],
)
def test_protocol_relative_redirects_resolve_against_our_own_url(
    current: str, location: str, expected: str
) -> None:
    assert resolve_redirect(current, location) == expected


def test_master_addresses_are_normalised_or_refused() -> None:
    assert normalize_base_url("m1:5050") == "http://m1:5050"
    assert normalize_base_url("https://m1:5050/") == "https://m1:5050"
    with pytest.raises(ValueError, match="zk://"):
        normalize_base_url("zk://zk1:2181/mesos")


def _self_signed_pem() -> str:
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "berth-test-ca")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def test_a_ca_bundle_is_accepted_as_pem_text_or_as_a_path(tmp_path: Any) -> None:
    pem = _self_signed_pem()
    from_text = HttpOptions(ca_bundle=pem).verify()
    assert isinstance(from_text, ssl.SSLContext)
    assert from_text.cert_store_stats()["x509_ca"] == 1
    bundle = tmp_path / "ca.pem"
    bundle.write_text(pem)
    from_path = HttpOptions(ca_bundle=str(bundle)).verify()
    assert isinstance(from_path, ssl.SSLContext) and from_path.cert_store_stats()["x509_ca"] == 1
    assert HttpOptions().verify() is True
    with pytest.raises(ssl.SSLError):
        HttpOptions(
            ca_bundle="-----BEGIN CERTIFICATE-----\nnot a cert\n-----END CERTIFICATE-----\n"
        ).verify()


def _stream_of(
    chunks: list[bytes], *, defer_parsing: bool = False
) -> tuple[EventStream, queue.Queue[Event]]:
    sink: queue.Queue[Event] = queue.Queue()
    response = httpx.Response(200, content=iter(chunks))
    stream = EventStream(
        response,
        client=httpx.Client(),
        url="http://m1:5050/api/v1/scheduler",
        stream_id="sid",
        sink=sink.put,
        heartbeat_misses=5,
        first_event_timeout=30,
        defer_parsing=defer_parsing,
    )
    return stream, sink


def _drain(sink: queue.Queue[Event]) -> list[Event]:
    events = []
    while True:
        event = sink.get(timeout=WAIT)
        events.append(event)
        if isinstance(event, DisconnectedEvent):
            return events


def test_the_reader_survives_unknown_and_malformed_records_and_reports_them() -> None:
    subscribed = (
        b'{"type":"SUBSCRIBED","subscribed":'
        b'{"framework_id":{"value":"f"},"heartbeat_interval_seconds":15}}'
    )
    records = [subscribed, b'{"type":"NEWER_THING"}', b"{broken", b'{"type":"HEARTBEAT"}']
    data = encode_all(records)
    stream, sink = _stream_of([data[:5], data[5:60], data[60:]])
    assert isinstance(stream.first_event(), SubscribedEvent)
    stream.start()
    events = _drain(sink)
    assert [type(e) for e in events] == [
        UnknownEvent,
        MalformedEvent,
        HeartbeatEvent,
        DisconnectedEvent,
    ]
    end = events[-1]
    assert isinstance(end, DisconnectedEvent)
    assert (end.cause, end.stream_id) == (DisconnectCause.EOF, "sid")


def test_bytes_that_are_not_recordio_end_the_stream_as_a_protocol_error() -> None:
    subscribed = b'{"type":"SUBSCRIBED","subscribed":{"framework_id":{"value":"f"}}}'
    stream, sink = _stream_of([encode_all([subscribed]), b"<html>oops</html>"])
    stream.first_event()
    stream.start()
    (end,) = _drain(sink)
    assert isinstance(end, DisconnectedEvent)
    assert end.cause is DisconnectCause.PROTOCOL and "non-numeric" in end.reason


def test_an_error_event_ends_the_stream_with_its_message() -> None:
    subscribed = b'{"type":"SUBSCRIBED","subscribed":{"framework_id":{"value":"f"}}}'
    error = b'{"type":"ERROR","error":{"message":"Framework failed over"}}'
    stream, sink = _stream_of([encode_all([subscribed, error])])
    stream.first_event()
    stream.start()
    (end,) = _drain(sink)
    assert isinstance(end, DisconnectedEvent)
    assert (end.cause, end.reason) == (DisconnectCause.ERROR, "Framework failed over")


def test_a_deferring_stream_hands_records_on_unparsed_but_still_ends_on_an_error() -> None:
    from cluster.client.stream import parsed
    from cluster.types import UnparsedEvent

    subscribed = b'{"type":"SUBSCRIBED","subscribed":{"framework_id":{"value":"f"}}}'
    update = (
        b'{"type":"UPDATE","update":{"status":{"task_id":{"value":"t1"},'
        b'"state":"TASK_ERROR","message":"bad ERROR text"}}}'
    )
    error = b'{"type":"ERROR","error":{"message":"Framework failed over"}}'
    stream, sink = _stream_of([encode_all([subscribed, update, error])], defer_parsing=True)
    stream.first_event()
    stream.start()

    handed, end = _drain(sink)

    assert isinstance(handed, UnparsedEvent)
    event = parsed(handed)
    assert isinstance(event, UpdateEvent) and event.status.state == "TASK_ERROR"
    assert isinstance(end, DisconnectedEvent)
    assert (end.cause, end.reason) == (DisconnectCause.ERROR, "Framework failed over")


def test_a_stream_cut_mid_record_says_so() -> None:
    subscribed = b'{"type":"SUBSCRIBED","subscribed":{"framework_id":{"value":"f"}}}'
    stream, sink = _stream_of([encode_all([subscribed]) + b'20\n{"type":'])
    stream.first_event()
    stream.start()
    (end,) = _drain(sink)
    assert isinstance(end, DisconnectedEvent) and "mid-record" in end.reason


def test_an_empty_answer_to_a_get_call_is_reported_not_taken_for_nothing() -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from cluster.client import InvalidResponse, OperatorClient

    class EmptyProxy(BaseHTTPRequestHandler):
        """What a misbehaving proxy in front of a master answers: 200 and no body."""

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), EmptyProxy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with OperatorClient(f"http://127.0.0.1:{server.server_port}") as operator:
            with pytest.raises(InvalidResponse):
                operator.call("GET_HEALTH")
            assert operator.call("MARK_AGENT_GONE", {"agent_id": {"value": "S1"}}) == {}
    finally:
        server.shutdown()
