"""The master's pure parts: resource arithmetic, JSON conversion, filters, command line."""

from __future__ import annotations

import argparse

import pytest

from devcluster import cli
from devcluster.master import convert
from devcluster.master.allocator import MAX_REFUSE_SECONDS, refuse_seconds
from devcluster.master.recordio import encode_event
from devcluster.master.resources import Resources, describe_request, parse_resources
from devcluster.master.validation import HttpError, parse_body, validate_id, validate_role


def _ports(*ranges: tuple[int, int]) -> Resources:
    return Resources.of({}, ranges)


def test_scalars_stay_in_three_decimal_fixed_point():
    total = Resources.of({"cpus": 0.1})
    total.add(Resources.of({"cpus": 0.2}))
    assert total.scalars[("cpus", "*")] == 0.3
    total.subtract(Resources.of({"cpus": 0.3}))
    assert total.is_empty()


def test_port_ranges_split_and_merge():
    left = _ports((31000, 31100)).subtract(_ports((31005, 31007)))
    assert left.ranges[("ports", "*")] == [(31000, 31004), (31008, 31100)]
    assert left.add(_ports((31005, 31007))).ranges[("ports", "*")] == [(31000, 31100)]


def test_containment_needs_every_name_role_and_port():
    offer = Resources.of({"cpus": 2, "mem": 2048}, [(31000, 31100)])
    assert offer.contains(Resources.of({"cpus": 2}, [(31000, 31000)]))
    assert not offer.contains(Resources.of({"cpus": 2.001}))
    assert not offer.contains(_ports((40000, 40000)))
    assert not offer.contains(Resources.of({"cpus": 1}, role="web"))


def test_offerable_resources_are_unreserved_plus_the_roles_own():
    agent = Resources.of({"cpus": 1}).add(Resources.of({"cpus": 1}, role="web"))
    assert agent.offerable_to("web").quantity("cpus") == 2
    assert agent.offerable_to("batch").quantity("cpus") == 1


def test_min_allocatable_is_a_hundredth_cpu_or_32_mb():
    assert Resources.of({"cpus": 0.01}).allocatable()
    assert Resources.of({"mem": 32}).allocatable()
    assert not Resources.of({"disk": 4096}, [(1, 2)]).allocatable()


def test_resources_are_described_like_the_master_does():
    offer = Resources.of({"cpus": 2, "mem": 2048, "disk": 4096}, [(31000, 31100)])
    assert offer.describe("*") == (
        "ports(allocated: *):[31000-31100]; cpus(allocated: *):2; mem(allocated: *):2048; "
        "disk(allocated: *):4096"
    )
    request = [
        {"name": "cpus", "type": "SCALAR", "scalar": {"value": 100}},
        {
            "name": "mem",
            "type": "SCALAR",
            "scalar": {"value": 32},
            "allocation_info": {"role": "*"},
        },
    ]
    assert describe_request(request, "*") == "cpus(allocated: *):100; mem(allocated: *):32"
    reserved = Resources.of({"cpus": 1}, role="web")
    assert reserved.describe("web") == "cpus(allocated: web)(reservations: [(STATIC,web)]):1"


def test_old_and_new_reservation_formats_read_the_same():
    old = parse_resources(
        [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 1}, "role": "web"}]
    )
    new = parse_resources(
        [
            {
                "name": "cpus",
                "type": "SCALAR",
                "scalar": {"value": 1},
                "reservations": [{"type": "STATIC", "role": "web"}],
            }
        ]
    )
    assert old.scalars == new.scalars == {("cpus", "web"): 1.0}


def test_legacy_summaries_always_have_the_four_scalars():
    assert Resources().summary() == {"disk": 0.0, "mem": 0.0, "gpus": 0.0, "cpus": 0.0}
    assert _ports((31000, 31100)).summary()["ports"] == "[31000-31100]"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"type": 8}, "Not expecting a JSON number for field 'type'"),
        (
            {
                "type": "ACKNOWLEDGE",
                "acknowledge": {"agent_id": {"value": "a"}, "task_id": {"value": "t"}},
            },
            "Missing required fields: acknowledge.uuid",
        ),
        (
            {"type": "DECLINE", "decline": {"filters": {"refuse_seconds": "abc"}}},
            "Failed to convert 'abc' to number for field 'refuse_seconds'",
        ),
        (
            {
                "type": "ACKNOWLEDGE",
                "acknowledge": {
                    "agent_id": {"value": "a"},
                    "task_id": {"value": "t"},
                    "uuid": "a!",
                },
            },
            "Failed to base64 decode bytes field 'uuid': Invalid character '!'",
        ),
    ],
)
def test_conversion_errors_read_like_stouts(body, message):
    with pytest.raises(
        convert.ConversionError, match="^" + message.replace("(", r"\(").replace(")", r"\)") + "$"
    ):
        convert.read("Call", body)


def test_conversion_drops_unknown_optional_enums_and_reads_numeric_strings():
    call = {"type": "NOT_A_CALL", "decline": {"filters": {"refuse_seconds": "5"}}}
    convert.read("Call", call)
    assert "type" not in call
    assert call["decline"]["filters"]["refuse_seconds"] == 5.0


