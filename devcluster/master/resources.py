"""Resource arithmetic: scalars, port ranges and sets, unreserved or reserved for a role.

A resource is keyed by (name, role) where role "*" means unreserved. Scalars are kept in
Mesos's fixed point (three decimals) so that 0.1 + 0.2 offers as 0.3.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from devcluster.interfaces import Json
from devcluster.master.mesosjson import scalar

Key = tuple[str, str]
Range = tuple[int, int]

UNRESERVED = "*"
# The orders the real master lists an agent's resources in: in offers, and in the agent's
# own description (its --resources order).
_NAME_ORDER = {"ports": 0, "cpus": 1, "mem": 2, "disk": 3, "gpus": 4}
_AGENT_ORDER = {"cpus": 0, "mem": 1, "disk": 2, "gpus": 3, "ports": 4}
_SUMMARY_SCALARS = ("disk", "mem", "gpus", "cpus")


class ResourceError(ValueError):
    pass


@dataclass(frozen=True)
class Reservation:
    """Where a resource came from in the request: its reservation role and allocation."""

    role: str
    allocation_role: str | None


def merge_ranges(ranges: Iterable[Range]) -> list[Range]:
    merged: list[Range] = []
    for begin, end in sorted(ranges):
        if merged and begin <= merged[-1][1] + 1:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((begin, end))
    return merged


def subtract_ranges(have: list[Range], take: list[Range]) -> list[Range]:
    result: list[Range] = []
    for begin, end in have:
        pieces = [(begin, end)]
        for t_begin, t_end in take:
            next_pieces: list[Range] = []
            for p_begin, p_end in pieces:
                if t_end < p_begin or t_begin > p_end:
                    next_pieces.append((p_begin, p_end))
                    continue
                if p_begin < t_begin:
                    next_pieces.append((p_begin, t_begin - 1))
                if t_end < p_end:
                    next_pieces.append((t_end + 1, p_end))
            pieces = next_pieces
        result.extend(pieces)
    return merge_ranges(result)


def ranges_contain(have: list[Range], want: list[Range]) -> bool:
    return all(any(b <= w_b and w_e <= e for b, e in have) for w_b, w_e in want)


def format_ranges(ranges: list[Range]) -> str:
    return "[" + ", ".join(f"{b}-{e}" for b, e in ranges) + "]"


def format_scalar(value: float) -> str:
    return format(scalar(value), ".15g")


def _sort_key(key: Key, order: dict[str, int] = _NAME_ORDER) -> tuple[int, str, int, str]:
    name, role = key
    return (0 if role == UNRESERVED else 1, role, order.get(name, 99), name)


class Resources:
    """A bag of resources; all operations keep it normalized (no empty entries)."""

    __slots__ = ("ranges", "scalars", "sets")

    def __init__(self) -> None:
        self.scalars: dict[Key, float] = {}
        self.ranges: dict[Key, list[Range]] = {}
        self.sets: dict[Key, frozenset[str]] = {}

    # -- building -------------------------------------------------------------------

    @classmethod
    def of(
        cls,
        scalars: dict[str, float] | None = None,
        ports: Iterable[Range] = (),
        role: str = UNRESERVED,
    ) -> Resources:
        res = cls()
        for name, amount in (scalars or {}).items():
            if amount > 0:
                res.add_scalar((name, role), amount)
        merged = merge_ranges(ports)
        if merged:
            res.ranges[("ports", role)] = merged
        return res

    def copy(self) -> Resources:
        res = Resources()
        res.scalars = dict(self.scalars)
        res.ranges = {k: list(v) for k, v in self.ranges.items()}
        res.sets = dict(self.sets)
        return res

    def add_scalar(self, key: Key, amount: float) -> None:
        total = scalar(self.scalars.get(key, 0.0) + amount)
        if total > 0:
            self.scalars[key] = total
        else:
            self.scalars.pop(key, None)

    # -- arithmetic -----------------------------------------------------------------

    def add(self, other: Resources) -> Resources:
        for key, amount in other.scalars.items():
            self.add_scalar(key, amount)
        for key, ranges in other.ranges.items():
            self.ranges[key] = merge_ranges([*self.ranges.get(key, []), *ranges])
        for key, items in other.sets.items():
            self.sets[key] = self.sets.get(key, frozenset()) | items
        return self

    def subtract(self, other: Resources) -> Resources:
        for key, amount in other.scalars.items():
            self.add_scalar(key, -amount)
        for key, ranges in other.ranges.items():
            left = subtract_ranges(self.ranges.get(key, []), ranges)
            if left:
                self.ranges[key] = left
            else:
                self.ranges.pop(key, None)
        for key, items in other.sets.items():
            rest = self.sets.get(key, frozenset()) - items
            if rest:
                self.sets[key] = rest
            else:
                self.sets.pop(key, None)
        return self

    def contains(self, other: Resources) -> bool:
        for key, amount in other.scalars.items():
            if scalar(self.scalars.get(key, 0.0)) < scalar(amount):
                return False
        for key, ranges in other.ranges.items():
            if not ranges_contain(self.ranges.get(key, []), ranges):
                return False
        return all(items <= self.sets.get(key, frozenset()) for key, items in other.sets.items())

    def is_empty(self) -> bool:
        return not (self.scalars or self.ranges or self.sets)

    def __bool__(self) -> bool:
        return not self.is_empty()

    # -- views ----------------------------------------------------------------------

    def roles(self) -> set[str]:
        return {key[1] for key in self.keys()}

    def keys(self) -> Iterator[Key]:
        yield from self.scalars
        yield from self.ranges
        yield from self.sets

    def only_roles(self, roles: Iterable[str]) -> Resources:
        wanted = set(roles)
        res = Resources()
        res.scalars = {k: v for k, v in self.scalars.items() if k[1] in wanted}
        res.ranges = {k: list(v) for k, v in self.ranges.items() if k[1] in wanted}
        res.sets = {k: v for k, v in self.sets.items() if k[1] in wanted}
        return res

    def offerable_to(self, role: str) -> Resources:
        """What an offer to `role` may hold: unreserved, plus what is reserved for it or for
        an ancestor of it (Resources::isAllocatableTo: `eng`'s reservation goes to `eng/web`)."""
        parts = role.split("/")
        ancestors = ("/".join(parts[:n]) for n in range(1, len(parts)))
        return self.only_roles((UNRESERVED, role, *ancestors))

    def reserved(self) -> Resources:
        res = Resources()
        res.scalars = {k: v for k, v in self.scalars.items() if k[1] != UNRESERVED}
        res.ranges = {k: list(v) for k, v in self.ranges.items() if k[1] != UNRESERVED}
        res.sets = {k: v for k, v in self.sets.items() if k[1] != UNRESERVED}
        return res

    def quantity(self, name: str) -> float:
        return scalar(sum(v for (n, _), v in self.scalars.items() if n == name))

    def quantities(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        for (name, _), amount in self.scalars.items():
            totals[name] = scalar(totals.get(name, 0.0) + amount)
        return totals

    def allocatable(self) -> bool:
        """The master's default --min_allocatable_resources: cpus:0.01|mem:32."""
        cpus = mem = 0.0
        for (name, _), amount in self.scalars.items():
            if name == "cpus":
                cpus += amount
            elif name == "mem":
                mem += amount
        return cpus >= 0.01 or mem >= 32

    def sorted_keys(self, *, agent_order: bool = False) -> list[Key]:
        if agent_order:
            return sorted(self.keys(), key=lambda k: _sort_key(k, _AGENT_ORDER))
        return sorted(self.keys(), key=_sort_key)

    # -- output ---------------------------------------------------------------------

    def to_json(
        self,
        *,
        allocation_role: str | None = None,
        refinement: bool = False,
        role_field: bool = True,
        agent_order: bool = False,
    ) -> list[Json]:
        """v1 Resource objects.

        Without RESERVATION_REFINEMENT resources are written in the old format ("role"),
        with it in the new one ("reservations"); `role_field=False` writes neither for
        unreserved resources, as agent_info does."""
        out: list[Json] = []
        for key in self.sorted_keys(agent_order=agent_order):
            item = self._value_json(key)
            role = key[1]
            if refinement:
                if role != UNRESERVED:
                    item["reservations"] = [{"type": "STATIC", "role": role}]
            elif role_field or role != UNRESERVED:
                item["role"] = role
            if allocation_role is not None:
                item["allocation_info"] = {"role": allocation_role}
            out.append(item)
        return out

    def _value_json(self, key: Key) -> Json:
        name = key[0]
        if key in self.scalars:
            return {"name": name, "type": "SCALAR", "scalar": {"value": self.scalars[key]}}
        if key in self.ranges:
            ranges = [{"begin": b, "end": e} for b, e in self.ranges[key]]
            return {"name": name, "type": "RANGES", "ranges": {"range": ranges}}
        return {"name": name, "type": "SET", "set": {"item": sorted(self.sets[key])}}

    def summary(self) -> Json:
        """The legacy endpoints' resource map: cpus/gpus/mem/disk always, ranges as text."""
        quantities = self.quantities()
        out: Json = {name: quantities.get(name, 0.0) for name in _SUMMARY_SCALARS}
        for name, amount in quantities.items():
            out.setdefault(name, amount)
        by_name: dict[str, list[Range]] = {}
        for (name, _), ranges in self.ranges.items():
            by_name[name] = merge_ranges([*by_name.get(name, []), *ranges])
        for name, ranges in sorted(by_name.items()):
            out[name] = format_ranges(ranges)
        sets: dict[str, frozenset[str]] = {}
        for (name, _), items in self.sets.items():
            sets[name] = sets.get(name, frozenset()) | items
        for name, items in sorted(sets.items()):
            out[name] = "{" + ", ".join(sorted(items)) + "}"
        return out

    def describe(self, allocation_role: str | None) -> str:
        """Mesos's text form, as used in validation messages."""
        return "; ".join(describe_one(key, self, allocation_role) for key in self.sorted_keys())


def describe_one(
    key: Key, res: Resources, allocation_role: str | None, reservations: str | None = None
) -> str:
    name, role = key
    text = name
    if allocation_role is not None:
        text += f"(allocated: {allocation_role})"
    if reservations is None and role != UNRESERVED:
        reservations = f"(STATIC,{role})"
    if reservations is not None:
        text += f"(reservations: [{reservations}])"
    if key in res.scalars:
        return f"{text}:{format_scalar(res.scalars[key])}"
    if key in res.ranges:
        return f"{text}:{format_ranges(res.ranges[key])}"
    return f"{text}:{{" + ", ".join(sorted(res.sets[key])) + "}"


def reservation_role(resource: Json) -> str:
    """A resource's reservation role in either format; "*" when unreserved."""
    reservations = resource.get("reservations")
    if isinstance(reservations, list) and reservations:
        last = reservations[-1]
        role = last.get("role") if isinstance(last, dict) else None
        return role if isinstance(role, str) and role else UNRESERVED
    role = resource.get("role")
    return role if isinstance(role, str) and role else UNRESERVED


def reservations_text(resource: Json) -> str | None:
    """A resource's reservations as Mesos prints them, in either format: "(STATIC,web)",
    "(DYNAMIC,web,ops,{k: v})"; None when unreserved."""
    reservations = resource.get("reservations")
    if isinstance(reservations, list) and reservations:
        return ",".join(_reservation_text(r if isinstance(r, dict) else {}) for r in reservations)
    role = resource.get("role")
    if not isinstance(role, str) or role in ("", UNRESERVED):
        return None
    legacy = resource.get("reservation")
    if legacy is None:
        return f"(STATIC,{role})"
    fields = legacy if isinstance(legacy, dict) else {}
    return _reservation_text({**fields, "type": "DYNAMIC", "role": role})


def _reservation_text(reservation: Json) -> str:
    text = f"{reservation.get('type', 'UNKNOWN')},{reservation.get('role', '')}"
    if "principal" in reservation:
        text += f",{reservation['principal']}"
    if "labels" in reservation:
        labels = (reservation["labels"] or {}).get("labels") or []
        shown = [
            f"{x.get('key')}: {x['value']}" if "value" in x else str(x.get("key")) for x in labels
        ]
        text += ",{" + ", ".join(shown) + "}"
    return f"({text})"


def offered_reservation(resource: Json) -> bool:
    """Whether the reservation a task names is one an agent here can hold: none, or a
    static one for a single role. Agents have only --reserve's static reservations, so a
    dynamic, refined or labelled one is contained in no offer (the master compares the
    whole ReservationInfo, not just its role)."""
    text = reservations_text(resource)
    return text is None or text == f"(STATIC,{reservation_role(resource)})"


def parse_resource(resource: Json) -> tuple[Key, Resources]:
    """One v1 Resource object as a Resources; raises ResourceError when malformed."""
    name = resource.get("name")
    kind = resource.get("type")
    if not isinstance(name, str) or not name:
        raise ResourceError("Empty resource name")
    key = (name, reservation_role(resource))
    res = Resources()
    if kind == "SCALAR":
        value = (resource.get("scalar") or {}).get("value")
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value != value:
            raise ResourceError(f"Invalid scalar resource {name}: missing value")
        if value < 0:
            raise ResourceError(f"Invalid scalar resource {name}:{format_scalar(value)}")
        if value > 0:
            res.scalars[key] = scalar(value)
    elif kind == "RANGES":
        items = (resource.get("ranges") or {}).get("range") or []
        ranges: list[Range] = []
        for item in items:
            begin, end = item.get("begin"), item.get("end")
            if not isinstance(begin, int) or not isinstance(end, int) or begin > end:
                raise ResourceError(f"Invalid ranges resource {name}: bad range {item}")
            ranges.append((begin, end))
        if ranges:
            res.ranges[key] = merge_ranges(ranges)
    elif kind == "SET":
        items = (resource.get("set") or {}).get("item") or []
        if items:
            res.sets[key] = frozenset(str(i) for i in items)
    else:
        raise ResourceError(f"Invalid resource type for {name}: {kind}")
    return key, res


def parse_resources(resources: Iterable[Json]) -> Resources:
    total = Resources()
    for resource in resources:
        total.add(parse_resource(resource)[1])
    return total


def describe_request(resources: list[Json], allocation_role: str | None) -> str:
    """Task resources as the master prints them: request order, merged by key."""
    merged: dict[tuple[Key, str | None, str | None], Resources] = {}
    for resource in resources:
        try:
            key, res = parse_resource(resource)
        except ResourceError:
            continue
        info = resource.get("allocation_info")
        role = info.get("role") if isinstance(info, dict) else None
        slot = (
            key,
            role if isinstance(role, str) else allocation_role,
            reservations_text(resource),
        )
        merged.setdefault(slot, Resources()).add(res)
    parts = [
        describe_one(key, res, alloc, reservations)
        for (key, alloc, reservations), res in merged.items()
        if key in set(res.keys())
    ]
    return "; ".join(parts)
