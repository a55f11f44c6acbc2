"""Resources, attributes and the offers that carry them (mesos.v1 Resource, Offer)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Label:
    key: str
    value: str | None = None


@dataclass(frozen=True, slots=True, order=True)
class PortRange:
    """Inclusive on both ends, as Mesos writes ``{"begin", "end"}``."""

    begin: int
    end: int

    @property
    def count(self) -> int:
        return self.end - self.begin + 1

    def __contains__(self, port: object) -> bool:
        return isinstance(port, int) and self.begin <= port <= self.end

    def __str__(self) -> str:
        return f"{self.begin}-{self.end}"


@dataclass(frozen=True, slots=True)
class Reservation:
    """One ReservationInfo; in the refined format each entry refines the one before."""

    role: str | None
    type: str | None = None  # STATIC | DYNAMIC
    principal: str | None = None
    labels: tuple[Label, ...] = ()


@dataclass(frozen=True, slots=True)
class Resource:
    name: str
    type: str  # SCALAR | RANGES | SET
    scalar: float | None = None
    ranges: tuple[PortRange, ...] = ()
    items: tuple[str, ...] = ()
    # Pre-refinement format: "*" is unreserved, anything else a static/dynamic role.
    role: str | None = None
    allocation_role: str | None = None
    reservations: tuple[Reservation, ...] = ()
    revocable: bool = False
    shared: bool = False
    volume_id: str | None = None  # a persistent volume only tasks that mount it may use
    provider_id: str | None = None

    @property
    def reserved_role(self) -> str | None:
        if self.reservations:
            return self.reservations[-1].role
        if self.role and self.role != "*":
            return self.role
        return None

    @property
    def is_reserved(self) -> bool:
        return self.reserved_role is not None


@dataclass(frozen=True, slots=True)
class ResourceTotals:
    """Plain quantities a task can be fitted into. mem and disk are in MB."""

    cpus: float = 0.0
    mem: float = 0.0
    disk: float = 0.0
    gpus: float = 0.0
    ports: tuple[PortRange, ...] = ()

    @property
    def port_count(self) -> int:
        return sum(r.count for r in self.ports)

    @classmethod
    def of(cls, resources: Iterable[Resource]) -> ResourceTotals:
        """Sum what a plain task may use: revocable resources and persistent volumes
        are left out, because a task that did not ask for them cannot be given them."""
        scalars = {"cpus": 0.0, "mem": 0.0, "disk": 0.0, "gpus": 0.0}
        ports: list[PortRange] = []
        for resource in resources:
            if resource.revocable or resource.volume_id is not None:
                continue
            if resource.name in scalars and resource.scalar is not None:
                scalars[resource.name] += resource.scalar
            elif resource.name == "ports":
                ports.extend(resource.ranges)
        # Mesos keeps scalars to 3 decimals; summing floats would show 0.30000000000000004.
        rounded = {name: round(value, 3) for name, value in scalars.items()}
        return cls(ports=tuple(sorted(ports)), **rounded)


@dataclass(frozen=True, slots=True)
class Attribute:
    name: str
    type: str  # TEXT | SCALAR | RANGES | SET
    text: str | None = None
    scalar: float | None = None
    ranges: tuple[PortRange, ...] = ()
    items: tuple[str, ...] = ()

    @property
    def value_text(self) -> str:
        """The attribute as Mesos prints it in --attributes (``r1``, ``2``, ``[1-3]``)."""
        if self.type == "TEXT":
            return self.text or ""
        if self.type == "SCALAR":
            return f"{self.scalar:g}" if self.scalar is not None else ""
        if self.type == "RANGES":
            return "[" + ",".join(str(r) for r in self.ranges) + "]"
        return "{" + ",".join(self.items) + "}"


@dataclass(frozen=True, slots=True)
class AgentEndpoint:
    """Offer.url: where the agent's HTTP API (files, state, statistics) answers."""

    scheme: str
    port: int
    hostname: str | None = None
    ip: str | None = None

    @property
    def base_url(self) -> str:
        # The IP needs no DNS; the hostname is the fallback when Mesos knows no IP.
        host = self.ip or self.hostname or "localhost"
        if ":" in host:
            host = f"[{host}]"
        return f"{self.scheme}://{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class Offer:
    id: str
    framework_id: str
    agent_id: str
    hostname: str
    resources: tuple[Resource, ...]
    allocation_role: str | None = None  # None for frameworks without MULTI_ROLE
    agent_endpoint: AgentEndpoint | None = None
    attributes: tuple[Attribute, ...] = ()
    executor_ids: tuple[str, ...] = ()
    region: str | None = None
    zone: str | None = None
    unavailable_from_ns: int | None = None  # maintenance window start (epoch ns)
    unavailable_for_ns: int | None = None
    totals: ResourceTotals = field(init=False, compare=False)

    def __post_init__(self) -> None:
        # Derived once: offer matching reads the totals many times per offer.
        object.__setattr__(self, "totals", ResourceTotals.of(self.resources))

    def attribute(self, name: str) -> Attribute | None:
        return next((a for a in self.attributes if a.name == name), None)


@dataclass(frozen=True, slots=True)
class InverseOffer:
    id: str
    agent_id: str | None
    framework_id: str | None
    unavailable_from_ns: int | None = None
    unavailable_for_ns: int | None = None
