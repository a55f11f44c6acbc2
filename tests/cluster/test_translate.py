"""Outgoing calls and TaskInfos, compared with what a real master was sent and accepted."""

from __future__ import annotations

import functools
import json
import math
from pathlib import Path
from typing import Any

import pytest

from cluster.translate import (
    InvalidCall,
    InvalidTaskSpec,
    accept_call,
    acknowledge_call,
    decline_call,
    get_metrics_call,
    kill_call,
    launch_operation,
    operator_call,
    ports_to_ranges,
    reconcile_call,
    revive_call,
    subscribe_call,
    suppress_call,
    task_info,
    teardown_call,
    update_framework_call,
)
from cluster.types import (
    CheckSpec,
    CommandSpec,
    DiscoveryPort,
    DiscoverySpec,
    DockerContainer,
    FrameworkInfo,
    HealthCheckSpec,
    MesosContainer,
    NetworkSpec,
    PortMapping,
    TaskSpec,
    UriSpec,
    VolumeSpec,
)

TRANSCRIPTS = Path(__file__).parent.parent / "mesos-transcripts"
FID = "d79212f0-6a89-4873-b66e-53b3568dbec3-0012"
AGENT = "77051690-f407-4ed2-8bef-7a8863608ebc-S0"


@functools.cache
def _calls(call_type: str) -> list[tuple[str, dict[str, Any], int]]:
    """(file, body, status) of every scheduler call of that type in the transcripts,
    except 08-bad-requests, whose bodies are broken on purpose."""
    found = []
    for path in sorted(TRANSCRIPTS.glob("*.json")):
        if path.name.startswith("08-"):
            continue
        for exchange in json.loads(path.read_text())["exchanges"]:
            body = exchange["request"]["body"]
            scheduler = exchange["request"]["path"] == "/api/v1/scheduler"
            if scheduler and isinstance(body, dict) and body.get("type") == call_type:
                found.append((path.name, body, exchange["response"]["status"]))
    return found


def _golden_info(name: str, **kwargs: Any) -> FrameworkInfo:
    return FrameworkInfo(
        user="root",
        name=name,
        failover_timeout=60.0,
        checkpoint=False,
        capabilities=("MULTI_ROLE", *kwargs.pop("extra_capabilities", ())),
        **kwargs,
    )


# ---- SUBSCRIBE ------------------------------------------------------------------------


def test_first_subscribe_matches_the_recorded_body() -> None:
    recorded = _calls("SUBSCRIBE")[0][1]
    assert subscribe_call(_golden_info("golden-subscribe")) == recorded


def test_resubscribe_sets_the_framework_id_in_both_places() -> None:
    recorded = next(
        b for f, b, s in _calls("SUBSCRIBE") if f == "09-failover.json" and "id" in json.dumps(b)
    )
    call = subscribe_call(_golden_info("golden-failover", id=FID))
    assert call == recorded
    assert call["framework_id"] == call["subscribe"]["framework_info"]["id"] == {"value": FID}


def test_every_recorded_subscribe_can_be_rebuilt() -> None:
    subscribes = _calls("SUBSCRIBE")
    assert len(subscribes) == 19
    for name, body, _status in subscribes:
        info = body["subscribe"]["framework_info"]
        rebuilt = FrameworkInfo(
            user=info["user"],
            name=info["name"],
            id=info.get("id", {}).get("value"),
            roles=tuple(info["roles"]),
            capabilities=tuple(c["type"] for c in info["capabilities"]),
            failover_timeout=info["failover_timeout"],
            checkpoint=False,
        )
        assert subscribe_call(rebuilt) == body, name


def test_production_defaults_keep_tasks_alive_across_restarts() -> None:
    framework = subscribe_call(FrameworkInfo(user="berth", name="berth"))["subscribe"]
    info = framework["framework_info"]
    assert info["failover_timeout"] == 7 * 24 * 3600
    assert info["checkpoint"] is True
    assert {"type": "PARTITION_AWARE"} in info["capabilities"]
    assert "id" not in info and "framework_id" not in framework


