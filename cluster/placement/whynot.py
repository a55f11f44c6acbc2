"""Why tasks stayed pending: per reason, how many offers of the batch turned them down.

Counting works per shape, not per task and offer: sorted remaining resources answer "how
many offers have less than x" with a bisection, and constraint rejections are summed over
the distinct values of the field instead of over offers.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Sequence

from cluster.constraints import Constraint, Operator, canonical_field
from cluster.placement.index import Offers, Shape
from cluster.placement.model import PendingTask, WhyNot
from cluster.placement.ports import ranges_contain


def explain(
    offers: Offers,
    shapes: Iterable[Shape],
    ordered: Sequence[PendingTask],
    undecided: Iterable[int] = (),
) -> dict[str, WhyNot]:
    """WhyNot for every task still waiting, keyed by task id."""
    survey = _Survey(offers)
    limited = WhyNot(offers=len(offers), limited=True)
    reasons: dict[str, WhyNot] = {ordered[p].task_id: limited for p in undecided}
    for shape in shapes:
        if shape.waiting:
            why = survey.why(shape)
            for p in shape.waiting:
                reasons[ordered[p].task_id] = why
    return reasons


class _Survey:
    """The final state of the batch's offers, summarised per role as needed."""

    def __init__(self, offers: Offers) -> None:
        self.offers = offers
        self._sorted: dict[str, tuple[list[int], ...]] = {}
        self._histograms: dict[tuple[str, str], Counter[str | None]] = {}
        self._static: dict[tuple[str, Constraint], int] = {}

    def why(self, shape: Shape) -> WhyNot:
        o = self.offers
        members = o.by_role.get(shape.role, [])
        if not members:
            return WhyNot(offers=len(o), role=len(o))
        cpu, mem, disk, gpu, nports = self.sorted_remaining(shape.role)
        rejected = ((str(c), self.rejected(shape, c)) for c in shape.constraints)
        return WhyNot(
            offers=len(o),
            role=len(o) - len(members),
            cpus=bisect_left(cpu, shape.cpu),
            mem=bisect_left(mem, shape.mem),
            disk=bisect_left(disk, shape.disk),
            gpus=bisect_left(gpu, shape.gpu),
            ports=self.short_of_ports(shape, members, nports),
            constraints=tuple((spec, count) for spec, count in rejected if count),
        )

    def sorted_remaining(self, role: str) -> tuple[list[int], ...]:
        if role not in self._sorted:
            o = self.offers
            members = o.by_role[role]
            self._sorted[role] = tuple(
                sorted(column[i] for i in members)
                for column in (o.cpu, o.mem, o.disk, o.gpu, o.nports)
            )
        return self._sorted[role]

    def short_of_ports(self, shape: Shape, members: list[int], nports: list[int]) -> int:
        if not shape.fixed:
            return bisect_left(nports, shape.nports)
        o = self.offers
        return sum(
            1
            for i in members
            if o.nports[i] < shape.nports
            or not all(ranges_contain(o.ports[i], port) for port in shape.fixed)
        )

    def rejected(self, shape: Shape, constraint: Constraint) -> int:
        histogram = self.histogram(shape.role, constraint.field)
        if constraint.is_static:
            key = (shape.role, constraint)
            if key not in self._static:
                self._static[key] = sum(
                    count
                    for value, count in histogram.items()
                    if not constraint.accepts_static(value)
                )
            return self._static[key]
        return self.rejected_placed(shape, constraint, histogram)

    def rejected_placed(
        self, shape: Shape, constraint: Constraint, histogram: Counter[str | None]
    ) -> int:
        assert shape.group is not None
        tally = shape.group.tallies[canonical_field(constraint.field)]
        missing = histogram.get(None, 0)
        if constraint.operator is Operator.CLUSTER:
            if not tally:
                return missing
            anchor = tally.anchor()
            pinned = histogram.get(anchor, 0) if anchor is not None else 0
            return histogram.total() - pinned
        # UNIQUE, MAX_PER and GROUP_BY accept every value no task of the group runs on yet,
        # so only the values in the tally can reject.
        return missing + sum(
            histogram.get(value, 0)
            for value in tally
            if value is not None and not constraint.accepts_placed(value, tally)
        )

    def histogram(self, role: str, name: str) -> Counter[str | None]:
        key = (role, canonical_field(name))
        if key not in self._histograms:
            values = self.offers.values(name)
            self._histograms[key] = Counter(values[i] for i in self.offers.by_role[role])
        return self._histograms[key]
