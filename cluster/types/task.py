"""TaskSpec: a resolved, placed launch request, before it becomes a Mesos TaskInfo.

Field names follow Berth (seconds, MB, plain mappings); translate.tasks turns them into
the proto shapes (nanoseconds, nested wrappers, enum names).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal


def _empty() -> Mapping[str, str]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class UriSpec:
    """A file the fetcher puts in the sandbox before the command starts."""

    value: str
    extract: bool = True
    executable: bool = False
    cache: bool = False
    output_file: str | None = None


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """``shell=True``: ``value`` runs under /bin/sh -c. ``shell=False``: ``value`` is the
    executable and ``arguments`` the complete argv, argv[0] included. ``value=None``
    with ``shell=False`` runs a Docker image's own entrypoint with ``arguments``."""

    value: str | None
    shell: bool = True
    arguments: tuple[str, ...] = ()
    user: str | None = None
    uris: tuple[UriSpec, ...] = ()

    @classmethod
    def shell_line(
        cls, line: str, *, user: str | None = None, uris: tuple[UriSpec, ...] = ()
    ) -> CommandSpec:
        # A CommandInfo field for the agent, not a local subprocess.
        return cls(line, shell=True, user=user, uris=uris)  # noqa: S604

    @classmethod
    def argv(
        cls, argv: Sequence[str], *, user: str | None = None, uris: tuple[UriSpec, ...] = ()
    ) -> CommandSpec:
        if not argv:
            raise ValueError("argv needs at least the program to run")
        return cls(argv[0], shell=False, arguments=tuple(argv), user=user, uris=uris)


@dataclass(frozen=True, slots=True)
class PortMapping:
    host_port: int
    container_port: int
    protocol: str = "tcp"


@dataclass(frozen=True, slots=True)
class VolumeSpec:
    """A bind mount: ``host_path`` from the agent, or ``sandbox_path`` relative to the
    task's sandbox (Mesos containerizer only), into ``container_path``."""

    container_path: str
    mode: Literal["RW", "RO"] = "RW"
    host_path: str | None = None
    sandbox_path: str | None = None


@dataclass(frozen=True, slots=True)
class DockerContainer:
    """ContainerInfo type DOCKER: the Docker containerizer runs the image."""

    image: str
    network: Literal["HOST", "BRIDGE", "NONE", "USER"] = "HOST"
    port_mappings: tuple[PortMapping, ...] = ()
    privileged: bool = False
    force_pull_image: bool = False
    parameters: tuple[tuple[str, str], ...] = ()  # docker run --key=value, order kept
    volumes: tuple[VolumeSpec, ...] = ()
    hostname: str | None = None
    network_name: str | None = None  # required with network USER


@dataclass(frozen=True, slots=True)
class NetworkSpec:
    name: str | None = None  # a CNI network; None joins the host network
    port_mappings: tuple[PortMapping, ...] = ()


@dataclass(frozen=True, slots=True)
class MesosContainer:
    """ContainerInfo type MESOS: the universal containerizer, optionally with an image."""

    image: str | None = None
    image_type: Literal["DOCKER", "APPC"] = "DOCKER"
    cached: bool | None = None
    networks: tuple[NetworkSpec, ...] = ()
    volumes: tuple[VolumeSpec, ...] = ()
    hostname: str | None = None


@dataclass(frozen=True, slots=True)
class HealthCheckSpec:
    """Run by the executor inside the task's network namespace; ``port`` is the port
    the process listens on inside the task, not a mapped host port."""

    type: Literal["COMMAND", "HTTP", "TCP"]
    command: CommandSpec | None = None
    port: int | None = None
    path: str | None = None  # HTTP only
    scheme: Literal["http", "https"] | None = None  # HTTP only
    delay_seconds: float = 15.0
    interval_seconds: float = 10.0
    timeout_seconds: float = 20.0
    consecutive_failures: int = 3
    grace_period_seconds: float = 10.0


@dataclass(frozen=True, slots=True)
class CheckSpec:
    """A generic check: results arrive in TaskStatus.check_status, it never kills."""

    type: Literal["COMMAND", "HTTP", "TCP"]
    command: CommandSpec | None = None
    port: int | None = None
    path: str | None = None
    delay_seconds: float = 15.0
    interval_seconds: float = 10.0
    timeout_seconds: float = 20.0


@dataclass(frozen=True, slots=True)
class DiscoveryPort:
    number: int
    name: str | None = None
    protocol: str | None = None


@dataclass(frozen=True, slots=True)
class DiscoverySpec:
    visibility: Literal["FRAMEWORK", "CLUSTER", "EXTERNAL"] = "FRAMEWORK"
    name: str | None = None
    ports: tuple[DiscoveryPort, ...] = ()


@dataclass(frozen=True, slots=True)
class TaskSpec:
    """Everything about one launch except where: the agent and role come from the offer."""

    task_id: str
    name: str
    command: CommandSpec
    cpus: float
    mem: float  # MB
    disk: float = 0.0  # MB
    gpus: int = 0
    ports: tuple[int, ...] = ()  # host ports taken from the offer
    environment: Mapping[str, str] = field(default_factory=_empty)
    # Variable name -> secret reference name, resolved by the agent's secret resolver.
    secret_environment: Mapping[str, str] = field(default_factory=_empty)
    container: DockerContainer | MesosContainer | None = None
    health_check: HealthCheckSpec | None = None
    check: CheckSpec | None = None
    kill_grace_seconds: float | None = None
    labels: Mapping[str, str] = field(default_factory=_empty)
    limits: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    max_completion_seconds: float | None = None
    discovery: DiscoverySpec | None = None
    data: bytes | None = None
