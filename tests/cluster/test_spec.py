"""TaskSpec <-> the JSON kept in Task.spec."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cluster.constraints import parse_constraints
from cluster.spec import SPEC_VERSION, SpecError, spec_dump, spec_load
from cluster.types import (
    CheckSpec,
    CommandSpec,
    DiscoveryPort,
    DiscoverySpec,
    DockerContainer,
    HealthCheckSpec,
    MesosContainer,
    NetworkSpec,
    PortMapping,
    TaskSpec,
    UriSpec,
    VolumeSpec,
)


def full_spec() -> TaskSpec:
    return TaskSpec(
        task_id="",
        name="web",
        command=CommandSpec.argv(
            ["/bin/server", "--port", "8080"],
            user="nobody",
            uris=(UriSpec("https://x/a.tgz", cache=True),),
        ),
        cpus=0.5,
        mem=256,
        disk=512,
        gpus=1,
        ports=(0, 8443),
        environment={"LOG_LEVEL": "info"},
        secret_environment={"TOKEN": "/vault/token"},
        container=DockerContainer(
            image="nginx:1.25",
            network="BRIDGE",
            port_mappings=(PortMapping(0, 80), PortMapping(8443, 443, "udp")),
            parameters=(("ulimit", "nofile=1024"), ("ulimit", "nproc=64")),
            volumes=(VolumeSpec("/data", "RO", host_path="/srv/data"),),
        ),
        health_check=HealthCheckSpec(
            type="HTTP", port=80, path="/health", scheme="http", grace_period_seconds=30
        ),
        check=CheckSpec(type="COMMAND", command=CommandSpec.shell_line("test -f /ready")),
        kill_grace_seconds=10,
        labels={"app": "web"},
        limits={"cpus": math.inf, "mem": 512},
        max_completion_seconds=3600,
        discovery=DiscoverySpec("EXTERNAL", "web", (DiscoveryPort(80, "http", "tcp"),)),
        data=b"\x00binary\xff",
    )


def test_a_full_spec_survives_the_round_trip_through_strict_json() -> None:
    spec = full_spec()
    constraints = parse_constraints(["hostname:UNIQUE", "rack:GROUP_BY:3"])

    stored = json.loads(json.dumps(spec_dump(spec, constraints), allow_nan=False))
    loaded = spec_load(stored)

    assert loaded.spec == spec
    assert loaded.constraints == constraints


def test_a_mesos_container_with_networks_round_trips() -> None:
    container = MesosContainer(
        image="alpine",
        networks=(NetworkSpec("cni", (PortMapping(0, 80),)),),
        volumes=(VolumeSpec("/s", sandbox_path="s"),),
    )
    spec = TaskSpec(
        task_id="",
        name="m",
        command=CommandSpec.shell_line("true"),
        cpus=1,
        mem=1,
        container=container,
    )

    assert spec_load(spec_dump(spec)).spec == spec


def test_defaults_are_left_out_and_the_id_is_not_stored() -> None:
    spec = TaskSpec(
        task_id="ignored", name="n", command=CommandSpec.shell_line("true"), cpus=0.1, mem=32
    )

    assert spec_dump(spec) == {
        "version": SPEC_VERSION,
        "name": "n",
        "command": {"value": "true"},
        "cpus": 0.1,
        "mem": 32,
    }
    assert spec_load(spec_dump(spec), task_id="berth.x").spec.task_id == "berth.x"


@given(
    env=st.dictionaries(st.text(min_size=1), st.text(), max_size=4),
    ports=st.lists(st.integers(0, 65535), max_size=4).map(tuple),
    cpus=st.floats(0, 64, allow_nan=False),
    line=st.text(min_size=1),
)
def test_any_plain_spec_round_trips(
    env: dict[str, str], ports: tuple[int, ...], cpus: float, line: str
) -> None:
    spec = TaskSpec(
        task_id="",
        name="p",
        command=CommandSpec.shell_line(line),
        cpus=cpus,
        mem=1,
        ports=ports,
        environment=env,
    )

    assert spec_load(json.loads(json.dumps(spec_dump(spec)))).spec == spec


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"cpus": "lots"}, "spec.cpus: expected a number, got text"),
        ({"command": {"value": 7}}, "spec.command.value: expected text, got int"),
        (
            {"command": {"value": "x", "arguments": "a b"}},
            "spec.command.arguments: expected a list, got text",
        ),
        ({"ports": [80, True]}, r"spec.ports\[1\]: expected an integer, got a boolean"),
        ({"environment": {"A": 1}}, "spec.environment.A: expected text, got int"),
        ({"container": {"image": "x"}}, "spec.container.type: must be 'DOCKER' or 'MESOS'"),
        (
            {"container": {"type": "DOCKER", "image": "x", "network": "WIFI"}},
            "spec.container.network: must be one of",
        ),
        ({"data": "***"}, "spec.data: not valid base64"),
        ({"colour": "red"}, "spec: unknown field 'colour'"),
        ({"version": 99}, "spec.version: this Berth reads version 1"),
        ({"constraints": [["hostname", "SOMETIMES"]]}, "spec.constraints: constraint 1"),
        ({"name": None}, "spec.name: must not be null|spec.name: expected text"),
    ],
)
def test_a_bad_stored_spec_is_reported_by_the_path_of_the_field(
    change: dict[str, Any], message: str
) -> None:
    data = {"version": 1, "name": "n", "command": {"value": "true"}, "cpus": 1, "mem": 1, **change}

    with pytest.raises(SpecError, match=message):
        spec_load(data)


def test_a_missing_required_field_and_a_non_object_are_refused() -> None:
    with pytest.raises(SpecError, match=r"spec: .*command"):
        spec_load({"name": "n", "cpus": 1, "mem": 1})
    with pytest.raises(SpecError, match="spec: expected an object, got a list"):
        spec_load([])


def test_nan_cannot_be_stored() -> None:
    spec = TaskSpec(
        task_id="",
        name="n",
        command=CommandSpec.shell_line("x"),
        cpus=1,
        mem=1,
        limits={"mem": math.nan},
    )

    with pytest.raises(SpecError, match="NaN"):
        spec_dump(spec)
