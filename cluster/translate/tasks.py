"""TaskSpec -> TaskInfo JSON, with the master's validation done first.

The master answers a bad task with TASK_ERROR long after the 202; checking here gives the
caller a message at the moment it built the task, and keeps bad input away from Mesos.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Iterable, Mapping, Sequence

from cluster.translate.calls import InvalidCall, Json, id_value, labels_json
from cluster.types import (
    CheckSpec,
    CommandSpec,
    DiscoverySpec,
    DockerContainer,
    HealthCheckSpec,
    MesosContainer,
    NetworkSpec,
    PortMapping,
    Reservation,
    Resource,
    TaskSpec,
    UriSpec,
    VolumeSpec,
)

MAX_ID_LENGTH = 255
_LIMITABLE = ("cpus", "mem")


class InvalidTaskSpec(InvalidCall):
    """The task would get TASK_ERROR (REASON_TASK_INVALID) from the master."""


def validate_task_id(task_id: str) -> None:
    """Mesos' validateID(): the id becomes a sandbox directory name."""
    if not task_id:
        raise InvalidTaskSpec("task id must not be empty")
    if len(task_id) > MAX_ID_LENGTH:
        raise InvalidTaskSpec(f"task id is {len(task_id)} characters, at most 255 allowed")
    if task_id in (".", ".."):
        raise InvalidTaskSpec(f"task id must not be {task_id!r}")
    bad = sorted({c for c in task_id if c in "/\\" or ord(c) < 32 or ord(c) == 127})
    if bad:
        raise InvalidTaskSpec(f"task id {task_id!r} contains invalid characters {bad!r}")


def _nanoseconds(seconds: float, what: str) -> Json:
    if not math.isfinite(seconds) or seconds < 0:
        raise InvalidTaskSpec(f"{what} must be a finite number of seconds >= 0, got {seconds!r}")
    return {"nanoseconds": round(seconds * 1_000_000_000)}


def ports_to_ranges(ports: Iterable[int]) -> list[tuple[int, int]]:
    """Sorted, merged inclusive ranges: (31005, 31006, 31007) -> [(31005, 31007)]."""
    ranges: list[tuple[int, int]] = []
    for port in sorted(set(ports)):
        if not 0 < port < 65536:
            raise InvalidTaskSpec(f"port {port} is outside 1-65535")
        if ranges and ranges[-1][1] == port - 1:
            ranges[-1] = (ranges[-1][0], port)
        else:
            ranges.append((port, port))
    return ranges


def _scalar(name: str, value: float, role: str | None) -> Json:
    # Mesos keeps 3 decimals; sending more makes "contained in the offer" checks flaky.
    resource: Json = {"name": name, "type": "SCALAR", "scalar": {"value": round(value, 3)}}
    if role is not None:
        resource["allocation_info"] = {"role": role}
    return resource


def resources_json(spec: TaskSpec, allocation_role: str | None) -> list[Json]:
    amounts = {"cpus": spec.cpus, "mem": spec.mem, "disk": spec.disk, "gpus": float(spec.gpus)}
    for name, value in amounts.items():
        if not math.isfinite(value) or value < 0:
            raise InvalidTaskSpec(f"{name} must be a finite number >= 0, got {value!r}")
    resources = [_scalar(n, v, allocation_role) for n, v in amounts.items() if v > 0]
    if not resources:
        raise InvalidTaskSpec("a task needs some cpus or mem")
    if spec.ports:
        ranges = [{"begin": b, "end": e} for b, e in ports_to_ranges(spec.ports)]
        ports: Json = {"name": "ports", "type": "RANGES", "ranges": {"range": ranges}}
        if allocation_role is not None:
            ports["allocation_info"] = {"role": allocation_role}
        resources.append(ports)
    return resources