def test_subscribe_carries_suppressed_roles_and_optional_identity() -> None:
    info = FrameworkInfo(
        user="berth",
        name="berth",
        roles=("batch", "web"),
        principal="berth",
        hostname="sched-1",
        webui_url="http://sched-1:8000/",
        labels={"team": "infra"},
    )
    call = subscribe_call(info, suppressed_roles=["batch"])
    assert call["subscribe"]["suppressed_roles"] == ["batch"]
    sent = call["subscribe"]["framework_info"]
    assert sent["roles"] == ["batch", "web"]
    assert sent["principal"] == "berth"
    assert sent["labels"] == {"labels": [{"key": "team", "value": "infra"}]}


def test_a_single_role_framework_without_multi_role_sends_role_not_roles() -> None:
    info = FrameworkInfo(user="u", name="n", roles=("batch",), capabilities=())
    sent = subscribe_call(info)["subscribe"]["framework_info"]
    assert sent["role"] == "batch" and "roles" not in sent


def test_several_roles_without_multi_role_are_refused_before_mesos_sees_them() -> None:
    info = FrameworkInfo(user="u", name="n", roles=("a", "b"), capabilities=())
    with pytest.raises(InvalidCall, match="MULTI_ROLE"):
        subscribe_call(info)


def test_update_framework_needs_the_id() -> None:
    with pytest.raises(InvalidCall, match="id"):
        update_framework_call(FrameworkInfo(user="u", name="n"))
    call = update_framework_call(FrameworkInfo(user="u", name="n", id=FID), ["web"])
    assert call["framework_id"] == call["update_framework"]["framework_info"]["id"]
    assert call["update_framework"]["suppressed_roles"] == ["web"]


# ---- ACCEPT / TaskInfo --------------------------------------------------------------------


def _spec_from_recorded(task: dict[str, Any]) -> TaskSpec:
    """Rebuild a TaskSpec from a recorded TaskInfo (the fields the transcripts use)."""
    scalars = {r["name"]: r["scalar"]["value"] for r in task["resources"] if r["type"] == "SCALAR"}
    ports = [
        port
        for r in task["resources"]
        if r["name"] == "ports"
        for rng in r["ranges"]["range"]
        for port in range(rng["begin"], rng["end"] + 1)
    ]
    health = task.get("health_check")
    grace = task.get("kill_policy", {}).get("grace_period", {}).get("nanoseconds")
    return TaskSpec(
        task_id=task["task_id"]["value"],
        name=task["name"],
        command=CommandSpec.shell_line(task.get("command", {}).get("value", "")),
        cpus=scalars.get("cpus", 0),
        mem=scalars.get("mem", 0),
        ports=tuple(ports),
        kill_grace_seconds=None if grace is None else grace / 1e9,
        health_check=None
        if health is None
        else HealthCheckSpec(
            type="COMMAND",
            command=CommandSpec.shell_line(health["command"]["value"]),
            delay_seconds=health["delay_seconds"],
            interval_seconds=health["interval_seconds"],
            timeout_seconds=health["timeout_seconds"],
            consecutive_failures=health["consecutive_failures"],
            grace_period_seconds=health["grace_period_seconds"],
        ),
    )


def test_every_recorded_accept_is_rebuilt_exactly_or_refused_with_a_reason() -> None:
    rebuilt_count = refused = 0
    for name, body, _status in _calls("ACCEPT"):
        accept = body["accept"]
        infos = []
        try:
            for task in accept["operations"][0]["launch"]["task_infos"]:
                role = task["resources"][0].get("allocation_info", {}).get("role")
                spec = _spec_from_recorded(task)
                infos.append(
                    task_info(spec, agent_id=task["agent_id"]["value"], allocation_role=role)
                )
        except InvalidTaskSpec as exc:
            # 05-launch-errors sends a task with no command and one with id "bad/id".
            assert "command line" in str(exc) or "invalid characters" in str(exc), name
            refused += 1
            continue
        refuse = accept.get("filters", {}).get("refuse_seconds")
        offer_ids = [o["value"] for o in accept["offer_ids"]]
        call = accept_call(
            body["framework_id"]["value"], offer_ids, [launch_operation(infos)], refuse
        )
        assert call == body, name
        rebuilt_count += 1
    assert (rebuilt_count, refused) == (19, 2)


