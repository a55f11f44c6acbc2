"""Working state of one placement decision: offers as arrays, tasks folded into shapes."""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from operator import attrgetter

from cluster.constraints import Constraint, Tally, canonical_field, field_value
from cluster.placement.model import (
    ExecutorOverhead,
    PendingTask,
    PlacementOffer,
    RunningOn,
    milli,
)
from cluster.placement.ports import PortRanges, ranges_contain, ranges_normalize, ranges_size

# A GPU counts for more than a whole offer's cpus and mem together, so tasks that need no
# GPU fill GPU-less offers first and GPU agents stay free for the tasks that need them.
_GPU_WEIGHT = 3.0 / 1000
_DISK_WEIGHT = 0.1
# Below this many allowed offers a shape looks at its candidates directly instead of
# walking the role's whole size-ordered list and skipping the rest.
_FEW_CANDIDATES = 48

_SHAPE_KEY = attrgetter("role", "group", "cpus", "mem", "disk", "gpus", "host_ports", "constraints")
Key = tuple[float, int]


class Offers:
    """Remaining resources per offer (thousandths, like the master) and per-role order.

    Offers are indexed in offer id order. `ranked[role]` holds `(score, index)` of every
    offer of the role that some task could still use, ascending: best fit is the first
    entry that fits, and nothing below the task's own score can fit it.
    """

    def __init__(self, offers: Sequence[PlacementOffer]) -> None:
        self.items = sorted(offers, key=attrgetter("offer_id"))
        ids = [offer.offer_id for offer in self.items]
        if len(set(ids)) != len(ids):
            raise ValueError("offer ids must be unique")
        self.ids = ids
        self.cpu = [milli(o.cpus) for o in self.items]
        self.mem = [milli(o.mem) for o in self.items]
        self.disk = [milli(o.disk) for o in self.items]
        self.gpu = [milli(o.gpus) for o in self.items]
        self.ports: list[PortRanges] = [ranges_normalize(o.ports) for o in self.items]
        self.nports = [ranges_size(r) for r in self.ports]
        self.by_role: dict[str, list[int]] = {}
        for index, offer in enumerate(self.items):
            self.by_role.setdefault(offer.role, []).append(index)
        self.ranked: dict[str, list[Key]] = {}
        self._values: dict[str, list[str | None]] = {}
        self._static: dict[Constraint, bytes] = {}
        self.wc = 1.0 / max(self.cpu, default=1) if any(self.cpu) else 0.0
        self.wm = 1.0 / max(self.mem, default=1) if any(self.mem) else 0.0
        self.wd = _DISK_WEIGHT / max(self.disk, default=1) if any(self.disk) else 0.0

    def __len__(self) -> int:
        return len(self.ids)

    def score(self, i: int) -> float:
        return (
            self.cpu[i] * self.wc
            + self.mem[i] * self.wm
            + self.disk[i] * self.wd
            + self.gpu[i] * _GPU_WEIGHT
        )

    def rank(self, floors: Mapping[str, tuple[int, int, int, int]]) -> None:
        """Build `ranked`, leaving out offers too small for every shape of their role."""
        for role, members in self.by_role.items():
            floor = floors.get(role)
            if floor is not None:
                live = [(self.score(i), i) for i in members if not self.below(i, floor)]
                self.ranked[role] = sorted(live)

    def below(self, i: int, floor: tuple[int, int, int, int]) -> bool:
        return (
            self.cpu[i] < floor[0]
            or self.mem[i] < floor[1]
            or self.disk[i] < floor[2]
            or self.nports[i] < floor[3]
        )

    def checkout(self, role: str, i: int) -> Key:
        """Take offer i out of its role's order while its resources change; its old key."""
        ranked = self.ranked[role]
        key = (self.score(i), i)
        del ranked[bisect_left(ranked, key)]
        return key

    def checkin(self, role: str, i: int, floor: tuple[int, int, int, int]) -> None:
        if not self.below(i, floor):
            insort(self.ranked[role], (self.score(i), i))

    def values(self, name: str) -> list[str | None]:
        """The offers' values of a constraint field, in index order."""
        name = canonical_field(name)
        if name not in self._values:
            self._values[name] = [
                field_value(name, o.hostname, o.attributes, o.region, o.zone) for o in self.items
            ]
        return self._values[name]

    def static_mask(self, constraint: Constraint) -> bytes:
        """Byte i is 1 when offer i passes the part of the constraint that ignores placement."""
        if constraint not in self._static:
            values = self.values(constraint.field)
            verdict = {value: constraint.accepts_static(value) for value in set(values)}
            self._static[constraint] = bytes(verdict[value] for value in values)
        return self._static[constraint]

    def ports_mask(self, fixed: tuple[int, ...]) -> bytes:
        return bytes(all(ranges_contain(r, port) for port in fixed) for r in self.ports)


class Group:
    """Where a constrained group's tasks run, per constraint field, updated as it is placed."""

    __slots__ = ("resets", "shapes", "tallies")

    def __init__(self) -> None:
        self.tallies: dict[str, Tally] = {}
        self.shapes: list[Shape] = []
        # True when a placement can make offers acceptable again (GROUP_BY, CLUSTER), so
        # shapes of the group that found nothing must look again.
        self.resets = False

    def placed(self, offers: Offers, i: int, count: int) -> None:
        for name, tally in self.tallies.items():
            tally.add(offers.values(name)[i], count)


