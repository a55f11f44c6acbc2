"""The v1 operator API (12-operator) and the legacy GET endpoints (13-legacy, 11-health).

Each cluster replays the history the golden master had when it answered: a framework that
subscribed and was torn down, then the scenario's own framework and task, so that the
answers can be compared whole.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.devcluster import golden
from tests.devcluster.client import Scheduler, framework_info, operator, task
from tests.devcluster_fixture import DevCluster

pytestmark = pytest.mark.devcluster


def _history(cluster: DevCluster) -> list[Scheduler]:
    first = Scheduler(cluster.url, framework_info("golden-subscribe"))
    first.offers()
    first.teardown()
    first.close()
    scheduler = Scheduler(cluster.url, framework_info("golden-operator"))
    scheduler.launch(scheduler.offers()[0], task("op-sleep", cluster.agent_ids[0]))
    scheduler.wait_state("op-sleep", "TASK_RUNNING")
    return [scheduler]


@pytest.fixture(scope="module")
def operator_cluster(tmp_path_factory) -> Iterator[DevCluster]:
    with DevCluster(work_dir=tmp_path_factory.mktemp("operator")) as cluster:
        schedulers = _history(cluster)
        yield cluster
        for scheduler in schedulers:
            scheduler.close()


@pytest.fixture(scope="module")
def legacy_cluster(tmp_path_factory) -> Iterator[DevCluster]:
    with DevCluster(work_dir=tmp_path_factory.mktemp("legacy")) as cluster:
        [old] = _history(cluster)
        old.teardown()
        old.close()
        scheduler = Scheduler(cluster.url, framework_info("golden-legacy"))
        # The recorded task burned 0.5 cpus with `yes`; sleeping is enough to be listed.
        burn = task("burn", cluster.agent_ids[0], "sleep 600", cpus=0.5)
        scheduler.launch(scheduler.offers()[0], burn)
        scheduler.wait_state("burn", "TASK_RUNNING")
        yield cluster
        scheduler.close()


def _recorded_operator(kind: str) -> dict[str, Any]:
    for item in golden.load("12-operator")["exchanges"]:
        body = item["request"]["body"]
        if item["request"]["path"] == "/api/v1" and body.get("type") == kind:
            return dict(item["response"])
    raise KeyError(kind)


def _without_agent_reregistration(body: Any) -> Any:
    """The recorded agent had re-registered after an earlier master restart; ours has not."""
    if isinstance(body, dict):
        agent = str(body.get("pid", "")).startswith("slave(1)")
        return {
            k: _without_agent_reregistration(v)
            for k, v in body.items()
            if not (agent and k == "reregistered_time")
        }
    if isinstance(body, list):
        return [_without_agent_reregistration(v) for v in body]
    return body


@pytest.mark.parametrize(
    "kind",
    [
        "GET_HEALTH",
        "GET_VERSION",
        "GET_STATE",
        "GET_AGENTS",
        "GET_FRAMEWORKS",
        "GET_TASKS",
        "GET_EXECUTORS",
        "GET_MASTER",
        "GET_ROLES",
    ],
)
def test_operator_calls_answer_like_the_real_master(operator_cluster, kind):
    recorded = _recorded_operator(kind)
    response = operator(operator_cluster.url, {"type": kind})
    assert response.status_code == recorded["status"] == 200
    assert response.headers["Content-Type"] == "application/json"
    golden.assert_like(response.json(), _without_agent_reregistration(recorded["body"]))


def test_get_metrics_reports_utilization_like_the_real_master(operator_cluster):
    recorded = {
        m["name"]: m["value"]
        for m in _recorded_operator("GET_METRICS")["body"]["get_metrics"]["metrics"]
    }
    response = operator(
        operator_cluster.url,
        {"type": "GET_METRICS", "get_metrics": {"timeout": {"nanoseconds": 5000000000}}},
    )
    ours = {m["name"]: m["value"] for m in response.json()["get_metrics"]["metrics"]}
    for name in (
        "master/cpus_total",
        "master/cpus_used",
        "master/cpus_percent",
        "master/mem_total",
        "master/mem_used",
        "master/mem_percent",
        "master/disk_total",
        "master/tasks_running",
        "master/tasks_staging",
        "master/frameworks_active",
        "master/slaves_active",
        "master/elected",
        "master/outstanding_offers",
    ):
        assert ours[name] == recorded[name], name


@pytest.mark.parametrize(
    ("body", "headers", "note"),
    [
        (
            {"type": "NO_SUCH_CALL"},
            {"Content-Type": "application/json"},
            "unknown operator call type",
        ),
        (
            {"type": "GET_HEALTH"},
            {"Content-Type": "text/plain"},
            "operator call with Content-Type text/plain",
        ),
    ],
)
def test_operator_errors_match_the_real_master(operator_cluster, body, headers, note):
    recorded = golden.exchange("12-operator", note=note)["response"]
    response = httpx.post(f"{operator_cluster.url}/api/v1", json=body, headers=headers)
    assert (response.status_code, response.text) == (recorded["status"], recorded["body"])
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"


def _recorded_legacy(path: str) -> dict[str, Any]:
    return golden.exchange("13-legacy", path=path)["response"]


# Flags and the log directory describe the recorded machine's master, not a devcluster.
_MACHINE_KEYS = {"flags", "log_dir"}


@pytest.mark.parametrize(
    "path",
    [
        "/master/state",
        "/master/state-summary",
        "/master/slaves",
        "/master/frameworks",
        "/master/tasks",
        "/master/roles",
        "/version",
    ],
)
def test_legacy_endpoints_answer_like_the_real_master(legacy_cluster, path):
    recorded = _recorded_legacy(path)
    response = httpx.get(legacy_cluster.url + path)
    assert response.status_code == recorded["status"] == 200
    assert response.headers["Content-Type"] == "application/json"
    ours = {k: v for k, v in response.json().items() if k not in _MACHINE_KEYS}
    expected = {k: v for k, v in recorded["body"].items() if k not in _MACHINE_KEYS}
    golden.assert_like(ours, _without_agent_reregistration(expected))


def test_legacy_metrics_snapshot_is_flat_and_uses_fractions(legacy_cluster):
    recorded = _recorded_legacy("/metrics/snapshot")["body"]
    ours = httpx.get(legacy_cluster.url + "/metrics/snapshot").json()
    for name in (
        "master/cpus_used",
        "master/cpus_percent",
        "master/mem_used",
        "master/tasks_killed",
        "master/tasks_running",
    ):
        assert ours[name] == recorded[name], name
    assert ours["master/task_killed/source_master/reason_framework_removed"] == 1.0
    assert all(isinstance(v, float) for v in ours.values())


@pytest.mark.parametrize("path", ["/health", "/master/health"])
def test_health_is_200_with_no_body(legacy_cluster, path):
    response = httpx.get(legacy_cluster.url + path)
    assert (response.status_code, response.content) == (200, b"")
    assert "Content-Type" not in response.headers


@pytest.mark.parametrize("path", ["/redirect", "/master/redirect"])
def test_redirect_points_at_the_leader_without_a_path(legacy_cluster, path):
    response = httpx.get(legacy_cluster.url + path)
    assert response.status_code == 307
    assert response.headers["Location"] == "//" + legacy_cluster.url.removeprefix("http://")
    assert httpx.get(legacy_cluster.url + path + "/elsewhere").status_code == 404


def test_legacy_tasks_pages_and_orders(legacy_cluster):
    url = legacy_cluster.url + "/master/tasks"
    assert [t["id"] for t in httpx.get(url).json()["tasks"]] == ["burn", "op-sleep"]
    assert [t["id"] for t in httpx.get(url, params={"order": "asc"}).json()["tasks"]] == [
        "op-sleep",
        "burn",
    ]
    assert [t["id"] for t in httpx.get(url, params={"limit": 1, "offset": 1}).json()["tasks"]] == [
        "op-sleep"
    ]
    assert httpx.get(url, params={"limit": "x"}).status_code == 400


def test_jsonp_wraps_legacy_json(legacy_cluster):
    response = httpx.get(legacy_cluster.url + "/master/roles", params={"jsonp": "cb"})
    assert response.text.startswith("cb({") and response.text.endswith("});")


def test_legacy_tasks_keep_one_status_per_state_in_a_row(devcluster, subscribe):
    """11-health: a RUNNING update with health replaces the plain RUNNING before it."""
    scheduler = subscribe(devcluster.url)
    check = {
        "type": "COMMAND",
        "command": {"value": "true"},
        "delay_seconds": 0.0,
        "interval_seconds": 1.0,
        "timeout_seconds": 5.0,
        "consecutive_failures": 3,
        "grace_period_seconds": 0.0,
    }
    scheduler.launch(
        scheduler.offers()[0], task("health-ok", devcluster.agent_ids[0], health_check=check)
    )
    scheduler.wait_state("health-ok", "TASK_RUNNING")
    healthy = scheduler.stream.wait_for("UPDATE", timeout=10)["update"]["status"]
    scheduler.ack(healthy)
    assert healthy["healthy"] is True
    ours = httpx.get(
        devcluster.url + "/master/tasks", params={"framework_id": scheduler.framework_id}
    ).json()["tasks"][0]
    recorded = _recorded_health_ok()
    golden.assert_like(ours, recorded)


def _recorded_health_ok() -> dict[str, Any]:
    for item in golden.load("11-health")["exchanges"]:
        if item["request"]["path"].startswith("/master/tasks"):
            return next(t for t in item["response"]["body"]["tasks"] if t["id"] == "health-ok")
    raise KeyError("health-ok")