def test_the_echo_hello_launch_is_byte_for_byte_what_mesos_accepted() -> None:
    recorded = next(b for f, b, s in _calls("ACCEPT") if f == "02-launch-finish.json")
    spec = TaskSpec(
        task_id="echo-hello",
        name="echo-hello",
        command=CommandSpec.shell_line("echo hello"),
        cpus=0.1,
        mem=32,
    )
    launch = launch_operation([task_info(spec, agent_id=AGENT, allocation_role="*")])
    call = accept_call(
        "d79212f0-6a89-4873-b66e-53b3568dbec3-0003",
        ["d79212f0-6a89-4873-b66e-53b3568dbec3-O3"],
        [launch],
    )
    assert json.dumps(call, sort_keys=True) == json.dumps(recorded, sort_keys=True)


def test_ports_become_merged_inclusive_ranges() -> None:
    assert ports_to_ranges([31007, 31005, 31006, 31010]) == [(31005, 31007), (31010, 31010)]
    assert ports_to_ranges([]) == []
    with pytest.raises(InvalidTaskSpec, match="outside"):
        ports_to_ranges([70000])


def test_the_documented_mesos_container_task_is_built_in_full() -> None:
    """The example TaskInfo of mesos-api.md section 2.2, built from a TaskSpec."""
    spec = TaskSpec(
        task_id="web-1",
        name="web",
        command=CommandSpec(
            "/usr/local/bin/server",
            shell=False,
            arguments=("server", "--port", "31005"),
            user="nobody",
            uris=(UriSpec("https://artifacts.example.net/cfg.tar.gz", output_file="cfg.tar.gz"),),
        ),
        cpus=0.5,
        mem=256,
        disk=512,
        ports=(31005,),
        environment={"LOG_LEVEL": "info"},
        secret_environment={"DB_PASS": "/db/pass"},
        limits={"cpus": math.inf, "mem": 512},
        container=MesosContainer(
            image="alpine:3.19",
            volumes=(VolumeSpec("/scratch", "RW", sandbox_path="scratch"),),
        ),
        health_check=HealthCheckSpec(
            type="HTTP",
            port=31005,
            path="/health",
            scheme="http",
            grace_period_seconds=30,
        ),
        kill_grace_seconds=10,
        labels={"app": "web"},
        discovery=DiscoverySpec(
            visibility="EXTERNAL", name="web", ports=(DiscoveryPort(31005, "http", "tcp"),)
        ),
    )
    expected = {
        "name": "web",
        "task_id": {"value": "web-1"},
        "agent_id": {"value": "...-S3"},
        "resources": [
            {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.5}},
            {"name": "mem", "type": "SCALAR", "scalar": {"value": 256}},
            {"name": "disk", "type": "SCALAR", "scalar": {"value": 512}},
            {
                "name": "ports",
                "type": "RANGES",
                "ranges": {"range": [{"begin": 31005, "end": 31005}]},
            },
        ],
        "limits": {"cpus": {"value": "Infinity"}, "mem": {"value": 512}},
        "command": {
            "shell": False,
            "value": "/usr/local/bin/server",
            "arguments": ["server", "--port", "31005"],
            "environment": {
                "variables": [
                    {"name": "LOG_LEVEL", "value": "info"},
                    {
                        "name": "DB_PASS",
                        "type": "SECRET",
                        "secret": {"type": "REFERENCE", "reference": {"name": "/db/pass"}},
                    },
                ]
            },
            "uris": [
                {
                    "value": "https://artifacts.example.net/cfg.tar.gz",
                    "extract": True,
                    "cache": False,
                    "executable": False,
                    "output_file": "cfg.tar.gz",
                }
            ],
            "user": "nobody",
        },
        "container": {
            "type": "MESOS",
            "mesos": {"image": {"type": "DOCKER", "docker": {"name": "alpine:3.19"}}},
            "volumes": [
                {
                    "container_path": "/scratch",
                    "mode": "RW",
                    "source": {
                        "type": "SANDBOX_PATH",
                        "sandbox_path": {"type": "SELF", "path": "scratch"},
                    },
                }
            ],
        },
        "health_check": {
            "type": "HTTP",
            "http": {"scheme": "http", "port": 31005, "path": "/health"},
            "delay_seconds": 15,
            "interval_seconds": 10,
            "timeout_seconds": 20,
            "consecutive_failures": 3,
            "grace_period_seconds": 30,
        },
        "kill_policy": {"grace_period": {"nanoseconds": 10000000000}},
        "labels": {"labels": [{"key": "app", "value": "web"}]},
        "discovery": {
            "visibility": "EXTERNAL",
            "name": "web",
            "ports": {"ports": [{"number": 31005, "name": "http", "protocol": "tcp"}]},
        },
    }
    assert task_info(spec, agent_id="...-S3") == expected