class Shape:
    """Pending tasks that are interchangeable for placement: same role, group, needs, rules."""

    __slots__ = (
        "bulk",
        "candidates",
        "checks",
        "constraints",
        "cpu",
        "disk",
        "exhausted",
        "fixed",
        "gpu",
        "group",
        "group_name",
        "mask",
        "mem",
        "monotone",
        "need",
        "nports",
        "plain",
        "role",
        "score",
        "waiting",
        "wanted",
    )

    def __init__(self, task: PendingTask, overhead: tuple[int, int, int]) -> None:
        self.role = task.role
        self.group_name = task.group
        self.cpu = milli(task.cpus) + overhead[0]
        self.mem = milli(task.mem) + overhead[1]
        self.disk = milli(task.disk) + overhead[2]
        self.gpu = milli(task.gpus)
        self.wanted = task.host_ports
        self.fixed = tuple(port for port in task.host_ports if port)
        self.nports = len(task.host_ports)
        self.need = (self.cpu, self.mem, self.disk, self.gpu, self.nports)
        self.constraints = tuple(dict.fromkeys(task.constraints))
        self.monotone = all(c.is_monotone for c in task.constraints)
        self.plain = not task.constraints and not self.fixed
        self.group: Group | None = None
        self.checks: tuple[tuple[Constraint, list[str | None], Tally], ...] = ()
        self.mask: bytes | None = None
        self.candidates: list[int] | None = None
        self.score = 0.0
        # Runs of this shape may take an offer several tasks at a time: nothing about the
        # offer or the group changes between them that a one-by-one decision would see.
        self.bulk = not self.fixed
        self.exhausted = False
        # Positions of this shape's tasks that wait for a retry, lowest first.
        self.waiting: deque[int] = deque()

    def prepare(self, offers: Offers) -> None:
        self.score = (
            self.cpu * offers.wc
            + self.mem * offers.wm
            + self.disk * offers.wd
            + self.gpu * _GPU_WEIGHT
        )
        masks = [offers.static_mask(c) for c in self.constraints]
        if self.fixed:
            masks.append(offers.ports_mask(self.fixed))
        if masks:
            self.mask = _mask_and(masks)
            members = offers.by_role.get(self.role, [])
            allowed = [i for i in members if self.mask[i]]
            if len(allowed) <= _FEW_CANDIDATES and len(allowed) * 4 <= len(members):
                self.candidates = allowed
        if self.group is not None:
            self.checks = tuple(
                (c, offers.values(c.field), self.group.tallies[canonical_field(c.field)])
                for c in self.constraints
                if not c.is_static
            )
            self.bulk = self.bulk and not self.checks and not self.group.resets

    def extra_ok(self, offers: Offers, i: int) -> bool:
        """Fixed ports still free and placement-dependent constraints still met on offer i."""
        if self.fixed:
            ranges = offers.ports[i]
            for port in self.fixed:
                if not ranges_contain(ranges, port):
                    return False
        for constraint, values, tally in self.checks:
            value = values[i]
            if value is None or not constraint.accepts_placed(value, tally):
                return False
        return True


def order_tasks(tasks: Iterable[PendingTask]) -> list[PendingTask]:
    """Highest priority first, then lowest order, then task id: independent of input order."""
    ordered = sorted(tasks, key=attrgetter("task_id"))
    for index in range(1, len(ordered)):
        if ordered[index - 1].task_id == ordered[index].task_id:
            raise ValueError(f"task id {ordered[index].task_id!r} is pending twice")
    # Stable sorts from the least significant key up; reverse=True keeps ties in order too.
    ordered.sort(key=attrgetter("order"))
    ordered.sort(key=attrgetter("priority"), reverse=True)
    return ordered


def fold_shapes(
    ordered: Sequence[PendingTask],
    overhead: ExecutorOverhead,
    running: Mapping[str, Iterable[RunningOn]],
) -> tuple[list[Shape], list[Shape]]:
    """The shape of each task (by position) and the distinct shapes, in first-seen order."""
    extra = (milli(overhead.cpus), milli(overhead.mem), milli(overhead.disk))
    by_key: dict[tuple[object, ...], Shape] = {}
    shape_at: list[Shape] = []
    for task in ordered:
        key = _SHAPE_KEY(task)
        shape = by_key.get(key)
        if shape is None:
            shape = by_key[key] = Shape(task, extra)
        shape_at.append(shape)
    shapes = list(by_key.values())
    _attach_groups(shapes, running)
    return shape_at, shapes


def role_floors(shapes: Iterable[Shape]) -> dict[str, tuple[int, int, int, int]]:
    """Per role, the least cpu, mem, disk and ports any shape needs: less is useless."""
    floors: dict[str, tuple[int, int, int, int]] = {}
    for shape in shapes:
        need = (shape.cpu, shape.mem, shape.disk, shape.nports)
        old = floors.get(shape.role)
        floors[shape.role] = need if old is None else tuple(map(min, old, need))  # type: ignore[assignment]
    return floors


def _attach_groups(shapes: list[Shape], running: Mapping[str, Iterable[RunningOn]]) -> None:
    groups: dict[str, Group] = {}
    names = {shape.group_name for shape in shapes if shape.constraints}
    for shape in shapes:
        name = shape.group_name
        if name not in names:
            continue
        group = groups.get(name)
        if group is None:
            group = groups[name] = Group()
        group.shapes.append(shape)
        shape.group = group
        for constraint in shape.constraints:
            group.resets = group.resets or not constraint.is_monotone
            group.tallies.setdefault(canonical_field(constraint.field), Tally())
    for name, group in groups.items():
        for where in running.get(name, ()):
            for field_name, tally in group.tallies.items():
                value = field_value(
                    field_name, where.hostname, where.attributes, where.region, where.zone
                )
                tally.add(value, where.count)


def _mask_and(masks: list[bytes]) -> bytes:
    if len(masks) == 1:
        return masks[0]
    size = len(masks[0])
    combined = int.from_bytes(masks[0], "little")
    for mask in masks[1:]:
        combined &= int.from_bytes(mask, "little")
    return combined.to_bytes(size, "little")