def reservation_json(source: Resource) -> Json:
    """The fields that say whose an offered resource is, in the format the offer used
    (mesos-api.md 2.1), for a task that takes part of it: the master compares them exactly.

    Without RESERVATION_REFINEMENT the offer writes `role` (and `reservation` when the
    reservation is dynamic); with it, the `reservations` list. Unreserved: no field, which
    the master reads as unreserved in either format."""
    if source.role is not None and source.role != "*":
        body: Json = {"role": source.role}
        if source.reservations:
            legacy = source.reservations[-1]
            reservation: Json = {}
            if legacy.principal is not None:
                reservation["principal"] = legacy.principal
            if legacy.labels:
                reservation["labels"] = _labels(legacy)
            body["reservation"] = reservation
        return body
    if source.reservations:
        return {"reservations": [_reservation_info(r) for r in source.reservations]}
    return {}


def _reservation_info(reservation: Reservation) -> Json:
    body: Json = {}
    if reservation.type is not None:
        body["type"] = reservation.type
    if reservation.role is not None:
        body["role"] = reservation.role
    if reservation.principal is not None:
        body["principal"] = reservation.principal
    if reservation.labels:
        body["labels"] = _labels(reservation)
    return body


def _labels(reservation: Reservation) -> Json:
    labels = [
        {"key": label.key} if label.value is None else {"key": label.key, "value": label.value}
        for label in reservation.labels
    ]
    return {"labels": labels}


def taken_resource_json(
    name: str,
    source: Resource | None,
    allocation_role: str | None,
    *,
    amount: float | None = None,
    ports: Iterable[int] = (),
) -> Json:
    """A part of a task's need taken from one offered resource (`source`; None when it
    comes from the unreserved pool): a scalar `amount`, or `ports`."""
    if amount is not None:
        resource = _scalar(name, amount, None)
    else:
        ranges = [{"begin": b, "end": e} for b, e in ports_to_ranges(ports)]
        resource = {"name": name, "type": "RANGES", "ranges": {"range": ranges}}
    if source is not None:
        resource.update(reservation_json(source))
    if allocation_role is not None:
        resource["allocation_info"] = {"role": allocation_role}
    return resource


def environment_json(plain: Mapping[str, str], secret: Mapping[str, str]) -> Json:
    variables: list[Json] = [{"name": k, "value": v} for k, v in plain.items()]
    for name, reference in secret.items():
        secret_json = {"type": "REFERENCE", "reference": {"name": reference}}
        variables.append({"name": name, "type": "SECRET", "secret": secret_json})
    for variable in variables:
        if not variable["name"] or "=" in variable["name"]:
            raise InvalidTaskSpec(f"bad environment variable name {variable['name']!r}")
    return {"variables": variables}


def command_json(
    command: CommandSpec,
    environment: Mapping[str, str] | None = None,
    secret_environment: Mapping[str, str] | None = None,
) -> Json:
    body: Json = {}
    if command.shell:
        if not command.value:
            raise InvalidTaskSpec("a shell command needs a command line")
        body["value"] = command.value
    else:
        # shell false: Mesos runs value with arguments as the complete argv.
        body["shell"] = False
        if command.value is not None:
            body["value"] = command.value
        if command.arguments:
            body["arguments"] = list(command.arguments)
    if environment or secret_environment:
        body["environment"] = environment_json(environment or {}, secret_environment or {})
    if command.uris:
        body["uris"] = [_uri_json(u) for u in command.uris]
    if command.user:
        body["user"] = command.user
    return body


def _uri_json(uri: UriSpec) -> Json:
    if not uri.value:
        raise InvalidTaskSpec("a fetched URI needs a value")
    body: Json = {
        "value": uri.value,
        "extract": uri.extract,
        "executable": uri.executable,
        "cache": uri.cache,
    }
    if uri.output_file:
        body["output_file"] = uri.output_file
    return body


def _port_mapping(mapping: PortMapping, host_ports: Sequence[int]) -> Json:
    if mapping.host_port not in host_ports:
        raise InvalidTaskSpec(
            f"host port {mapping.host_port} is mapped but not among the task's ports"
        )
    return {
        "host_port": mapping.host_port,
        "container_port": mapping.container_port,
        "protocol": mapping.protocol,
    }