def test_a_docker_task_maps_offer_ports_into_the_container() -> None:
    spec = TaskSpec(
        task_id="nginx-1",
        name="nginx",
        command=CommandSpec(None, shell=False),
        cpus=1,
        mem=128,
        ports=(31005,),
        container=DockerContainer(
            image="nginx:1.25",
            network="BRIDGE",
            port_mappings=(PortMapping(31005, 80),),
            parameters=(("ulimit", "nofile=65536"),),
            volumes=(VolumeSpec("/etc/nginx/conf.d", "RO", host_path="/srv/nginx"),),
            hostname="web-1",
        ),
    )
    info = task_info(spec, agent_id=AGENT, allocation_role="web")
    assert info["command"] == {"shell": False}
    assert info["container"] == {
        "type": "DOCKER",
        "docker": {
            "image": "nginx:1.25",
            "network": "BRIDGE",
            "privileged": False,
            "force_pull_image": False,
            "port_mappings": [{"host_port": 31005, "container_port": 80, "protocol": "tcp"}],
            "parameters": [{"key": "ulimit", "value": "nofile=65536"}],
        },
        "volumes": [
            {"container_path": "/etc/nginx/conf.d", "mode": "RO", "host_path": "/srv/nginx"}
        ],
        "hostname": "web-1",
    }
    assert all(r["allocation_info"] == {"role": "web"} for r in info["resources"])


def test_a_cni_network_and_a_generic_check_use_the_proto_nesting() -> None:
    spec = TaskSpec(
        task_id="t",
        name="t",
        command=CommandSpec.argv(["/bin/app", "--serve"]),
        cpus=0.25,
        mem=64,
        ports=(31001,),
        container=MesosContainer(networks=(NetworkSpec("cni-net", (PortMapping(31001, 8080),)),)),
        check=CheckSpec(type="COMMAND", command=CommandSpec.shell_line("test -f /ready")),
        max_completion_seconds=3600,
        data=b"\x00\x01payload",
    )
    info = task_info(spec, agent_id=AGENT)
    assert info["command"] == {
        "shell": False,
        "value": "/bin/app",
        "arguments": ["/bin/app", "--serve"],
    }
    assert info["container"] == {
        "type": "MESOS",
        "network_infos": [
            {
                "name": "cni-net",
                "port_mappings": [{"host_port": 31001, "container_port": 8080, "protocol": "tcp"}],
            }
        ],
    }
    assert info["check"]["command"] == {"command": {"value": "test -f /ready"}}
    assert info["max_completion_time"] == {"nanoseconds": 3_600_000_000_000}
    assert info["data"] == "AAFwYXlsb2Fk"


