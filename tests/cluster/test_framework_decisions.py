"""The engine's pure decisions, without a cluster: offers to ACCEPTs, the launch spec,
update rules, suppress/revive, reconciliation rounds, rates, and event dispatch order."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import Any

import pytest

from cluster.framework import (
    ClusterConfig,
    ClusterEngine,
    PendingSummary,
    PendingWork,
    cluster_key_for,
)
from cluster.framework.demand import Demand
from cluster.framework.metrics import RateCounter
from cluster.framework.offers import launch_spec, placement_offer, plan_round, port_environment
from cluster.framework.reconcile import Reconciler
from cluster.framework.storage import UpdateOutcome
from cluster.framework.updates import exit_code_of, next_state, signal_of
from cluster.types import (
    CommandSpec,
    DisconnectCause,
    DisconnectedEvent,
    DockerContainer,
    HeartbeatEvent,
    MalformedEvent,
    Offer,
    OffersEvent,
    PortMapping,
    PortRange,
    RescindEvent,
    Reservation,
    Resource,
    SubscribedEvent,
    TaskSpec,
    TaskStatus,
    UnknownEvent,
    UpdateEvent,
)


def offer(
    offer_id: str,
    agent: str = "S1",
    role: str = "dev",
    cpus: float = 2,
    mem: float = 1024,
    **extra: Any,
) -> Offer:
    resources = [
        Resource("cpus", "SCALAR", scalar=cpus, allocation_role=role),
        Resource("mem", "SCALAR", scalar=mem, allocation_role=role),
        Resource("ports", "RANGES", ranges=(PortRange(31000, 31009),), allocation_role=role),
        *extra.pop("resources", ()),
    ]
    return Offer(
        offer_id, "F", agent, f"host-{agent}", tuple(resources), allocation_role=role, **extra
    )


def work(
    pk: int, role: str = "dev", cpus: float = 0.4, ports: tuple[int, ...] = (), **spec: Any
) -> PendingWork:
    task_spec = TaskSpec(
        task_id="",
        name=f"t{pk}",
        command=CommandSpec.shell_line("true"),
        cpus=cpus,
        mem=32,
        ports=ports,
        **spec,
    )
    return PendingWork(pk=pk, task_id=f"task-{pk}", role=role, group="g", spec=task_spec)


# -- offers --------------------------------------------------------------------------


def test_offers_of_one_agent_and_role_become_one_accept() -> None:
    plan = plan_round([offer("O1", cpus=0.5), offer("O2", cpus=0.5)], [work(1), work(2)])

    (accept,) = plan.accepts
    assert (accept.agent_id, accept.role) == ("S1", "dev")
    assert sorted(accept.offer_ids) == ["O1", "O2"]
    assert sorted(w.pk for w, _ in accept.launches) == [1, 2]
    assert plan.declines == ()


def test_each_role_and_agent_gets_its_own_accept_and_unused_offers_are_declined() -> None:
    offers = [offer("O1", "S1", "dev"), offer("O2", "S1", "prod"), offer("O3", "S2", "dev")]

    plan = plan_round(offers, [work(1, "dev"), work(2, "prod")])

    assert {(a.agent_id, a.role) for a in plan.accepts} == {("S1", "dev"), ("S1", "prod")}
    assert plan.declines == ("O3",)


def test_a_task_that_fits_nowhere_is_counted_against_every_offer() -> None:
    plan = plan_round([offer("O1"), offer("O2", "S2")], [work(1, cpus=64)])

    assert plan.accepts == ()
    assert sorted(plan.declines) == ["O1", "O2"]
    assert plan.why_not[1] == {"offers": 2, "cpus": 2}


def test_resources_reserved_for_another_role_are_not_offered_to_plain_tasks() -> None:
    reserved = Resource("cpus", "SCALAR", scalar=8, reservations=(Reservation("prod"),))

    usable = placement_offer(offer("O1", cpus=1, resources=[reserved]))

    assert usable.cpus == 1


def test_ports_and_host_become_marathon_variables() -> None:
    assert port_environment([31000, 31005], "a1") == {
        "PORT0": "31000",
        "PORT1": "31005",
        "PORT": "31000",
        "PORTS": "31000,31005",
        "HOST": "a1",
    }
    assert port_environment([], "a1") == {"HOST": "a1"}


def test_the_launch_spec_layers_the_environment_and_labels_the_owner() -> None:
    pending = work(1, ports=(0,), environment={"A": "spec", "B": "spec"}, labels={"app": "web"})
    pending = dataclasses.replace(pending, labels={"berth.owner_kind": "test"})
    spec = launch_spec(pending, [31004], "a1", {"B": "config", "PORT0": "config"})

    assert spec.task_id == "task-1"
    assert spec.ports == (31004,)
    assert spec.environment == {
        "A": "spec",
        "B": "config",
        "PORT0": "31004",
        "PORT": "31004",
        "PORTS": "31004",
        "HOST": "a1",
    }
    assert spec.labels == {"app": "web", "berth.owner_kind": "test"}


def test_docker_port_mappings_of_host_port_0_get_the_ports_asked_for_with_0() -> None:
    container = DockerContainer(
        image="nginx",
        network="BRIDGE",
        port_mappings=(PortMapping(0, 80), PortMapping(8443, 443), PortMapping(0, 9090)),
    )
    pending = work(1, ports=(0, 8443, 0), container=container)

    spec = launch_spec(pending, [31000, 8443, 31001], "a1", {})

    assert isinstance(spec.container, DockerContainer)
    assert [m.host_port for m in spec.container.port_mappings] == [31000, 8443, 31001]


def test_a_port_mapping_without_a_request_for_it_is_refused() -> None:
    container = DockerContainer(
        image="nginx", network="BRIDGE", port_mappings=(PortMapping(0, 80),)
    )

    with pytest.raises(ValueError, match="needs a port request of 0"):
        launch_spec(work(1, container=container), [], "a1", {})


# -- updates -------------------------------------------------------------------------


def status(state: str, **fields: Any) -> TaskStatus:
    return TaskStatus(task_id=fields.pop("task_id", "t"), state=state, **fields)


@pytest.mark.parametrize(
    ("current", "update", "expected"),
    [
        ("LAUNCHING", status("TASK_STARTING"), "TASK_STARTING"),
        ("TASK_RUNNING", status("TASK_FINISHED"), "TASK_FINISHED"),
        ("TASK_FINISHED", status("TASK_GONE", reason="REASON_RECONCILIATION"), None),
        ("TASK_KILLED", status("TASK_RUNNING"), None),
        ("LAUNCHING", status("TASK_DROPPED", reason="REASON_INVALID_OFFERS"), "PENDING"),
        ("LAUNCHING", status("TASK_LOST", reason="REASON_INVALID_OFFERS"), "PENDING"),
        ("TASK_RUNNING", status("TASK_LOST", reason="REASON_INVALID_OFFERS"), "TASK_LOST"),
        ("TASK_RUNNING", status("TASK_ERROR", message="Task has duplicate ID: x"), None),
        ("LAUNCHING", status("TASK_ERROR", message="Task has duplicate ID: x"), "TASK_ERROR"),
        ("TASK_UNREACHABLE", status("TASK_RUNNING"), "TASK_RUNNING"),
    ],
)
def test_next_state(current: str, update: TaskStatus, expected: str | None) -> None:
    assert next_state(current, update) == expected


def test_exit_codes_and_signals_are_read_from_executor_messages() -> None:
    assert exit_code_of("Command exited with status 3") == 3
    assert exit_code_of("Container exited with status 137") == 137
    assert exit_code_of("Command terminated with signal Killed") is None
    assert exit_code_of(None) is None
    assert signal_of("Command terminated with signal Terminated") == "Terminated"
    assert signal_of("Command exited with status 0") is None


# -- suppress and revive -------------------------------------------------------------


def summary(newest: int = 0, **by_role: int) -> PendingSummary:
    return PendingSummary(by_role, newest)


def test_idle_roles_are_suppressed_and_a_suppressed_role_with_work_is_revived() -> None:
    demand = Demand(["dev", "prod"], revive_min_interval=1.0)

    assert demand.decide(summary(), 0.0) == ([], ["dev", "prod"])
    demand.suppressed_now(["dev", "prod"])
    assert demand.decide(summary(newest=5, dev=1), 1.0) == (["dev"], [])


def test_new_work_revives_a_role_held_back_by_decline_filters_once_spacing_allows() -> None:
    demand = Demand(["dev"], revive_min_interval=1.0)
    demand.subscribed([], watermark=5)
    demand.revived(["dev"], 10.0)
    demand.declined(["dev"])

    assert demand.decide(summary(newest=5, dev=1), 10.2) == ([], [])  # no new work
    assert demand.decide(summary(newest=6, dev=2), 10.5) == ([], [])  # new, but too soon
    assert demand.decide(summary(newest=6, dev=2), 11.1) == (["dev"], [])  # still owed


def test_a_fresh_subscription_forgets_filters() -> None:
    demand = Demand(["dev"], revive_min_interval=0.0)
    demand.declined(["dev"])

    demand.subscribed([], watermark=0)

    assert demand.decide(summary(newest=3, dev=1), 0.0) == ([], [])


# -- reconciliation ------------------------------------------------------------------


def test_a_round_asks_again_with_backoff_until_every_task_is_answered() -> None:
    rounds = Reconciler(retry_seconds=1.0, retry_cap=3.0)

    assert rounds.begin([("a", "S1"), ("b", None)], now=0.0) == [("a", "S1"), ("b", None)]
    rounds.answered("a", now=0.5)
    assert rounds.due(0.9) == []
    assert rounds.due(1.0) == [("b", None)]
    assert rounds.due(2.9) == []
    assert rounds.due(3.0) == [("b", None)]
    assert rounds.lag(3.5) == 3.5
    rounds.answered("b", now=4.0)
    assert rounds.lag(10.0) == 4.0
    assert rounds.due(100.0) == []


def test_tasks_found_later_join_the_open_round_once() -> None:
    rounds = Reconciler(retry_seconds=1.0, retry_cap=3.0)
    rounds.begin([("a", None)], now=0.0)

    assert rounds.add([("a", None), ("c", "S2")], now=0.2) == [("c", "S2")]
    assert rounds.add([("c", "S2")], now=0.3) == []
    assert sorted(rounds.outstanding) == ["a", "c"]


# -- rates and cluster keys ------------------------------------------------------------


def test_a_rate_counts_the_last_minute_only() -> None:
    rate = RateCounter()
    rate.add(5, now=100.0)
    rate.add(3, now=130.5)

    assert rate.per_minute(now=150.0) == 8
    assert rate.per_minute(now=160.5) == 3
    assert rate.per_minute(now=300.0) == 0
    assert rate.total == 8


def test_environments_naming_the_same_masters_share_one_cluster_key() -> None:
    key = cluster_key_for(["http://m2:5050/", "m1:5050"])

    assert (
        key
        == cluster_key_for(["http://m1:5050", "http://m2:5050"])
        == "http://m1:5050,http://m2:5050"
    )
    with pytest.raises(ValueError, match="at least one master"):
        cluster_key_for([" "])


# -- event dispatch, with a store that only records -------------------------------------------


class RecordingStore:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def updates_store(self, statuses: Sequence[TaskStatus]) -> list[UpdateOutcome]:
        self.calls.append(("updates", [s.state for s in statuses]))
        return [UpdateOutcome(s, known=True, changed=True) for s in statuses]

    def framework_id_save(self, cluster_key: str, framework_id: str | None) -> None:
        self.calls.append(("framework_id", framework_id))

    def tasks_live(self, cluster_key: str) -> list[tuple[str, str | None]]:
        return []

    def framework_status_save(self, config: ClusterConfig, **fields: Any) -> None:
        self.calls.append(("status", fields["connected"]))

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"unexpected store call {name}")


@pytest.fixture
def engine() -> ClusterEngine:
    config = ClusterConfig(
        key="http://127.0.0.1:9", masters=("http://127.0.0.1:9",), roles=("dev",)
    )
    made = ClusterEngine(config, RecordingStore())
    made.conn.acknowledge_many = lambda statuses: []  # type: ignore[method-assign]
    return made


def test_updates_before_a_new_subscription_are_stored_first_and_offers_before_it_dropped(
    engine: ClusterEngine,
) -> None:
    handled: list[str] = []
    engine.launcher.handle = lambda offers, framework_id: handled.extend(o.id for o in offers)  # type: ignore[method-assign]
    engine.connected, engine.framework_id = True, "F"

    engine.handle_events(
        [
            UpdateEvent(status("TASK_RUNNING", uuid="u1")),
            OffersEvent((offer("old"),)),
            SubscribedEvent("F", 15.0),
            OffersEvent((offer("O1"), offer("O2"))),
            RescindEvent("O2"),
            UpdateEvent(status("TASK_FINISHED")),
        ]
    )

    assert engine.store.calls[:2] == [("updates", ["TASK_RUNNING"]), ("status", True)]  # type: ignore[attr-defined]
    assert ("updates", ["TASK_FINISHED"]) in engine.store.calls  # type: ignore[attr-defined]
    assert handled == ["O1"]


def test_when_storing_updates_fails_the_offers_of_the_drain_are_declined_not_held(
    engine: ClusterEngine,
) -> None:
    declined: list[list[str]] = []
    engine.conn.decline = lambda ids, refuse=None: declined.append(list(ids))  # type: ignore[method-assign]
    engine.connected, engine.framework_id = True, "F"

    def broken(statuses: Sequence[TaskStatus]) -> list[UpdateOutcome]:
        raise RuntimeError("database gone")

    engine.store.updates_store = broken  # type: ignore[method-assign]

    with pytest.raises(RuntimeError, match="database gone"):
        engine.handle_events(
            [OffersEvent((offer("O1"), offer("O2"))), UpdateEvent(status("TASK_RUNNING"))]
        )

    assert declined == [["O1", "O2"]]


def test_a_record_nested_too_deep_to_parse_is_a_malformed_event() -> None:
    from cluster.translate import parse_event

    assert isinstance(parse_event(b"[" * 100_000 + b"]" * 100_000), MalformedEvent)


def test_unknown_malformed_and_stale_events_change_nothing(engine: ClusterEngine) -> None:
    engine.connected = True

    engine.handle_events(
        [
            UnknownEvent("FROM_THE_FUTURE", "{}"),
            MalformedEvent("not JSON", "{oops"),
            HeartbeatEvent(),
            DisconnectedEvent(DisconnectCause.EOF, "old stream", stream_id="not-the-current-one"),
        ]
    )

    assert engine.connected
    assert engine.last_heartbeat is not None
    assert engine.store.calls == []  # type: ignore[attr-defined]


def test_framework_info_carries_the_roles_failover_timeout_and_credentials() -> None:
    from cluster.framework import EngineOptions

    config = ClusterConfig(
        key="k", masters=("http://m:5050",), roles=("dev", "prod"), principal="berth"
    )
    info = EngineOptions(user="svc", name="berth", failover_timeout=3600).framework_info(
        config, "F-1"
    )

    assert (info.user, info.name, info.id, info.roles) == ("svc", "berth", "F-1", ("dev", "prod"))
    assert info.checkpoint and info.failover_timeout == 3600 and info.principal == "berth"
    assert {"MULTI_ROLE", "PARTITION_AWARE", "TASK_KILLING_STATE"} <= set(info.capabilities)


# -- TaskInfo templates ----------------------------------------------------------------


def _sorted_env(info: dict[str, Any]) -> dict[str, Any]:
    command = dict(info["command"])
    variables = command["environment"]["variables"]
    command["environment"] = {"variables": sorted(variables, key=lambda v: v["name"])}
    return {**info, "command": command}


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"ports": (0, 8080, 0)},
        {"ports": (0,), "environment": {"PORT0": "mine", "A": "1"}, "labels": {"app": "x"}},
        {
            "container": DockerContainer(
                image="x", network="BRIDGE", port_mappings=(PortMapping(8080, 80),)
            ),
            "ports": (8080,),
        },
        {"kill_grace_seconds": 3.0, "health_check": None, "secret_environment": {"S": "/ref"}},
    ],
)
def test_a_stamped_task_info_is_what_a_full_build_gives(extra: dict[str, Any]) -> None:
    from cluster.framework.taskinfo import TaskInfoTemplate
    from cluster.translate import task_info

    pending = dataclasses.replace(work(7, **extra), labels={"berth.owner_kind": "test"})
    ports = [31000 + n if want == 0 else want for n, want in enumerate(pending.spec.ports)]
    configured = {"CONF": "c"}

    stamped = TaskInfoTemplate(pending, configured, "dev").stamp("task-7", "S9", ports, "h9")
    built = task_info(
        launch_spec(pending, ports, "h9", configured), agent_id="S9", allocation_role="dev"
    )

    assert _sorted_env(json.loads(stamped)) == _sorted_env(built)


def test_a_template_stamps_text_that_needs_escaping_as_valid_json() -> None:
    from cluster.framework.taskinfo import TaskInfoTemplate

    pending = work(7, ports=(0,))
    template = TaskInfoTemplate(pending, {"QUOTE": 'say "hi"\n'}, "dev")

    first = json.loads(template.stamp('task-"1"', "S\\9", [31000], "h\u00e9"))
    second = json.loads(template.stamp("task-2", "S8", [31001], "h8"))

    assert first["task_id"] == {"value": 'task-"1"'} and first["agent_id"] == {"value": "S\\9"}
    env = {v["name"]: v["value"] for v in first["command"]["environment"]["variables"]}
    assert env["QUOTE"] == 'say "hi"\n' and env["HOST"] == "h\u00e9" and env["PORT0"] == "31000"
    assert second["resources"][-1]["ranges"] == {"range": [{"begin": 31001, "end": 31001}]}


def test_an_encoded_accept_is_the_accept_call_with_the_infos_in_place() -> None:
    from cluster.translate import accept_call, accept_launch_encoded, launch_operation

    infos = [{"name": "a", "task_id": {"value": "t1"}}, {"name": "b", "task_id": {"value": "t2"}}]
    texts = [json.dumps(info) for info in infos]

    encoded = accept_launch_encoded("F1", ["O1", "O2"], texts, 0.0)

    assert encoded.call_type == "ACCEPT"
    expected = accept_call("F1", ["O1", "O2"], [launch_operation(infos)], 0.0)
    assert json.loads(encoded.body) == expected


def test_a_round_launches_at_most_its_cap_in_queue_order_and_declines_the_rest() -> None:
    offers = [offer(f"O{n}", f"S{n}", cpus=1) for n in range(4)]

    plan = plan_round(offers, [work(pk, cpus=0.4) for pk in range(1, 9)], max_launches=3)

    launched = sorted(w.pk for a in plan.accepts for w, _ in a.launches)
    assert launched == [1, 2, 3]
    assert plan.capped
    assert len(plan.declines) == 4 - len(plan.accepts)
    assert plan.why_not == {}