def _volume(volume: VolumeSpec) -> Json:
    body: Json = {"container_path": volume.container_path, "mode": volume.mode}
    if volume.host_path is not None and volume.sandbox_path is not None:
        raise InvalidTaskSpec(f"volume {volume.container_path}: host_path or sandbox_path")
    if volume.host_path is not None:
        body["host_path"] = volume.host_path
    elif volume.sandbox_path is not None:
        sandbox = {"type": "SELF", "path": volume.sandbox_path}
        body["source"] = {"type": "SANDBOX_PATH", "sandbox_path": sandbox}
    return body


def _docker_container(container: DockerContainer, host_ports: Sequence[int]) -> Json:
    docker: Json = {
        "image": container.image,
        "network": container.network,
        "privileged": container.privileged,
        "force_pull_image": container.force_pull_image,
    }
    if container.port_mappings:
        if container.network not in ("BRIDGE", "USER"):
            raise InvalidTaskSpec("docker port mappings need network BRIDGE or USER")
        docker["port_mappings"] = [_port_mapping(m, host_ports) for m in container.port_mappings]
    if container.parameters:
        docker["parameters"] = [{"key": k, "value": v} for k, v in container.parameters]
    body: Json = {"type": "DOCKER", "docker": docker}
    if container.network == "USER":
        if not container.network_name:
            raise InvalidTaskSpec("docker network USER needs a network name")
        body["network_infos"] = [{"name": container.network_name}]
    return body


def _network(network: NetworkSpec, host_ports: Sequence[int]) -> Json:
    body: Json = {}
    if network.name:
        body["name"] = network.name
    if network.port_mappings:
        body["port_mappings"] = [_port_mapping(m, host_ports) for m in network.port_mappings]
    return body


def _mesos_container(container: MesosContainer, host_ports: Sequence[int]) -> Json:
    body: Json = {"type": "MESOS"}
    if container.image is not None:
        image: Json = {"type": container.image_type}
        if container.image_type == "DOCKER":
            image["docker"] = {"name": container.image}
        else:
            image["appc"] = {"name": container.image}
        if container.cached is not None:
            image["cached"] = container.cached
        body["mesos"] = {"image": image}
    if container.networks:
        body["network_infos"] = [_network(n, host_ports) for n in container.networks]
    return body


def container_json(container: DockerContainer | MesosContainer, host_ports: Sequence[int]) -> Json:
    if isinstance(container, DockerContainer):
        if not container.image:
            raise InvalidTaskSpec("a Docker container needs an image")
        body = _docker_container(container, host_ports)
    else:
        body = _mesos_container(container, host_ports)
    if container.volumes:
        body["volumes"] = [_volume(v) for v in container.volumes]
    if container.hostname:
        body["hostname"] = container.hostname
    return body


def _probe(kind: str, spec: HealthCheckSpec | CheckSpec, what: str) -> Json:
    """The COMMAND/HTTP/TCP part shared by HealthCheck and CheckInfo."""
    if kind == "COMMAND":
        if spec.command is None:
            raise InvalidTaskSpec(f"a COMMAND {what} needs a command")
        return {}
    if spec.port is None or not 0 < spec.port < 65536:
        raise InvalidTaskSpec(f"an {kind} {what} needs a port in 1-65535")
    if kind == "HTTP":
        http: Json = {"port": spec.port}
        if spec.path:
            http["path"] = spec.path
        scheme = getattr(spec, "scheme", None)
        if scheme:
            http["scheme"] = scheme
        return {"http": http}
    return {"tcp": {"port": spec.port}}


def _timings(spec: HealthCheckSpec | CheckSpec, names: Sequence[str], what: str) -> Json:
    out: Json = {}
    for name in names:
        value = float(getattr(spec, name))
        if not math.isfinite(value) or value < 0:
            raise InvalidTaskSpec(f"{what} {name} must be >= 0, got {value!r}")
        out[name] = value
    return out