def _spec(**overrides: Any) -> TaskSpec:
    fields: dict[str, Any] = {
        "task_id": "t-1",
        "name": "t",
        "command": CommandSpec.shell_line("true"),
        "cpus": 0.1,
        "mem": 32,
    }
    fields.update(overrides)
    return TaskSpec(**fields)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"task_id": "bad/id"}, "invalid characters"),
        ({"task_id": "tab\there"}, "invalid characters"),
        ({"task_id": ".."}, "must not be"),
        ({"task_id": ""}, "empty"),
        ({"task_id": "x" * 256}, "at most 255"),
        ({"name": ""}, "name"),
        ({"cpus": 0, "mem": 0}, "some cpus or mem"),
        ({"mem": -1}, "mem must be"),
        ({"cpus": math.nan}, "cpus must be"),
        ({"command": CommandSpec.shell_line("")}, "command line"),
        ({"limits": {"disk": 10}}, "only cpus and mem"),
        ({"limits": {"mem": 16}}, "below the request"),
        ({"cpus": 0, "limits": {"cpus": 1}}, "needs a cpus request"),
        ({"kill_grace_seconds": -1}, "kill grace"),
        ({"environment": {"A=B": "x"}}, "variable name"),
        ({"health_check": HealthCheckSpec(type="HTTP")}, "needs a port"),
        ({"health_check": HealthCheckSpec(type="COMMAND")}, "needs a command"),
        (
            {"health_check": HealthCheckSpec(type="TCP", port=80, consecutive_failures=0)},
            "consecutive_failures",
        ),
        (
            {"container": DockerContainer("img", "BRIDGE", (PortMapping(31000, 80),))},
            "not among the task's ports",
        ),
        (
            {
                "container": DockerContainer("img", "HOST", (PortMapping(31000, 80),)),
                "ports": (31000,),
            },
            "BRIDGE or USER",
        ),
        ({"container": DockerContainer("img", "USER")}, "network name"),
        ({"container": DockerContainer("")}, "needs an image"),
    ],
)
def test_a_task_the_master_would_reject_is_refused_with_a_reason(
    overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidTaskSpec, match=message):
        task_info(_spec(**overrides), agent_id=AGENT)


def test_scalars_are_rounded_to_the_three_decimals_mesos_keeps() -> None:
    info = task_info(_spec(cpus=0.1 + 0.2, mem=32.00049), agent_id=AGENT)
    assert [r["scalar"]["value"] for r in info["resources"]] == [0.3, 32.0]


# ---- the other scheduler calls, against every recorded body ------------------------------


def test_every_recorded_acknowledge_is_rebuilt_from_the_status_fields() -> None:
    accepted = [(n, b) for n, b, status in _calls("ACKNOWLEDGE") if status == 202]
    assert len(accepted) > 30
    for name, body in accepted:
        ack = body["acknowledge"]
        if len(ack["uuid"]) != 24:
            continue
        rebuilt = acknowledge_call(
            body["framework_id"]["value"],
            ack["agent_id"]["value"],
            ack["task_id"]["value"],
            ack["uuid"],
        )
        assert rebuilt == body, name


@pytest.mark.parametrize(
    ("uuid", "message"), [("AAEC", "3 bytes"), ("!!!notbase64", "not base64"), ("", "0 bytes")]
)
def test_an_ack_uuid_mesos_would_reject_is_refused_here(uuid: str, message: str) -> None:
    with pytest.raises(InvalidCall, match=message):
        acknowledge_call(FID, AGENT, "t", uuid)


