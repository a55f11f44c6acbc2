"""Mesos JSON -> Resource, Attribute, Offer, TaskStatus (shared by events and operator replies)."""

from __future__ import annotations

from typing import Any

from cluster.translate._read import (
    PayloadError,
    integer,
    number,
    obj,
    objs,
    opt_bool,
    opt_bytes,
    opt_integer,
    opt_nanos,
    opt_number,
    opt_obj,
    opt_text,
    opt_value_id,
    text,
    texts,
    value_id,
)
from cluster.types import (
    AgentEndpoint,
    Attribute,
    CheckStatus,
    InverseOffer,
    Label,
    MasterInfo,
    Offer,
    PortRange,
    Reservation,
    Resource,
    ResourceTotals,
    TaskStatus,
)


def parse_labels(d: dict[str, Any], key: str, where: str) -> tuple[Label, ...]:
    """v1 Labels ``{"labels": [{"key", "value"}]}``."""
    wrapper = opt_obj(d, key, where)
    if wrapper is None:
        return ()
    path = f"{where}.{key}"
    return tuple(
        Label(text(label, "key", p), opt_text(label, "value", p))
        for p, label in objs(wrapper, "labels", path)
    )


def parse_ranges(d: dict[str, Any], key: str, where: str) -> tuple[PortRange, ...]:
    wrapper = opt_obj(d, key, where)
    if wrapper is None:
        return ()
    out = []
    for path, r in objs(wrapper, "range", f"{where}.{key}"):
        begin, end = integer(r, "begin", path), integer(r, "end", path)
        if end < begin:
            raise PayloadError(f"{path}: range end {end} is before begin {begin}")
        out.append(PortRange(begin, end))
    return tuple(out)