def health_check_json(check: HealthCheckSpec) -> Json:
    body: Json = {"type": check.type, **_probe(check.type, check, "health check")}
    if check.type == "COMMAND" and check.command is not None:
        body["command"] = command_json(check.command)
    timings = ("delay_seconds", "interval_seconds", "timeout_seconds")
    body.update(_timings(check, timings, "health check"))
    if check.consecutive_failures < 1:
        raise InvalidTaskSpec("health check consecutive_failures must be at least 1")
    body["consecutive_failures"] = check.consecutive_failures
    body.update(_timings(check, ("grace_period_seconds",), "health check"))
    return body


def check_json(check: CheckSpec) -> Json:
    body: Json = {"type": check.type, **_probe(check.type, check, "check")}
    if check.type == "COMMAND" and check.command is not None:
        # CheckInfo nests the CommandInfo one level deeper than HealthCheck does.
        body["command"] = {"command": command_json(check.command)}
    timings = ("delay_seconds", "interval_seconds", "timeout_seconds")
    body.update(_timings(check, timings, "check"))
    return body


def discovery_json(discovery: DiscoverySpec) -> Json:
    body: Json = {"visibility": discovery.visibility}
    if discovery.name:
        body["name"] = discovery.name
    if discovery.ports:
        ports = []
        for port in discovery.ports:
            entry: Json = {"number": port.number}
            if port.name:
                entry["name"] = port.name
            if port.protocol:
                entry["protocol"] = port.protocol
            ports.append(entry)
        body["ports"] = {"ports": ports}
    return body


def limits_json(spec: TaskSpec) -> Json:
    """``map<string, Value.Scalar>``: each limit is ``{"value": x}``, never a bare number."""
    requests = {"cpus": spec.cpus, "mem": spec.mem}
    out: Json = {}
    for name, limit in spec.limits.items():
        if name not in _LIMITABLE:
            raise InvalidTaskSpec(f"limits may name only cpus and mem, not {name!r}")
        if requests[name] <= 0:
            raise InvalidTaskSpec(f"a {name} limit needs a {name} request")
        if math.isnan(limit) or limit < requests[name]:
            raise InvalidTaskSpec(f"the {name} limit {limit} is below the request")
        out[name] = {"value": "Infinity" if math.isinf(limit) else round(limit, 3)}
    return out


def task_info(spec: TaskSpec, *, agent_id: str, allocation_role: str | None = None) -> Json:
    """The TaskInfo for one launch on ``agent_id``. ``allocation_role`` is the offer's
    allocation role (MULTI_ROLE frameworks); the master fills it in when left out."""
    validate_task_id(spec.task_id)
    if not spec.name:
        raise InvalidTaskSpec("a task needs a name")
    body: Json = {
        "name": spec.name,
        "task_id": id_value(spec.task_id),
        "agent_id": id_value(agent_id),
        "resources": resources_json(spec, allocation_role),
        "command": command_json(spec.command, spec.environment, spec.secret_environment),
    }
    body.update(_optional_parts(spec))
    return body


def _optional_parts(spec: TaskSpec) -> Json:
    parts: Json = {}
    if spec.container is not None:
        parts["container"] = container_json(spec.container, spec.ports)
    if spec.health_check is not None:
        parts["health_check"] = health_check_json(spec.health_check)
    if spec.check is not None:
        parts["check"] = check_json(spec.check)
    if spec.kill_grace_seconds is not None:
        grace = _nanoseconds(spec.kill_grace_seconds, "kill grace period")
        parts["kill_policy"] = {"grace_period": grace}
    if spec.labels:
        parts["labels"] = labels_json(spec.labels)
    if spec.limits:
        parts["limits"] = limits_json(spec)
    if spec.max_completion_seconds is not None:
        completion = _nanoseconds(spec.max_completion_seconds, "max completion time")
        parts["max_completion_time"] = completion
    if spec.discovery is not None:
        parts["discovery"] = discovery_json(spec.discovery)
    if spec.data is not None:
        parts["data"] = base64.b64encode(spec.data).decode("ascii")
    return parts
