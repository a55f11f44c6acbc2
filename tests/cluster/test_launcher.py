"""The offer round's bookkeeping, without a cluster: the queue held between rounds, the
launch limit learnt from what rounds cost, and what one round sends."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from cluster.client import MesosHttpError
from cluster.framework import ClusterConfig, EngineOptions, PendingSummary, PendingWork
from cluster.framework.demand import Demand
from cluster.framework.launching import Launcher
from cluster.framework.metrics import EngineMetrics
from cluster.framework.storage import LaunchRecord
from cluster.translate import EncodedCall
from cluster.types import CommandSpec, Offer, PortRange, Resource, TaskSpec

CONFIG = ClusterConfig(key="k", masters=("http://m:5050",), roles=("dev",))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class QueueStore:
    """Pending tasks 1..n of role dev; marking a launch costs `per_launch` seconds."""

    def __init__(self, clock: Clock, count: int, per_launch: float = 0.0) -> None:
        self.clock = clock
        self.pending = list(range(1, count + 1))
        self.per_launch = per_launch
        self.reads: list[str] = []
        self.marked: list[int] = []
        self.stored_why_not: dict[int, dict[str, int]] = {}
        self.saved: dict[int, dict[str, int]] = {}
        self.cpus = 0.5
        self.stranded: list[int] = []

    def summary(self) -> PendingSummary:
        counts, sums = {"dev": len(self.pending)}, {"dev": sum(self.pending)}
        if self.stranded:  # tasks of a role this cluster no longer serves
            counts["gone"], sums["gone"] = len(self.stranded), sum(self.stranded)
        return PendingSummary(counts, max(self.pending, default=0), sums)

    def pending_pks(self, cluster_key: str, roles: Sequence[str], limit: int) -> list[int]:
        self.reads.append("pending_pks")
        return self.pending[:limit]

    def pending_load(self, pks: Sequence[int]) -> tuple[list[PendingWork], dict[int, str]]:
        self.reads.append("pending_load")
        loaded = [work(pk, self.cpus, self.stored_why_not.get(pk, {})) for pk in pks]
        return loaded, {}

    def launch_environment(self, environment_id: int, team_id: int | None) -> dict[str, str]:
        return {}

    def tasks_mark_launching(self, launches: Sequence[LaunchRecord], framework_id: str) -> set[int]:
        self.clock.now += self.per_launch * len(launches)
        # Conditional, as the real one: a task no longer pending is not marked.
        pks = {launch.pk for launch in launches} & set(self.pending)
        self.marked.extend(sorted(pks))
        self.pending = [pk for pk in self.pending if pk not in pks]
        return pks

    def tasks_unlaunch(self, pks: Sequence[int]) -> None:
        self.pending = sorted({*self.pending, *pks})

    def why_not_save(self, counts: Mapping[int, Mapping[str, int]]) -> None:
        self.saved = {pk: dict(c) for pk, c in counts.items()}


class Wire:
    """Takes every pipelined batch; answers 202 unless told otherwise."""

    def __init__(self) -> None:
        self.batches: list[list[dict[str, Any]]] = []
        self.refuse: Callable[[dict[str, Any]], bool] = lambda call: False

    def send_many(
        self, calls: Sequence[Any], written: Callable[[], None] | None = None
    ) -> list[MesosHttpError | None]:
        decoded = [json.loads(c.body) if isinstance(c, EncodedCall) else c for c in calls]
        self.batches.append(decoded)
        if written is not None:
            written()
        return [
            MesosHttpError(400, "no", "u", call["type"]) if self.refuse(call) else None
            for call in decoded
        ]

    def decline(self, offer_ids: Sequence[str], refuse_seconds: float | None = None) -> None:
        self.batches.append([{"type": "DECLINE", "decline": {"offer_ids": list(offer_ids)}}])


def work(pk: int, cpus: float = 0.5, why_not: Mapping[str, int] | None = None) -> PendingWork:
    spec = TaskSpec(
        task_id="", name=f"t{pk}", command=CommandSpec.shell_line("true"), cpus=cpus, mem=32
    )
    return PendingWork(
        pk=pk, task_id=f"task-{pk}", role="dev", group="g", spec=spec, why_not=why_not or {}
    )


def offers(count: int, cpus: float = 2.4) -> list[Offer]:
    made = []
    for n in range(count):
        resources = (
            Resource("cpus", "SCALAR", scalar=cpus, allocation_role="dev"),
            Resource("mem", "SCALAR", scalar=4096, allocation_role="dev"),
            Resource("ports", "RANGES", ranges=(PortRange(31000, 31009),), allocation_role="dev"),
        )
        made.append(Offer(f"O{n}", "F", f"S{n}", f"h{n}", resources, allocation_role="dev"))
    return made


def launcher(store: QueueStore, clock: Clock, **options: Any) -> tuple[Launcher, Wire]:
    wire = Wire()
    made = Launcher(
        CONFIG,
        store,  # type: ignore[arg-type]
        wire,  # type: ignore[arg-type]
        EngineOptions(**options),
        Demand(CONFIG.roles, revive_min_interval=1.0),
        EngineMetrics(),
        clock,
    )
    return made, wire


def types_sent(batch: list[dict[str, Any]]) -> list[str]:
    return [call["type"] for call in batch]


def test_a_synced_queue_is_not_read_again_by_the_round() -> None:
    clock = Clock()
    store = QueueStore(clock, 10)
    engine, _ = launcher(store, clock)
    engine.sync(store.summary())
    store.reads.clear()

    engine.handle(offers(2), "F")

    assert store.reads == []
    assert store.marked == [
        1,
        2,
        3,
        4,
        5,
        6,
        7,
        8,
    ]  # 4 an offer: 0.5 cpus each and 0.1 for its executor
    assert engine.tracked == 2


def test_sync_reloads_when_the_pending_work_changed_even_at_equal_counts() -> None:
    clock = Clock()
    store = QueueStore(clock, 5)
    engine, _ = launcher(store, clock)
    engine.sync(store.summary())
    store.reads.clear()

    engine.sync(store.summary())
    assert store.reads == []  # nothing changed

    store.pending = [1, 2, 3, 4, 9]  # 5 killed while 9 was added: same count
    engine.sync(store.summary())
    assert store.reads == ["pending_pks", "pending_load"]

    engine.handle(offers(3), "F")
    assert store.marked == [1, 2, 3, 4, 9]


def test_a_stale_queue_only_launches_what_the_store_still_marks() -> None:
    clock = Clock()
    store = QueueStore(clock, 4)
    engine, wire = launcher(store, clock)
    engine.sync(store.summary())
    store.pending = [1, 2]  # 3 and 4 were killed; the queue has not been synced since

    engine.handle(offers(1), "F")

    (batch,) = wire.batches
    accept = batch[0]
    launched = [
        t["task_id"]["value"] for t in accept["accept"]["operations"][0]["launch"]["task_infos"]
    ]
    assert launched == ["task-1", "task-2"]
    assert store.marked == [1, 2]


def test_the_launch_limit_settles_where_a_round_fits_its_budget() -> None:
    clock = Clock()
    store = QueueStore(clock, 20_000, per_launch=0.0001)  # 100 us per launch
    engine, _ = launcher(store, clock, round_budget=0.040, max_launches_per_round=1000)
    engine.sync(store.summary())
    launched = []
    for _ in range(12):
        before = len(store.marked)
        engine.handle(offers(1000), "F")
        launched.append(len(store.marked) - before)

    # 40 ms at 100 us a launch: about 400, never the 1,000 that would take 100 ms.
    assert all(n <= 400 for n in launched)
    assert 350 <= launched[-1] <= 400
    assert engine.metrics.launch_limit == launched[-1]  # shown on the Cluster page


def test_the_launch_limit_stays_within_its_floor_and_ceiling() -> None:
    clock = Clock()
    slow = QueueStore(clock, 5_000, per_launch=0.01)  # 10 ms a launch: the budget fits 4
    engine, _ = launcher(slow, clock, min_launches_per_round=50)
    engine.sync(slow.summary())
    for _ in range(5):
        before = len(slow.marked)
        engine.handle(offers(1000), "F")
    assert len(slow.marked) - before == 50

    fast_clock = Clock()
    fast = QueueStore(fast_clock, 5_000)  # free launches: only the ceiling limits
    engine, _ = launcher(fast, fast_clock, max_launches_per_round=300)
    engine.sync(fast.summary())
    for _ in range(3):
        before = len(fast.marked)
        engine.handle(offers(1000), "F")
    assert len(fast.marked) - before == 300


def test_a_capped_round_answers_every_offer_and_revives_in_one_write() -> None:
    clock = Clock()
    store = QueueStore(clock, 200)
    engine, wire = launcher(store, clock, max_launches_per_round=50, min_launches_per_round=1)
    engine.sync(store.summary())

    engine.handle(offers(40), "F")

    (batch,) = wire.batches
    kinds = types_sent(batch)
    assert kinds.count("ACCEPT") == 13  # 50 launches at 4 an offer: 12 full, 1 with 2
    assert kinds[-2:] == ["DECLINE", "REVIVE"]
    accepted = {
        o["value"] for c in batch if c["type"] == "ACCEPT" for o in c["accept"]["offer_ids"]
    }
    declined = {o["value"] for o in batch[-2]["decline"]["offer_ids"]}
    assert accepted | declined == {f"O{n}" for n in range(40)} and not accepted & declined
    assert batch[-2]["decline"]["filters"] == {"refuse_seconds": 0.0}  # the rest comes back

    clock.now += 0.1  # within more_offers_interval: no second REVIVE yet
    engine.handle(offers(40), "F")
    assert "REVIVE" not in types_sent(wire.batches[-1])

    clock.now += 0.3
    engine.handle(offers(40), "F")
    assert types_sent(wire.batches[-1])[-1] == "REVIVE"


def test_a_refused_accept_hands_its_tasks_back_and_the_rest_still_launch() -> None:
    clock = Clock()
    store = QueueStore(clock, 8)
    engine, wire = launcher(store, clock)
    wire.refuse = lambda call: (
        call["type"] == "ACCEPT" and call["accept"]["offer_ids"] == [{"value": "O0"}]
    )
    engine.sync(store.summary())

    engine.handle(offers(2), "F")

    assert sorted(store.pending) == [1, 2, 3, 4]  # O0's four are pending again
    # and O0, which the master never took, is declined rather than held
    assert wire.batches[-1] == [{"type": "DECLINE", "decline": {"offer_ids": ["O0"]}}]
    assert store.marked == [1, 2, 3, 4, 5, 6, 7, 8]
    assert engine.metrics.launches.total == 4


def test_why_not_counts_go_on_from_what_was_stored_before_a_restart() -> None:
    clock = Clock()
    store = QueueStore(clock, 1)
    store.cpus = 64  # fits no offer
    store.stored_why_not = {1: {"offers": 30, "cpus": 30}}
    engine, _ = launcher(store, clock)
    engine.sync(store.summary())

    engine.handle(offers(3), "F")
    engine.flush_why_not(force=True)

    assert store.saved == {1: {"offers": 33, "cpus": 33}}


def test_a_ceiling_below_the_floor_is_still_the_most_a_round_launches() -> None:
    clock = Clock()
    store = QueueStore(clock, 100, per_launch=0.01)  # slow: the floor would apply
    engine, _ = launcher(store, clock, max_launches_per_round=10, min_launches_per_round=50)
    engine.sync(store.summary())

    engine.handle(offers(10), "F")

    assert len(store.marked) == 10


def test_tasks_of_a_role_the_cluster_no_longer_serves_do_not_reload_the_queue() -> None:
    clock = Clock()
    store = QueueStore(clock, 3)
    store.stranded = [90, 91]
    engine, _ = launcher(store, clock)
    engine.sync(store.summary())
    store.reads.clear()

    engine.sync(store.summary())
    engine.sync(store.summary())

    assert store.reads == []


def test_a_spec_placement_cannot_use_fails_its_task_and_the_rest_still_launch() -> None:
    clock = Clock()
    store = QueueStore(clock, 3)
    failed: dict[int, str] = {}
    store.tasks_fail = failed.update  # type: ignore[method-assign]
    real_load = store.pending_load

    def load(pks: Sequence[int]) -> tuple[list[PendingWork], dict[int, str]]:
        loaded, problems = real_load(pks)
        twice = dataclasses.replace(loaded[0].spec, ports=(8080, 8080))  # one port twice
        return [dataclasses.replace(loaded[0], spec=twice), *loaded[1:]], problems

    store.pending_load = load  # type: ignore[method-assign]
    engine, _ = launcher(store, clock)
    engine.sync(store.summary())

    engine.handle(offers(1), "F")

    assert list(failed) == [1] and "cannot be placed" in failed[1]
    assert store.marked == [2, 3]
