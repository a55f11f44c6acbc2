"""Berth against a master that wants HTTP Basic credentials and serves only HTTPS.

A real devcluster with `--credentials`, every realm authenticated, and a certificate from a
CA made for this module: the engine subscribes, launches and follows a task to its end
(ACCEPTs and acknowledgements go through the pipelined connection), reads the sandbox back
over HTTPS, and a wrong secret or an untrusted certificate ends up as a readable reason in
the framework's status while the engine waits longer between tries.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command

from cluster.actions import task_submit
from cluster.client import (
    AgentClient,
    HttpOptions,
    MesosError,
    MesosHttpError,
    MesosUnreachable,
    OperatorClient,
    SchedulerConnection,
)
from cluster.client.pipeline import Pipeline
from cluster.framework import ClusterEngine
from cluster.leader import FRAMEWORK_LEASE, lease_acquire
from cluster.models import FrameworkRecord, Task
from cluster.states import TaskState
from cluster.store import DjangoStore, cluster_configs
from cluster.types import CommandSpec, FrameworkInfo, OffersEvent, TaskSpec
from portal import crypto
from portal.models import Environment
from tests.cluster.framework_harness import (
    SHARED_DB,
    EngineThread,
    faster,
    point_environments_at,
    shared_db,  # noqa: F401 (a fixture)
    wait_for,
    wait_state,
)
from tests.devcluster_fixture import DevCluster
from tests.tls_files import TlsFiles, make_tls_files

pytestmark = SHARED_DB
PRINCIPAL, SECRET = "berth", "s3cret-Ω"
FINISHED = TaskState.FINISHED.value


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, tls: TlsFiles) -> Iterator[DevCluster]:
    work = tmp_path_factory.mktemp("secure-devcluster")
    credentials = work / "credentials.json"
    entries = [{"principal": PRINCIPAL, "secret": SECRET}, {"principal": "ops", "secret": "o"}]
    credentials.write_text(json.dumps({"credentials": entries}))
    credentials.chmod(0o600)
    options = (
        "--credentials", str(credentials), "--authenticate-http-readonly",
        "--authenticate-http-readwrite", "--tls-cert", str(tls.cert), "--tls-key", str(tls.key),
    )  # fmt: skip
    with DevCluster(*options, work_dir=work / "devcluster") as running:
        yield running


def _environment(
    request: pytest.FixtureRequest, cluster: DevCluster, *, secret: str, ca: str
) -> Environment:
    request.getfixturevalue("shared_db")
    (environment,) = point_environments_at(cluster, "dev")
    environment.mesos_principal = PRINCIPAL
    environment.mesos_secret_encrypted = crypto.encrypt(secret)
    environment.mesos_ca_bundle = ca
    environment.save()
    return environment


@pytest.fixture
def dev(request: pytest.FixtureRequest, cluster: DevCluster, tls: TlsFiles) -> Environment:
    return _environment(request, cluster, secret=SECRET, ca=tls.ca_pem)


def options(tls: TlsFiles, secret: str = SECRET) -> HttpOptions:
    return HttpOptions(principal=PRINCIPAL, secret=secret, ca_bundle=tls.ca_pem)


def engine_on(cluster: DevCluster, clock: list[float] | None = None) -> ClusterEngine:
    (config,) = [c for c in cluster_configs() if c.key == cluster.url]
    opts = faster(backoff_base=4.0, backoff_cap=8.0)
    if clock is None:
        return ClusterEngine(config, DjangoStore(), opts)
    return ClusterEngine(config, DjangoStore(), opts, clock=lambda: clock[0])


def teardown(cluster: DevCluster, tls: TlsFiles, framework_id: str | None) -> None:
    if framework_id is None:
        return
    with OperatorClient(cluster.url, options=options(tls)) as operator:
        operator.call("TEARDOWN", {"framework_id": {"value": framework_id}})


def submit(env: Environment, line: str) -> Task:
    spec = TaskSpec(task_id="", name="t", command=CommandSpec.shell_line(line), cpus=0.1, mem=32)
    return task_submit(owner_kind="test", owner_id=1, instance="i1", environment=env, spec=spec)


def test_the_engine_runs_a_task_to_its_end_over_tls_with_credentials(
    dev: Environment, cluster: DevCluster, tls: TlsFiles
) -> None:
    assert cluster.url.startswith("https://")
    running = EngineThread(engine_on(cluster), teardown=False)
    try:
        with running as engine:
            wait_for("the subscription", lambda: engine.connected)
            task = wait_state(submit(dev, "echo over tls"), FINISHED)
    finally:
        teardown(cluster, tls, running.engine.framework_id)

    # STARTING was acknowledged (pipelined) before the agent sent RUNNING, and so on.
    trail = list(task.statuses.values_list("state", flat=True))
    assert trail == ["TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"]
    assert task.exit_code == 0
    assert task.agent_url.startswith("https://127.0.0.")
    with AgentClient(task.agent_url, options=options(tls)) as agent:
        assert agent.read_sandbox_file(task.framework_id, task.mesos_task_id) == "over tls\n"
    record = FrameworkRecord.objects.get(cluster_key=cluster.url)
    assert record.last_error == ""
    assert record.leader_url == cluster.url


def test_a_wrong_secret_is_the_recorded_reason_and_the_engine_waits_before_retrying(
    request: pytest.FixtureRequest, cluster: DevCluster, tls: TlsFiles
) -> None:
    _environment(request, cluster, secret="not-the-secret", ca=tls.ca_pem)
    clock = [1000.0]
    engine = engine_on(cluster, clock)
    try:
        assert engine.step_connect()

        assert not engine.connected
        assert "HTTP 401" in engine.last_error
        assert "principal and secret" in engine.last_error
        assert "not-the-secret" not in engine.last_error
        record = FrameworkRecord.objects.get(cluster_key=cluster.url)
        assert (record.connected, record.last_error) == (False, engine.last_error)
        # Until its backoff has passed the engine does not try again, however often it runs.
        for _ in range(50):
            engine.run_once()
            assert not engine.step_connect()
        clock[0] += 8.0  # the backoff cap: the next try is due
        assert engine.step_connect()
        assert "HTTP 401" in engine.last_error
    finally:
        engine.close()


def test_without_the_ca_bundle_the_reason_is_the_untrusted_certificate(
    request: pytest.FixtureRequest, cluster: DevCluster
) -> None:
    _environment(request, cluster, secret=SECRET, ca="")
    engine = engine_on(cluster, [0.0])
    try:
        engine.step_connect()

        assert not engine.connected
        assert "certificate verify failed" in engine.last_error
        assert "CA bundle" in engine.last_error
        assert FrameworkRecord.objects.get(cluster_key=cluster.url).last_error == engine.last_error
    finally:
        engine.close()


@contextlib.contextmanager
def subscribed(cluster: DevCluster, tls: TlsFiles) -> Iterator[SchedulerConnection]:
    info = FrameworkInfo(user="root", name="auth-tls", failover_timeout=60, principal=PRINCIPAL)
    with SchedulerConnection(cluster.url, options=options(tls)) as conn:
        conn.subscribe(info)
        try:
            yield conn
        finally:
            with contextlib.suppress(MesosError):
                conn.teardown()


def first_offers(conn: SchedulerConnection) -> OffersEvent:
    while True:
        event = conn.events.get(timeout=15)
        if isinstance(event, OffersEvent):
            return event


def test_pipelined_calls_carry_the_credentials_over_tls(cluster: DevCluster, tls: TlsFiles) -> None:
    with subscribed(cluster, tls) as conn:
        offer_ids = [o.id for o in first_offers(conn).offers]
        calls = [{"type": "REVIVE", "framework_id": {"value": conn.framework_id}}] * 200
        decline = {
            "type": "DECLINE",
            "framework_id": {"value": conn.framework_id},
            "decline": {"offer_ids": [{"value": o} for o in offer_ids]},
        }

        assert conn.send_many([*calls, decline]) == [None] * 201

        # The same calls with a wrong secret are refused one by one, not dropped.
        headers = {"Content-Type": "application/json", "Mesos-Stream-Id": str(conn.stream_id)}
        wrong = Pipeline(cluster.url, options(tls, secret="wrong"))
        try:
            answers = wrong.post("/api/v1/scheduler", [json.dumps(calls[0]).encode()] * 3, headers)
        finally:
            wrong.close()
        assert [a.status for a in answers] == [401, 401, 401]


def test_a_pipeline_that_does_not_trust_the_certificate_reports_it(
    cluster: DevCluster, tls: TlsFiles
) -> None:
    untrusting = Pipeline(cluster.url, HttpOptions(principal=PRINCIPAL, secret=SECRET))

    with pytest.raises(MesosUnreachable, match="certificate verify failed"):
        untrusting.post("/api/v1/scheduler", [b"{}"], {"Content-Type": "application/json"})


def test_offers_lead_to_the_agents_over_https_although_mesos_writes_http(
    cluster: DevCluster, tls: TlsFiles, tmp_path: Path
) -> None:
    with subscribed(cluster, tls) as conn:
        offer = first_offers(conn).offers[0]

        assert offer.agent_endpoint is not None
        assert offer.agent_endpoint.base_url.startswith("https://")
        with AgentClient.for_offer(offer, options=options(tls)) as agent:
            assert agent.state().agent_id == offer.agent_id
        with AgentClient.for_offer(offer) as stranger, pytest.raises(MesosUnreachable):
            stranger.state()


def test_the_operator_api_needs_the_credentials_too(cluster: DevCluster, tls: TlsFiles) -> None:
    with OperatorClient(cluster.url, options=options(tls)) as operator:
        assert operator.get_health()
    anonymous = HttpOptions(ca_bundle=tls.ca_pem)
    anonymous_client = OperatorClient(cluster.url, options=anonymous)
    with anonymous_client, pytest.raises(MesosHttpError) as refused:
        anonymous_client.get_health()
    assert refused.value.status == 401


def test_an_operator_teardown_answers_nothing_and_removes_the_framework(
    cluster: DevCluster, tls: TlsFiles
) -> None:
    with (
        subscribed(cluster, tls) as conn,
        OperatorClient(cluster.url, options=options(tls)) as operator,
    ):
        framework_id = conn.framework_id

        assert operator.call("TEARDOWN", {"framework_id": {"value": framework_id}}) == {}

        active, completed = operator.get_frameworks()
    assert framework_id not in {f.framework_id for f in active}
    assert framework_id in {f.framework_id for f in completed}


def test_run_task_reads_the_output_back_from_an_https_agent(
    dev: Environment, cluster: DevCluster, tls: TlsFiles
) -> None:
    lease_acquire(name=FRAMEWORK_LEASE, holder="test", ttl=timedelta(minutes=5))
    running = EngineThread(engine_on(cluster), teardown=False)
    out, err = io.StringIO(), io.StringIO()
    try:
        with running as engine:
            wait_for("the subscription", lambda: engine.connected)
            wait_for("the dashboard record", lambda: engine.metrics.subscribed_at)
            call_command("run_task", "--env", "dev", "--", "echo", "hi", stdout=out, stderr=err)
    finally:
        teardown(cluster, tls, running.engine.framework_id)

    assert out.getvalue().endswith("--- stdout ---\nhi\n")
    assert "cannot read" not in err.getvalue()
