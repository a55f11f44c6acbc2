"""Working state of one placement decision: offers as arrays, tasks folded into shapes."""

from __future__ import annotations

from bisect import bisect_left
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from itertools import islice
from operator import attrgetter, le

from cluster.constraints import HOSTNAME, Constraint, Tally, canonical_field, field_value
from cluster.placement.model import (
    ExecutorOverhead,
    PendingTask,
    PlacementOffer,
    PlacementSpec,
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

_RANK = attrgetter("rank")
Key = tuple[float, int]
# Thousandths of cpus, mem, disk and gpus, and a number of ports.
Need = tuple[int, int, int, int, int]


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
        # milli() inlined: non-negative amounts, so int() rounds down like floor.
        self.cpu = [int(o.cpus * 1000 + 0.5) for o in self.items]
        self.mem = [int(o.mem * 1000 + 0.5) for o in self.items]
        self.disk = [int(o.disk * 1000 + 0.5) for o in self.items]
        self.gpu = [int(o.gpus * 1000 + 0.5) for o in self.items]
        # One range per offer is the rule; only several need sorting and merging.
        self.ports: list[PortRanges] = [
            [list(o.ports[0])] if len(o.ports) == 1 else ranges_normalize(o.ports)
            for o in self.items
        ]
        self.nports = [r[0][1] - r[0][0] + 1 if len(r) == 1 else ranges_size(r) for r in self.ports]
        self.by_role: dict[str, list[int]] = {}
        for index, offer in enumerate(self.items):
            self.by_role.setdefault(offer.role, []).append(index)
        self.ranked: dict[str, list[Key]] = {}
        self._values: dict[str, list[str | None]] = {}
        self._static: dict[Constraint, bytes | None] = {}
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

    def rank(self, floors: Mapping[str, Need]) -> None:
        """Build `ranked`, leaving out offers too small for every shape of their role."""
        for role, members in self.by_role.items():
            floor = floors.get(role)
            if floor is not None:
                live = [(self.score(i), i) for i in members if not self.below(i, floor)]
                self.ranked[role] = sorted(live)

    def below(self, i: int, floor: Need) -> bool:
        """True when offer i lacks something that even the smallest shape needs."""
        return (
            self.cpu[i] < floor[0]
            or self.mem[i] < floor[1]
            or self.disk[i] < floor[2]
            or self.gpu[i] < floor[3]
            or self.nports[i] < floor[4]
        )

    def checkin(self, ranked: list[Key], i: int, floor: Need) -> int:
        """Put offer i back into its role's order after a change; its position, or -1."""
        cpu, mem, disk, gpu = self.cpu[i], self.mem[i], self.disk[i], self.gpu[i]
        if (
            cpu < floor[0]
            or mem < floor[1]
            or disk < floor[2]
            or gpu < floor[3]
            or self.nports[i] < floor[4]
        ):
            return -1
        key = (cpu * self.wc + mem * self.wm + disk * self.wd + gpu * _GPU_WEIGHT, i)
        at = bisect_left(ranked, key)
        ranked.insert(at, key)
        return at

    def values(self, name: str) -> list[str | None]:
        """The offers' values of a constraint field, in index order."""
        name = canonical_field(name)
        if name not in self._values:
            if name == HOSTNAME:
                values: list[str | None] = [o.hostname for o in self.items]
            elif name.startswith("@"):
                values = [field_value(name, o.hostname, {}, o.region, o.zone) for o in self.items]
            else:
                values = [o.attributes.get(name) for o in self.items]
            self._values[name] = values
        return self._values[name]

    def static_mask(self, constraint: Constraint) -> bytes | None:
        """Byte i is 1 when offer i passes the part of the constraint that ignores placement.

        None when every offer passes, as for UNIQUE or GROUP_BY on hostname.
        """
        if constraint not in self._static:
            values = self.values(constraint.field)
            if constraint.is_static:
                verdict = {value: constraint.accepts_static(value) for value in set(values)}
                mask = bytes(map(verdict.__getitem__, values))
            else:
                # The rest is decided per offer during the search.
                mask = bytes(value is not None for value in values)
            self._static[constraint] = None if mask.count(0) == 0 else mask
        return self._static[constraint]

    def ports_mask(self, fixed: tuple[int, ...]) -> bytes | None:
        mask = bytes(all(ranges_contain(r, port) for port in fixed) for r in self.ports)
        return None if mask.count(0) == 0 else mask


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
        "extra",
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

    def __init__(self, spec: PlacementSpec, overhead: tuple[int, int, int]) -> None:
        self.role = spec.role
        self.group_name = spec.group
        self.cpu = milli(spec.cpus) + overhead[0]
        self.mem = milli(spec.mem) + overhead[1]
        self.disk = milli(spec.disk) + overhead[2]
        self.gpu = milli(spec.gpus)
        self.wanted = spec.host_ports
        self.fixed = tuple(port for port in spec.host_ports if port) if spec.host_ports else ()
        self.nports = len(spec.host_ports)
        self.need: Need = (self.cpu, self.mem, self.disk, self.gpu, self.nports)
        self.constraints = tuple(dict.fromkeys(spec.constraints)) if spec.constraints else ()
        self.monotone = all(c.is_monotone for c in self.constraints)
        self.plain = not self.constraints and not self.fixed
        self.group: Group | None = None
        self.checks: tuple[tuple[Constraint, list[str | None], Tally], ...] = ()
        self.mask: bytes | None = None
        self.candidates: list[int] | None = None
        self.score = 0.0
        self.extra = False
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
        found = [offers.static_mask(c) for c in self.constraints]
        if self.fixed:
            found.append(offers.ports_mask(self.fixed))
        masks = [mask for mask in found if mask is not None]
        if masks:
            self.mask = mask = _mask_and(masks)
            members = offers.by_role.get(self.role, [])
            if mask.count(1) <= _FEW_CANDIDATES:
                allowed = [i for i in members if mask[i]]
                if len(allowed) * 4 <= len(members):
                    self.candidates = allowed
        if self.group is not None:
            self.checks = tuple(
                (c, offers.values(c.field), self.group.tallies[canonical_field(c.field)])
                for c in self.constraints
                if not c.is_static
            )
            self.bulk = self.bulk and not self.checks and not self.group.resets
        self.extra = bool(self.fixed or self.checks)

    def versions(self) -> tuple[int, ...]:
        """Versions of the tallies the shape's GROUP_BY and CLUSTER constraints read."""
        if self.monotone:
            return ()
        return tuple(tally.version for c, _, tally in self.checks if not c.is_monotone)

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
    ordered = list(tasks)
    ranks = [task.rank for task in ordered]
    # The framework's queue usually arrives in order: checking costs a third of sorting.
    if not all(map(le, ranks, islice(ranks, 1, None))):
        ordered.sort(key=_RANK)
    if len({task.task_id for task in ordered}) != len(ordered):
        seen: set[str] = set()
        for task in ordered:
            if task.task_id in seen:
                raise ValueError(f"task id {task.task_id!r} is pending twice")
            seen.add(task.task_id)
    return ordered


def fold_shapes(
    ordered: Sequence[PendingTask],
    overhead: ExecutorOverhead,
    running: Mapping[str, Iterable[RunningOn]],
) -> tuple[list[Shape], list[Shape]]:
    """The shape of each task (by position) and the distinct shapes, in first-seen order."""
    extra = (milli(overhead.cpus), milli(overhead.mem), milli(overhead.disk))
    by_spec: dict[PlacementSpec, Shape] = {}
    # Tasks of one app version share their spec object and mostly sit together in the
    # queue: the previous task's spec, then identity, answer without hashing the spec.
    by_id: dict[int, Shape] = {}
    shape_at: list[Shape] = []
    last_spec: PlacementSpec | None = None
    shape: Shape | None = None
    for task in ordered:
        spec = task.spec
        if spec is not last_spec:
            last_spec, shape = spec, by_id.get(id(spec))
            if shape is None:
                shape = by_spec.get(spec)
                if shape is None:
                    shape = by_spec[spec] = Shape(spec, extra)
                by_id[id(spec)] = shape
        shape_at.append(shape)  # type: ignore[arg-type]
    shapes = list(by_spec.values())
    _attach_groups(shapes, running)
    return shape_at, shapes


def role_floors(shapes: Iterable[Shape]) -> dict[str, Need]:
    """Per role, the least of each resource any shape needs: an offer with less is useless."""
    floors: dict[str, Need] = {}
    for shape in shapes:
        old = floors.get(shape.role)
        floors[shape.role] = shape.need if old is None else _least(old, shape.need)
    return floors


def _least(a: Need, b: Need) -> Need:
    return (min(a[0], b[0]), min(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3]), min(a[4], b[4]))


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
            if not constraint.is_static:
                group.tallies.setdefault(canonical_field(constraint.field), Tally())
    for name, group in groups.items():
        for where in running.get(name, ()):
            for field_name, tally in group.tallies.items():
                value = field_value(
                    field_name, where.hostname, where.attributes, where.region, where.zone
                )
                tally.add(value, where.count)


def _mask_and(masks: Sequence[bytes]) -> bytes:
    if len(masks) == 1:
        return masks[0]
    size = len(masks[0])
    combined = int.from_bytes(masks[0], "little")
    for mask in masks[1:]:
        combined &= int.from_bytes(mask, "little")
    return combined.to_bytes(size, "little")