def test_every_recorded_kill_is_rebuilt() -> None:
    kills = _calls("KILL")
    assert len(kills) == 6
    for name, body, _status in kills:
        kill = body["kill"]
        grace = kill.get("kill_policy", {}).get("grace_period", {}).get("nanoseconds")
        rebuilt = kill_call(
            body["framework_id"]["value"],
            kill["task_id"]["value"],
            kill["agent_id"]["value"],
            None if grace is None else grace / 1e9,
        )
        assert rebuilt == body, name


def test_a_kill_without_agent_or_policy_sends_only_the_task() -> None:
    assert kill_call(FID, "t") == {
        "type": "KILL",
        "framework_id": {"value": FID},
        "kill": {"task_id": {"value": "t"}},
    }


def test_every_recorded_reconcile_is_rebuilt_explicit_and_implicit() -> None:
    for name, body, _status in _calls("RECONCILE"):
        pairs = [
            (t["task_id"]["value"], t.get("agent_id", {}).get("value"))
            for t in body["reconcile"].get("tasks", [])
        ]
        rebuilt = reconcile_call(body["framework_id"]["value"], pairs)
        if body["reconcile"] == {}:
            # 07 also tried "reconcile": {}; the master treats it like "tasks": [].
            assert rebuilt["reconcile"] == {"tasks": []}, name
        else:
            assert rebuilt == body, name


def test_every_recorded_decline_is_rebuilt_with_its_filter() -> None:
    declines = _calls("DECLINE")
    assert {b["decline"].get("filters", {}).get("refuse_seconds") for _, b, _ in declines} == {
        None,
        0.0,
        1.0,
        5.0,
        60.0,
    }
    for name, body, _status in declines:
        decline = body["decline"]
        offer_ids = [o["value"] for o in decline["offer_ids"]]
        refuse = decline.get("filters", {}).get("refuse_seconds")
        assert decline_call(body["framework_id"]["value"], offer_ids, refuse) == body, name


@pytest.mark.parametrize("refuse", [-1.0, math.inf, math.nan])
def test_a_nonsense_refuse_filter_is_refused(refuse: float) -> None:
    with pytest.raises(InvalidCall, match="refuse_seconds"):
        decline_call(FID, ["o1"], refuse)


def test_offer_ids_must_be_present_and_distinct() -> None:
    with pytest.raises(InvalidCall, match="at least one"):
        decline_call(FID, [])
    with pytest.raises(InvalidCall, match="once"):
        accept_call(FID, ["o1", "o1"], [])


def test_every_recorded_suppress_revive_and_teardown_is_rebuilt() -> None:
    builders = {"SUPPRESS": suppress_call, "REVIVE": revive_call}
    seen = 0
    for call_type, build in builders.items():
        for name, body, _status in _calls(call_type):
            roles = body.get(call_type.lower(), {}).get("roles", [])
            assert build(body["framework_id"]["value"], roles) == body, name
            seen += 1
    for name, body, _status in _calls("TEARDOWN"):
        assert teardown_call(body["framework_id"]["value"]) == body, name
    assert seen >= 8


def test_revive_names_roles_with_the_plural_key_mesos_reads() -> None:
    assert revive_call(FID, ["batch"])["revive"] == {"roles": ["batch"]}
    assert "revive" not in revive_call(FID)


# ---- operator calls ----------------------------------------------------------------------


def test_operator_calls_match_the_recorded_bodies() -> None:
    recorded = [
        e["request"]["body"]
        for e in json.loads((TRANSCRIPTS / "12-operator.json").read_text())["exchanges"]
        if e["request"]["path"] == "/api/v1" and e["response"]["status"] == 200
    ]
    rebuilt = [
        get_metrics_call(5)
        if body["type"] == "GET_METRICS"
        else operator_call(body["type"], body.get(body["type"].lower()))
        for body in recorded
    ]
    assert rebuilt == recorded
    assert {
        "type": "GET_METRICS",
        "get_metrics": {"timeout": {"nanoseconds": 5_000_000_000}},
    } in rebuilt
