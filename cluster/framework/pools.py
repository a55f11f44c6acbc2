"""What the tasks of one ACCEPT take from its offers: reserved resources first, then unreserved.

Cpus reserved for a role and unreserved cpus are different resources to the master: a
TaskInfo must name each part it takes the way the offer named it (reservation and all),
and the master refuses a task whose resources are not contained in its offers. Placement
only sees totals; this turns a placed task's needs into those parts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from cluster.placement.model import milli
from cluster.placement.ports import PortRanges, ranges_contain, ranges_normalize, ranges_remove
from cluster.translate.calls import Json
from cluster.translate.tasks import taken_resource_json
from cluster.types import Offer, Resource

_SCALARS = ("cpus", "mem", "disk", "gpus")


def usable_by(resource: Resource, role: str) -> bool:
    """Whether a plain task of `role` may be given this offered resource: unreserved, or
    reserved for the role or an ancestor of it (hierarchical roles: Mesos's
    Resources::isAllocatableTo offers a reservation for `eng` to `eng/web` too).
    Persistent volumes, revocable and shared resources go only to tasks that name them."""
    if resource.revocable or resource.shared or resource.volume_id is not None:
        return False
    reserved = resource.reserved_role
    return reserved is None or reserved == role or role.startswith(f"{reserved}/")


def has_reserved(offers: Iterable[Offer], role: str) -> bool:
    """Whether any resource these offers give a task of `role` is a reserved one."""
    # Asked for every ACCEPT of a round: plain fields first, so unreserved offers cost little.
    return any(
        (r.reservations or r.role not in (None, "*")) and usable_by(r, role)
        for offer in offers
        for r in offer.resources
    )


@dataclass(slots=True)
class _Pool:
    """What is left of the resources that share one reservation (or none)."""

    source: Resource | None  # the offered resource whose reservation the parts repeat
    depth: int  # how specific the reservation's role is: the role's own come first
    left: dict[str, int] = field(default_factory=dict)  # thousandths, as Mesos counts
    ports: PortRanges = field(default_factory=list)


class ResourcePools:
    """The usable resources of the offers of one ACCEPT (one agent, one role), by
    reservation. Each task draws from them in turn, so they shrink as tasks are assigned:
    the master checks a LAUNCH against what the operations before it left over."""

    def __init__(self, offers: Iterable[Offer], role: str) -> None:
        self.role = role
        pools: dict[tuple[object, ...], _Pool] = {}
        for offer in offers:
            for resource in offer.resources:
                if usable_by(resource, role):
                    self._add(pools, resource)
        for pool in pools.values():
            pool.ports = ranges_normalize([(begin, end) for begin, end in pool.ports])
        unreserved = pools.pop(_UNRESERVED, None)
        # The most specific reservation first: an ancestor's is shared with other roles.
        self.reserved = sorted(pools.values(), key=lambda p: -p.depth)
        self.pools = [*self.reserved, unreserved or _Pool(None, 0)]

    @staticmethod
    def _add(pools: dict[tuple[object, ...], _Pool], resource: Resource) -> None:
        reserved = resource.reserved_role
        key = _UNRESERVED if reserved is None else (resource.role, resource.reservations)
        pool = pools.get(key)
        if pool is None:
            source = None if reserved is None else resource
            depth = 0 if reserved is None else reserved.count("/") + 1
            pool = pools[key] = _Pool(source, depth)
        if resource.name in _SCALARS and resource.scalar is not None:
            pool.left[resource.name] = pool.left.get(resource.name, 0) + milli(resource.scalar)
        elif resource.name == "ports":
            pool.ports.extend([r.begin, r.end] for r in resource.ranges)

    @property
    def has_reserved(self) -> bool:
        return bool(self.reserved)

    def draw(self, scalars: Sequence[tuple[str, float]], ports: Sequence[int]) -> list[Json]:
        """The TaskInfo resources for these needs, taken out of the pools: each scalar from
        the reserved pools first and the unreserved one for the rest (one need may become
        two entries), each port from the pool that holds it. All or nothing: a need the
        pools cannot meet raises ValueError and takes nothing."""
        taken: list[tuple[_Pool, str, int]] = []
        for name, amount in scalars:
            taken.extend(self._split(name, milli(amount)))
        by_pool = self._ports_by_pool(ports)
        for pool, name, amount in taken:
            pool.left[name] -= amount
        for pool, held in by_pool:
            for port in held:
                ranges_remove(pool.ports, port)
        parts = [
            taken_resource_json(name, pool.source, self.role, amount=_decimal(amount))
            for pool, name, amount in taken
        ]
        parts.extend(
            taken_resource_json("ports", pool.source, self.role, ports=held)
            for pool, held in by_pool
        )
        return parts

    def _split(self, name: str, need: int) -> list[tuple[_Pool, str, int]]:
        parts = []
        for pool in self.pools:
            if need <= 0:
                break
            take = min(need, pool.left.get(name, 0))
            if take > 0:
                parts.append((pool, name, take))
                need -= take
        if need > 0:
            raise ValueError(f"the offers have {_decimal(need)} {name} too few for this task")
        return parts

    def _ports_by_pool(self, ports: Sequence[int]) -> list[tuple[_Pool, list[int]]]:
        held: dict[int, list[int]] = {}
        for port in ports:
            index = next(
                (n for n, pool in enumerate(self.pools) if ranges_contain(pool.ports, port)), None
            )
            if index is None:
                raise ValueError(f"port {port} is not free in the offers")
            held.setdefault(index, []).append(port)
        return [(self.pools[index], held[index]) for index in sorted(held)]


_UNRESERVED: tuple[object, ...] = ()


def _decimal(thousandths: int) -> float:
    return thousandths / 1000