def _set_items(d: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
    wrapper = opt_obj(d, key, where)
    return () if wrapper is None else texts(wrapper, "item", f"{where}.{key}")


def _scalar(d: dict[str, Any], where: str) -> float | None:
    wrapper = opt_obj(d, "scalar", where)
    return None if wrapper is None else number(wrapper, "value", f"{where}.scalar")


def _reservation(d: dict[str, Any], where: str) -> Reservation:
    return Reservation(
        role=opt_text(d, "role", where),
        type=opt_text(d, "type", where),
        principal=opt_text(d, "principal", where),
        labels=parse_labels(d, "labels", where),
    )


def _reservations(d: dict[str, Any], where: str) -> tuple[Reservation, ...]:
    refined = tuple(_reservation(r, p) for p, r in objs(d, "reservations", where))
    if refined:
        return refined
    # Pre-refinement dynamic reservation: the role lives on the resource itself.
    legacy = opt_obj(d, "reservation", where)
    if legacy is None:
        return ()
    reservation = _reservation(legacy, f"{where}.reservation")
    role = opt_text(d, "role", where)
    return (Reservation(role, "DYNAMIC", reservation.principal, reservation.labels),)


def parse_resource(d: dict[str, Any], where: str) -> Resource:
    allocation = opt_obj(d, "allocation_info", where)
    disk = opt_obj(d, "disk", where)
    persistence = None if disk is None else opt_obj(disk, "persistence", f"{where}.disk")
    return Resource(
        name=text(d, "name", where),
        type=text(d, "type", where),
        scalar=_scalar(d, where),
        ranges=parse_ranges(d, "ranges", where),
        items=_set_items(d, "set", where),
        role=opt_text(d, "role", where),
        allocation_role=None if allocation is None else opt_text(allocation, "role", where),
        reservations=_reservations(d, where),
        revocable=d.get("revocable") is not None,
        shared=d.get("shared") is not None,
        volume_id=None if persistence is None else opt_text(persistence, "id", where),
        provider_id=opt_value_id(d, "provider_id", where),
    )


def parse_resources(d: dict[str, Any], key: str, where: str) -> tuple[Resource, ...]:
    return tuple(parse_resource(r, p) for p, r in objs(d, key, where))


def resource_totals(d: dict[str, Any], key: str, where: str) -> ResourceTotals:
    return ResourceTotals.of(parse_resources(d, key, where))


def parse_attribute(d: dict[str, Any], where: str) -> Attribute:
    text_value = opt_obj(d, "text", where)
    return Attribute(
        name=text(d, "name", where),
        type=text(d, "type", where),
        text=None if text_value is None else text(text_value, "value", f"{where}.text"),
        scalar=_scalar(d, where),
        ranges=parse_ranges(d, "ranges", where),
        items=_set_items(d, "set", where),
    )


def parse_attributes(d: dict[str, Any], key: str, where: str) -> tuple[Attribute, ...]:
    return tuple(parse_attribute(a, p) for p, a in objs(d, key, where))


def _endpoint(d: dict[str, Any], where: str) -> AgentEndpoint | None:
    url = opt_obj(d, "url", where)
    if url is None:
        return None
    where = f"{where}.url"
    address = obj(url, "address", where)
    return AgentEndpoint(
        scheme=opt_text(url, "scheme", where) or "http",
        port=integer(address, "port", f"{where}.address"),
        hostname=opt_text(address, "hostname", f"{where}.address"),
        ip=opt_text(address, "ip", f"{where}.address"),
    )


def _unavailability(d: dict[str, Any], where: str) -> tuple[int | None, int | None]:
    window = opt_obj(d, "unavailability", where)
    if window is None:
        return None, None
    where = f"{where}.unavailability"
    return opt_nanos(window, "start", where), opt_nanos(window, "duration", where)


def _domain(d: dict[str, Any], where: str) -> tuple[str | None, str | None]:
    domain = opt_obj(d, "domain", where)
    fault = None if domain is None else opt_obj(domain, "fault_domain", f"{where}.domain")
    if fault is None:
        return None, None
    where = f"{where}.domain.fault_domain"
    region, zone = opt_obj(fault, "region", where), opt_obj(fault, "zone", where)
    return (
        None if region is None else opt_text(region, "name", f"{where}.region"),
        None if zone is None else opt_text(zone, "name", f"{where}.zone"),
    )


def parse_offer(d: dict[str, Any], where: str) -> Offer:
    allocation = opt_obj(d, "allocation_info", where)
    region, zone = _domain(d, where)
    start, duration = _unavailability(d, where)
    return Offer(
        id=value_id(d, "id", where),
        framework_id=value_id(d, "framework_id", where),
        agent_id=value_id(d, "agent_id", where),
        hostname=text(d, "hostname", where),
        resources=parse_resources(d, "resources", where),
        allocation_role=None if allocation is None else opt_text(allocation, "role", where),
        agent_endpoint=_endpoint(d, where),
        attributes=parse_attributes(d, "attributes", where),
        executor_ids=tuple(text(e, "value", p) for p, e in objs(d, "executor_ids", where)),
        region=region,
        zone=zone,
        unavailable_from_ns=start,
        unavailable_for_ns=duration,
    )


def parse_inverse_offer(d: dict[str, Any], where: str) -> InverseOffer:
    start, duration = _unavailability(d, where)
    return InverseOffer(
        id=value_id(d, "id", where),
        agent_id=opt_value_id(d, "agent_id", where),
        framework_id=opt_value_id(d, "framework_id", where),
        unavailable_from_ns=start,
        unavailable_for_ns=duration,
    )


def _check_status(d: dict[str, Any], where: str) -> CheckStatus:
    command = opt_obj(d, "command", where)
    http = opt_obj(d, "http", where)
    tcp = opt_obj(d, "tcp", where)
    return CheckStatus(
        type=opt_text(d, "type", where),
        exit_code=None if command is None else opt_integer(command, "exit_code", where),
        http_status_code=None if http is None else opt_integer(http, "status_code", where),
        tcp_succeeded=None if tcp is None else opt_bool(tcp, "succeeded", where),
    )


def _container_ips(container: dict[str, Any], where: str) -> tuple[str, ...]:
    ips = []
    for path, network in objs(container, "network_infos", where):
        for ip_path, address in objs(network, "ip_addresses", path):
            ip = opt_text(address, "ip_address", ip_path)
            if ip is not None:
                ips.append(ip)
    return tuple(ips)


def parse_task_status(d: dict[str, Any], where: str) -> TaskStatus:
    container = opt_obj(d, "container_status", where)
    check = opt_obj(d, "check_status", where)
    cwhere = f"{where}.container_status"
    return TaskStatus(
        task_id=value_id(d, "task_id", where),
        state=text(d, "state", where),
        source=opt_text(d, "source", where),
        reason=opt_text(d, "reason", where),
        message=opt_text(d, "message", where),
        agent_id=opt_value_id(d, "agent_id", where),
        executor_id=opt_value_id(d, "executor_id", where),
        timestamp=opt_number(d, "timestamp", where),
        uuid=opt_text(d, "uuid", where),
        healthy=opt_bool(d, "healthy", where),
        check_status=None if check is None else _check_status(check, f"{where}.check_status"),
        data=opt_bytes(d, "data", where),
        labels=parse_labels(d, "labels", where),
        container_id=None if container is None else opt_value_id(container, "container_id", cwhere),
        container_ips=() if container is None else _container_ips(container, cwhere),
        executor_pid=None if container is None else opt_integer(container, "executor_pid", cwhere),
        unreachable_time_ns=opt_nanos(d, "unreachable_time", where),
    )


def parse_master_info(d: dict[str, Any], where: str) -> MasterInfo:
    address = opt_obj(d, "address", where)
    awhere = f"{where}.address"
    return MasterInfo(
        id=text(d, "id", where),
        hostname=(None if address is None else opt_text(address, "hostname", awhere))
        or opt_text(d, "hostname", where),
        port=integer(d, "port", where),
        ip=None if address is None else opt_text(address, "ip", awhere),
        version=opt_text(d, "version", where),
        pid=opt_text(d, "pid", where),
    )


def capability_types(d: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
    return tuple(text(c, "type", p) for p, c in objs(d, key, where))
