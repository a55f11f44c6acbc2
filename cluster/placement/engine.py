"""The placement decision: which pending tasks go on which offers of one batch."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from heapq import heappop, heappush
from itertools import islice

from cluster.placement.index import Group, Key, Offers, Shape, fold_shapes, order_tasks, role_floors
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
from cluster.placement.ports import ranges_take
from cluster.placement.whynot import explain


def place_tasks(
    offers: Sequence[PlacementOffer],
    tasks: Iterable[PendingTask],
    running: Mapping[str, Iterable[RunningOn]] | None = None,
    *,
    overhead: ExecutorOverhead = COMMAND_EXECUTOR,
) -> Placement:
    """Decide one batch: launches per offer, offers to decline, why the rest stay pending.

    `running` maps a group to where its tasks already run, which the constraints count.
    The result depends only on the values passed, not on the order of `offers` or `tasks`.

    1. Index the offers by id; per role, order them by how much room they have left.
    2. Order the tasks, and fold tasks with the same role, group, needs and constraints into
       one shape, so that work done for one task (masks, a failed search) serves them all.
    3. Give each task in order the fitting offer with the least room (best fit), checking
       resources with the executor overhead, ports and constraints against everything placed
       so far, this batch included.
    4. Count, for each shape left with tasks, how many offers failed each check.
    """
    index = Offers(offers)
    ordered = order_tasks(tasks)
    shape_at, shapes = fold_shapes(ordered, overhead, running or {})
    floors = role_floors(shapes)
    index.rank(floors)
    for shape in shapes:
        shape.prepare(index)
    decider = _Decider(index, floors)
    decider.run(ordered, shape_at)
    plans = tuple(
        OfferPlan(index.ids[i], index.items[i].agent_id, tuple(launches))
        for i, launches in enumerate(decider.plans)
        if launches
    )
    unused = tuple(index.ids[i] for i, launches in enumerate(decider.plans) if not launches)
    return Placement(plans, unused, explain(index, shapes, ordered))


class _Decider:
    """Step 3 of place_tasks, with the state that makes it cheap.

    - A shape that found no offer is exhausted: its later tasks wait without a search. Offers
      only shrink, and UNIQUE, MAX_PER and the static operators only get stricter as a group
      grows, so the answer cannot change, except for groups with GROUP_BY or CLUSTER: each
      placement in such a group retries its exhausted shapes, oldest task first.
    - The offer a shape last took stays checked out of the ranking while the next task of
      the same shape tries it first: it still has the least room of the fitting offers.
    - Needs that failed without constraints form a frontier per role: a shape needing at
      least as much of everything cannot fit either.
    """

    def __init__(self, offers: Offers, floors: Mapping[str, tuple[int, int, int, int]]) -> None:
        self.offers = offers
        self.floors = floors
        self.plans: list[list[Launch] | None] = [None] * len(offers)
        self.retry: list[int] = []
        self.frontier: dict[str, list[tuple[int, ...]]] = {}
        self.seq = 0
        self.out = -1
        self.out_key: Key = (0.0, -1)
        self.out_shape: Shape | None = None

    def run(self, ordered: Sequence[PendingTask], shape_at: Sequence[Shape]) -> None:
        retry = self.retry
        position, total = 0, len(ordered)
        while True:
            if retry and (position >= total or retry[0] < position):
                p, head = heappop(retry), True
            elif position < total:
                p, head = position, False
                position += 1
            else:
                break
            shape = shape_at[p]
            if not head and (shape.exhausted or shape.waiting):
                shape.waiting.append(p)
                continue
            i = self.find(shape)
            if i < 0:
                self.exhaust(shape, p, head)
                continue
            count = 1
            if not head and shape.bulk:
                # The retry heap is empty here (its entries sort before `position`), so
                # the next tasks of the same shape would take this same offer one by one.
                limit = min(self.room(shape, i), total - p)
                while count < limit and shape_at[p + count] is shape:
                    count += 1
                position = p + count
            self.place(ordered, p, count, shape, i)
            if head and shape.waiting:
                heappush(retry, shape.waiting.popleft())
        self.release()

    def find(self, shape: Shape) -> int:
        resume: Key | None = None
        if self.out >= 0:
            if shape is self.out_shape and shape.monotone:
                if self.fits(shape, self.out):
                    return self.out
                # Offers ranked below the one just used did not fit this shape then and
                # cannot now: only that offer changed, and the constraints got stricter.
                resume = self.out_key
            self.release()
        if shape.role not in self.offers.ranked or self.dominated(shape):
            return -1
        few = shape.candidates is not None
        i = self.best_candidate(shape) if few else self.scan(shape, resume)
        if i >= 0:
            self.out_key = self.offers.checkout(shape.role, i)
            self.out, self.out_shape = i, shape
        return i

    def scan(self, shape: Shape, resume: Key | None) -> int:
        o = self.offers
        ranked = o.ranked[shape.role]
        start = bisect_left(ranked, resume or (shape.score, -1))
        cpu, mem, disk, gpu, nports = o.cpu, o.mem, o.disk, o.gpu, o.nports
        c, m, d, g, n = shape.need
        mask = shape.mask
        extra = bool(shape.fixed or shape.checks)
        for _, i in islice(ranked, start, None):
            if (
                cpu[i] >= c
                and mem[i] >= m
                and disk[i] >= d
                and gpu[i] >= g
                and nports[i] >= n
                and (mask is None or mask[i])
                and (not extra or shape.extra_ok(o, i))
            ):
                return i
        return -1

    def best_candidate(self, shape: Shape) -> int:
        best: Key | None = None
        for i in shape.candidates or ():
            if self.fits(shape, i):
                key = (self.offers.score(i), i)
                if best is None or key < best:
                    best = key
        return -1 if best is None else best[1]

    def fits(self, shape: Shape, i: int) -> bool:
        o = self.offers
        return (
            o.cpu[i] >= shape.cpu
            and o.mem[i] >= shape.mem
            and o.disk[i] >= shape.disk
            and o.gpu[i] >= shape.gpu
            and o.nports[i] >= shape.nports
            and (shape.mask is None or bool(shape.mask[i]))
            and shape.extra_ok(o, i)
        )

    def room(self, shape: Shape, i: int) -> int:
        """How many tasks of the shape offer i can take, resources only."""
        o = self.offers
        room = o.nports[i] // shape.nports if shape.nports else _UNBOUNDED
        for have, need in (
            (o.cpu[i], shape.cpu),
            (o.mem[i], shape.mem),
            (o.disk[i], shape.disk),
            (o.gpu[i], shape.gpu),
        ):
            if need and have // need < room:
                room = have // need
        return room

    def place(
        self, ordered: Sequence[PendingTask], p: int, count: int, shape: Shape, i: int
    ) -> None:
        """Launch the tasks at positions p .. p+count-1 on offer i."""
        o = self.offers
        o.cpu[i] -= shape.cpu * count
        o.mem[i] -= shape.mem * count
        o.disk[i] -= shape.disk * count
        o.gpu[i] -= shape.gpu * count
        o.nports[i] -= shape.nports * count
        plan = self.plans[i]
        if plan is None:
            plan = self.plans[i] = []
        offer_id, wanted, ranges, seq = o.ids[i], shape.wanted, o.ports[i], self.seq
        for q in range(p, p + count):
            seq += 1
            ports = ranges_take(ranges, wanted) if wanted else ()
            plan.append(Launch(ordered[q].task_id, offer_id, ports, seq))
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

    def exhaust(self, shape: Shape, p: int, head: bool) -> None:
        shape.exhausted = True
        if head:
            shape.waiting.appendleft(p)
        else:
            shape.waiting.append(p)
        if shape.plain and not self.dominated(shape):
            need = shape.need
            kept = [f for f in self.frontier.get(shape.role, []) if not _covers(need, f)]
            self.frontier[shape.role] = [*kept, need]

    def dominated(self, shape: Shape) -> bool:
        need = shape.need
        return any(_covers(failed, need) for failed in self.frontier.get(shape.role, ()))

    def release(self) -> None:
        if self.out >= 0 and self.out_shape is not None:
            role = self.out_shape.role
            self.offers.checkin(role, self.out, self.floors[role])
            self.out = -1


_UNBOUNDED = 1 << 62


def _covers(smaller: tuple[int, ...], larger: tuple[int, ...]) -> bool:
    return all(a <= b for a, b in zip(smaller, larger, strict=True))
