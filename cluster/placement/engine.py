"""The placement decision: which pending tasks go on which offers of one batch."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from heapq import heappop, heappush

from cluster.gcpause import collector_paused
from cluster.placement.index import (
    Group,
    Key,
    Need,
    Offers,
    Shape,
    fold_shapes,
    order_tasks,
    role_floors,
)
from cluster.placement.model import (
    COMMAND_EXECUTOR,
    ExecutorOverhead,
    Launch,
    OfferPlan,
    PendingTask,
    Placement,
    PlacementOffer,
    RunningOn,
)
from cluster.placement.ports import ranges_take, ranges_take_dynamic
from cluster.placement.whynot import explain


def place_tasks(
    offers: Sequence[PlacementOffer],
    tasks: Iterable[PendingTask],
    running: Mapping[str, Iterable[RunningOn]] | None = None,
    *,
    overhead: ExecutorOverhead = COMMAND_EXECUTOR,
    max_launches: int | None = None,
) -> Placement:
    """Decide one batch: launches per offer, offers to decline, why the rest stay pending.

    `running` maps a group to where its tasks already run, which the constraints count.
    `max_launches` caps the launches of one batch, and so the time the decision takes:
    the tasks it leaves undecided get a WhyNot marked `limited`. The result depends only
    on the values passed, not on the order of `offers` or `tasks`.

    1. Index the offers by id; per role, order them by how much room they have left.
    2. Order the tasks, and fold tasks with equal specs into one shape, so that work done
       for one task (masks, a failed search) serves them all.
    3. Give each task in order the fitting offer with the least room (best fit), checking
       resources with the executor overhead, ports and constraints against everything placed
       so far, this batch included.
    4. Count, for each shape left with tasks, how many offers failed each check.
    """
    if max_launches is not None and max_launches < 1:
        raise ValueError(f"max_launches must be at least 1, got {max_launches}")
    with collector_paused():
        return _decide(offers, tasks, running or {}, overhead, max_launches or _UNBOUNDED)


def _decide(
    offers: Sequence[PlacementOffer],
    tasks: Iterable[PendingTask],
    running: Mapping[str, Iterable[RunningOn]],
    overhead: ExecutorOverhead,
    budget: int,
) -> Placement:
    index = Offers(offers)
    ordered = order_tasks(tasks)
    shape_at, shapes = fold_shapes(ordered, overhead, running)
    floors = role_floors(shapes)
    index.rank(floors)
    for shape in shapes:
        shape.prepare(index)
    decider = _Decider(index, floors, budget)
    undecided = decider.run(ordered, shape_at, shapes)
    plans = tuple(
        OfferPlan(index.ids[i], index.items[i].agent_id, tuple(launches))
        for i, launches in enumerate(decider.plans)
        if launches
    )
    unused = tuple(index.ids[i] for i, launches in enumerate(decider.plans) if not launches)
    return Placement(plans, unused, explain(index, shapes, ordered, undecided))


class _Decider:
    """Step 3 of place_tasks, with the state that makes it cheap.

    - Consecutive tasks of one shape are placed as a run: each offer found takes as many
      of them as fit, and the search for the next offer resumes where the last one stopped,
      because the offers ranked below it did not fit then and cannot now: offers only
      shrink, UNIQUE, MAX_PER and the static operators only get stricter as a group grows,
      and GROUP_BY and CLUSTER too until their tally's version changes.
    - A shape that found no offer is exhausted: its later tasks wait without a search, for
      the same reason. Groups with GROUP_BY or CLUSTER are the exception: each placement in
      such a group retries its exhausted shapes, oldest task first.
    - Needs that failed without constraints form a frontier per role: a shape needing at
      least as much of everything cannot fit either.
    """

    def __init__(self, offers: Offers, floors: Mapping[str, Need], budget: int) -> None:
        self.offers = offers
        self.budget = budget
        self.floors = floors
        self.plans: list[list[Launch] | None] = [None] * len(offers)
        self.retry: list[int] = []
        self.frontier: dict[str, list[Need]] = {}
        self.seq = 0

    def run(
        self, ordered: Sequence[PendingTask], shape_at: Sequence[Shape], shapes: list[Shape]
    ) -> list[int]:
        """Decide the tasks in order; the positions left undecided by the launch budget."""
        retry = self.retry
        position, total = 0, len(ordered)
        while True:
            if self.seq >= self.budget:
                return self.undecided(range(position, total), shapes)
            if retry and (position >= total or retry[0] < position):
                p, head = heappop(retry), True
            elif position < total:
                p, head = position, False
            else:
                return []
            shape = shape_at[p]
            if not head and (shape.exhausted or shape.waiting):
                shape.waiting.append(p)
                position += 1
                continue
            # Retried tasks go one at a time: the next in line may sort after other tasks.
            placed = self.fill(ordered, shape_at, p, p + 1 if head else total)
            if not head:
                position = p + max(placed, 1)
            if not placed:
                self.exhaust(shape)
                if head:
                    shape.waiting.appendleft(p)
                else:
                    shape.waiting.append(p)
            elif head and shape.waiting:
                heappush(retry, shape.waiting.popleft())

    def undecided(self, rest: range, shapes: list[Shape]) -> list[int]:
        """Tasks the budget cut off: not reached, or waiting for a retry still due."""
        left = [*rest, *self.retry]
        for shape in shapes:
            if not shape.exhausted and shape.waiting:
                left.extend(shape.waiting)
                shape.waiting.clear()
        return left

    def fill(
        self, ordered: Sequence[PendingTask], shape_at: Sequence[Shape], p: int, end: int
    ) -> int:
        """Place the run of same-shape tasks from position p (up to end); how many placed."""
        shape = shape_at[p]
        ranked = self.offers.ranked.get(shape.role)
        if ranked is None or self.dominated(shape):
            return 0
        lower: Key = (shape.score, -1)
        start = bisect_left(ranked, lower)
        floor = self.floors[shape.role]
        q = p
        monotone = shape.monotone
        versions: tuple[int, ...] = ()
        while True:
            if not monotone:
                versions = shape.versions()
            if shape.candidates is None:
                j = self.scan(shape, ranked, start)
            else:
                j = self.best_candidate(shape, ranked)
            if j < 0:
                if q > p:
                    self.exhaust(shape)
                return q - p
            i = ranked.pop(j)[1]
            q = self.take(ordered, shape_at, q, end, shape, i)
            at = self.offers.checkin(ranked, i, floor)
            if q >= end or shape_at[q] is not shape or self.retry or self.seq >= self.budget:
                return q - p
            if not monotone and shape.versions() != versions:
                start = bisect_left(ranked, lower)
            else:
                start = j + 1 if 0 <= at <= j else j

    def take(
        self,
        ordered: Sequence[PendingTask],
        shape_at: Sequence[Shape],
        q: int,
        end: int,
        shape: Shape,
        i: int,
    ) -> int:
        """Give offer i the tasks from position q on that it takes; the next position."""
        if shape.bulk:
            # Nothing a one-by-one decision would look at changes between these tasks: the
            # offer stays the best fit until it is full or the run ends.
            room = min(self.room(shape, i), end - q, self.budget - self.seq)
            count = 1
            while count < room and shape_at[q + count] is shape:
                count += 1
            self.place(ordered, q, count, shape, i)
            return q + count
        # One at a time, as each placement changes what the constraints allow. The offer
        # keeps taking tasks while it fits: still the best fit, unless GROUP_BY or CLUSTER
        # just started accepting offers ranked below it, which a new search would prefer:
        # a change of the tallies' versions says so, and ends the run here.
        versions = shape.versions()
        self.place(ordered, q, 1, shape, i)
        q += 1
        while (
            q < end
            and shape_at[q] is shape
            and not self.retry
            and self.seq < self.budget
            and shape.versions() == versions
            and self.fits(shape, i)
        ):
            self.place(ordered, q, 1, shape, i)
            q += 1
        return q

    def scan(self, shape: Shape, ranked: list[Key], start: int) -> int:
        """Position in `ranked` of the first offer from `start` on that takes the shape."""
        o = self.offers
        cpu, mem, disk, gpu, nports = o.cpu, o.mem, o.disk, o.gpu, o.nports
        c, m, d, g, n = shape.need
        mask, extra = shape.mask, shape.extra
        for j in range(start, len(ranked)):
            i = ranked[j][1]
            if (
                cpu[i] >= c
                and mem[i] >= m
                and disk[i] >= d
                and gpu[i] >= g
                and nports[i] >= n
                and (mask is None or mask[i])
                and (not extra or shape.extra_ok(o, i))
            ):
                return j
        return -1

    def best_candidate(self, shape: Shape, ranked: list[Key]) -> int:
        best: Key | None = None
        for i in shape.candidates or ():
            if self.fits(shape, i):
                key = (self.offers.score(i), i)
                if best is None or key < best:
                    best = key
        return -1 if best is None else bisect_left(ranked, best)

    def fits(self, shape: Shape, i: int) -> bool:
        o = self.offers
        return (
            o.cpu[i] >= shape.cpu
            and o.mem[i] >= shape.mem
            and o.disk[i] >= shape.disk
            and o.gpu[i] >= shape.gpu
            and o.nports[i] >= shape.nports
            and (shape.mask is None or bool(shape.mask[i]))
            and (not shape.extra or shape.extra_ok(o, i))
        )

    def room(self, shape: Shape, i: int) -> int:
        """How many tasks of the shape offer i can take, resources only."""
        o = self.offers
        cpu, mem, disk, gpu, nports = shape.need
        room = o.nports[i] // nports if nports else _UNBOUNDED
        if cpu and o.cpu[i] // cpu < room:
            room = o.cpu[i] // cpu
        if mem and o.mem[i] // mem < room:
            room = o.mem[i] // mem
        if disk and o.disk[i] // disk < room:
            room = o.disk[i] // disk
        if gpu and o.gpu[i] // gpu < room:
            room = o.gpu[i] // gpu
        return room

    def place(
        self, ordered: Sequence[PendingTask], q: int, count: int, shape: Shape, i: int
    ) -> None:
        """Launch the tasks at positions q .. q+count-1 on offer i."""
        o = self.offers
        cpu, mem, disk, gpu, nports = shape.need
        o.cpu[i] -= cpu * count
        o.mem[i] -= mem * count
        if disk:
            o.disk[i] -= disk * count
        if gpu:
            o.gpu[i] -= gpu * count
        plan = self.plans[i]
        if plan is None:
            plan = self.plans[i] = []
        offer_id, seq = o.ids[i], self.seq
        if not nports:
            for task in ordered[q : q + count]:
                seq += 1
                plan.append(_launch(Launch, (task.task_id, offer_id, (), seq)))
        else:
            o.nports[i] -= nports * count
            if shape.fixed:
                ports = [ranges_take(o.ports[i], shape.wanted) for _ in range(count)]
            else:
                ports = ranges_take_dynamic(o.ports[i], nports, count)
            for task, task_ports in zip(ordered[q : q + count], ports, strict=True):
                seq += 1
                plan.append(_launch(Launch, (task.task_id, offer_id, task_ports, seq)))
        self.seq = seq
        if shape.group is not None:
            shape.group.placed(o, i, count)
            if shape.group.resets:
                self.reset(shape.group)

    def reset(self, group: Group) -> None:
        for shape in group.shapes:
            if shape.exhausted:
                shape.exhausted = False
                if shape.waiting:
                    heappush(self.retry, shape.waiting.popleft())

    def exhaust(self, shape: Shape) -> None:
        shape.exhausted = True
        if shape.plain and not self.dominated(shape):
            need = shape.need
            kept = [f for f in self.frontier.get(shape.role, []) if not _covers(need, f)]
            self.frontier[shape.role] = [*kept, need]

    def dominated(self, shape: Shape) -> bool:
        frontier = self.frontier.get(shape.role)
        if not frontier:
            return False
        return any(_covers(failed, shape.need) for failed in frontier)


# Launch is a NamedTuple; building it through tuple.__new__ skips a Python-level __new__.
_launch = tuple.__new__
_UNBOUNDED = 1 << 62


def _covers(a: Need, b: Need) -> bool:
    """True when need a is no more than need b in every resource."""
    return a[0] <= b[0] and a[1] <= b[1] and a[2] <= b[2] and a[3] <= b[3] and a[4] <= b[4]