def test_strict_parsing_names_unknown_keys_with_their_path():
    body = b'{"type": "REVIVE", "framework_id": {"value": "f"}, "revive": {"role": "x"}}'
    with pytest.raises(HttpError) as raised:
        parse_body(body, "Call", strict=True)
    assert "revive.role" in raised.value.text
    assert parse_body(body, "Call", strict=False)["revive"] == {"role": "x"}


def test_writing_fills_proto2_defaults_in_declaration_order():
    check = {"type": "COMMAND", "command": {"value": "true"}}
    written = convert.write("HealthCheck", check)
    assert list(written) == [
        "delay_seconds",
        "interval_seconds",
        "timeout_seconds",
        "consecutive_failures",
        "grace_period_seconds",
        "type",
        "command",
    ]
    assert written["command"] == {"shell": True, "value": "true"}


def test_refuse_seconds_defaults_and_caps():
    assert refuse_seconds(None, 5.0) == 5.0
    assert refuse_seconds({}, 5.0) == 5.0
    assert refuse_seconds({"refuse_seconds": -1.0}, 5.0) == 5.0
    assert refuse_seconds({"refuse_seconds": 0.0}, 5.0) == 0.0
    assert refuse_seconds({"refuse_seconds": 1e12}, 5.0) == MAX_REFUSE_SECONDS


@pytest.mark.parametrize(
    ("value", "ok"), [("web-1", True), ("", False), ("..", False), ("a/b", False), ("a\tb", False)]
)
def test_task_ids_are_validated_like_mesos(value, ok):
    assert (validate_id(value) is None) is ok


@pytest.mark.parametrize(
    ("role", "ok"), [("*", True), ("eng/front", True), ("-x", False), ("a b", False), ("", False)]
)
def test_roles_are_validated(role, ok):
    assert (validate_role(role) is None) is ok


def test_records_are_length_prefixed_compact_json():
    assert encode_event({"type": "HEARTBEAT"}) == b'20\n{"type":"HEARTBEAT"}'
    assert encode_event({"message": "é"}).startswith(b"16\n")


def _args(*argv: str) -> argparse.Namespace:
    return cli.parser().parse_args(list(argv))


def test_real_agents_get_disjoint_port_ranges_and_loopback_hostnames(tmp_path):
    args = _args(
        "--agents", "3", "--agent-resources", "cpus:2;mem:1024;disk:100;ports:[31000-31299]"
    )
    configs = cli.agent_configs(args, "m", tmp_path)
    assert [c.hostname for c in configs] == ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
    assert [c.ports for c in configs] == [((31000, 31099),), ((31100, 31199),), ((31200, 31299),)]
    assert [c.agent_id for c in configs] == ["m-S0", "m-S1", "m-S2"]


def test_thousands_of_simulated_agents_get_their_own_loopback_addresses(tmp_path):
    configs = cli.agent_configs(_args("--agents", "0", "--simulated-agents", "1000"), "m", tmp_path)
    assert configs[-1].hostname == "127.0.3.233"
    assert all(c.simulated for c in configs)
    assert len({c.hostname for c in configs}) == 1000


def test_attribute_templates_use_the_agent_index(tmp_path):
    args = _args(
        "--agents",
        "3",
        "--agent-resources",
        "cpus:1;mem:64;ports:[1-30]",
        "--agent-attributes",
        "rack:r{i%2};ssd:1",
    )
    configs = cli.agent_configs(args, "m", tmp_path)
    racks = [c.attributes[0]["text"]["value"] for c in configs]
    assert racks == ["r0", "r1", "r0"]
    assert configs[0].attributes[1] == {"name": "ssd", "type": "SCALAR", "scalar": {"value": 1.0}}


def test_repeated_attribute_options_apply_per_agent_and_the_last_repeats(tmp_path):
    args = _args(
        "--agents",
        "3",
        "--agent-resources",
        "cpus:1;mem:64;ports:[1-30]",
        "--agent-attributes",
        "zone:a",
        "--agent-attributes",
        "zone:b",
    )
    zones = [c.attributes[0]["text"]["value"] for c in cli.agent_configs(args, "m", tmp_path)]
    assert zones == ["a", "b", "b"]


def test_default_resources_are_sized_from_the_machine(tmp_path):
    [config] = cli.agent_configs(_args(), "m", tmp_path)
    assert config.cpus >= 1
    assert config.mem > 0 and config.disk > 0
    assert config.ports == ((31000, 32000),)


@pytest.mark.parametrize(
    "argv",
    [
        ("--agent-resources", "cpus:x"),
        ("--agent-resources", "ports:31000-31100"),
        ("--reserve", "web:gpus=1"),
        ("--reserve", "*:cpus=1"),
        ("--agent-resources", "cpus:1;mem:64", "--reserve", "web:cpus=2"),
        ("--agents", "200", "--agent-resources", "cpus:1;mem:64;ports:[1-100]"),
    ],
)
def test_bad_options_are_explained(tmp_path, argv):
    with pytest.raises(cli.OptionError):
        cli.agent_configs(_args(*argv), "m", tmp_path)


def test_bad_options_end_the_program_with_a_message(capsys):
    assert cli.main(["--agent-resources", "cpus:lots", "--port", "0"]) == 2
    assert "cpus" in capsys.readouterr().err
