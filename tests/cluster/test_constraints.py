from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cluster.constraints import (
    Constraint,
    ConstraintError,
    Operator,
    Tally,
    field_value,
    format_scalar,
    parse_constraint,
    parse_constraints,
    render_attribute,
    render_attributes,
)


def accepts(spec: str, value: str | None, placed: dict[str | None, int] | None = None) -> bool:
    return parse_constraint(spec).accepts(value, Tally(placed or {}))


# Parsing


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (["hostname", "UNIQUE"], Constraint("hostname", Operator.UNIQUE)),
        (("rack_id", "CLUSTER", "rack-1"), Constraint("rack_id", Operator.CLUSTER, "rack-1")),
        ("hostname:UNIQUE", Constraint("hostname", Operator.UNIQUE)),
        ("rack:group_by:3", Constraint("rack", Operator.GROUP_BY, "3")),
        (" zone : LIKE : z[12] ", Constraint("zone", Operator.LIKE, "z[12]")),
        (
            {"fieldName": "rack", "operator": "MAX_PER", "value": "2"},
            Constraint("rack", Operator.MAX_PER, "2"),
        ),
        ({"field": "@zone", "operator": "is", "value": "a"}, Constraint("@zone", Operator.IS, "a")),
    ],
)
def test_it_parses_marathon_lists_strings_and_objects(spec: object, expected: Constraint) -> None:
    assert parse_constraint(spec) == expected


def test_it_keeps_colons_of_a_regex_in_the_string_form() -> None:
    assert parse_constraint("host:LIKE:a:b|c").value == "a:b|c"


def test_it_renders_back_to_both_forms() -> None:
    constraint = parse_constraint(["rack", "MAX_PER", "2"])
    assert str(constraint) == "rack:MAX_PER:2"
    assert constraint.as_list() == ["rack", "MAX_PER", "2"]
    assert parse_constraint("hostname:UNIQUE").as_list() == ["hostname", "UNIQUE"]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("hostname:SPREAD", "unknown operator 'SPREAD': must be one of UNIQUE, CLUSTER"),
        ("hostname", "expected 'field:OPERATOR' or 'field:OPERATOR:value'"),
        (["hostname"], "either 2 or 3 fields"),
        (["a", "LIKE", "x", "y"], "either 2 or 3 fields"),
        (["a", 3], "must be strings"),
        (42, "expected a list or a 'field:OPERATOR[:value]' string, got int"),
        (":UNIQUE", "missing field"),
        (["my rack", "UNIQUE"], "must not contain spaces"),
        ("@rack:UNIQUE", "unknown field '@rack'"),
        ("hostname:UNIQUE:x", "UNIQUE does not accept a value"),
        ("hostname:UNIQUE:", "UNIQUE does not accept a value"),
        ("rack:MAX_PER", "MAX_PER needs a positive integer, got None"),
        ("rack:MAX_PER:two", "MAX_PER needs a positive integer, got 'two'"),
        ("rack:MAX_PER:0", "MAX_PER needs a positive integer, got '0'"),
        ("rack:MAX_PER:-1", "MAX_PER needs a positive integer"),
        ("rack:GROUP_BY:x", "GROUP_BY takes no value or a positive number of groups"),
        ("rack:GROUP_BY:0", "GROUP_BY takes no value or a positive number of groups"),
        ("rack:LIKE", "LIKE needs a non-empty regular expression"),
        ("rack:UNLIKE:", "UNLIKE needs a non-empty regular expression"),
        ("rack:LIKE:r[1", "'r[1' is not a valid regular expression"),
        ("rack:IS", "IS needs a text or number value"),
        ("rack:IS:{a,b}", "IS needs a text or number value"),
    ],
)
def test_it_rejects_bad_specs_with_a_message_saying_what_is_wrong(
    spec: object, message: str
) -> None:
    with pytest.raises(ConstraintError) as caught:
        parse_constraint(spec)
    assert message in str(caught.value)


def test_it_rejects_a_bad_constraint_built_directly() -> None:
    with pytest.raises(ConstraintError, match="MAX_PER needs a positive integer"):
        Constraint("rack", Operator.MAX_PER, "x")
    with pytest.raises(ConstraintError, match="unknown operator 'NEAR'"):
        Constraint("rack", "NEAR")  # type: ignore[arg-type]
    assert Constraint("rack", "unique").operator is Operator.UNIQUE  # type: ignore[arg-type]


def test_it_lists_every_bad_spec_with_its_position() -> None:
    with pytest.raises(ConstraintError) as caught:
        parse_constraints([["hostname", "UNIQUE"], "rack:MAX_PER:x", "zone:NEAR"])
    assert caught.value.messages == (
        "constraint 2 (rack:MAX_PER:x): MAX_PER needs a positive integer, got 'x'",
        "constraint 3 (zone:NEAR): unknown operator 'NEAR': must be one of "
        "UNIQUE, CLUSTER, GROUP_BY, LIKE, UNLIKE, MAX_PER, IS",
    )


def test_it_reads_one_constraint_per_line_of_a_form_field() -> None:
    assert parse_constraints("hostname:UNIQUE\n\n  rack:GROUP_BY:3\n") == (
        Constraint("hostname", Operator.UNIQUE),
        Constraint("rack", Operator.GROUP_BY, "3"),
    )


def test_it_rejects_constraints_that_are_not_a_list() -> None:
    with pytest.raises(ConstraintError, match="constraints must be a list, got dict"):
        parse_constraints({"hostname": "UNIQUE"})


@given(st.one_of(st.text(), st.lists(st.one_of(st.text(), st.integers(), st.none()), max_size=4)))
def test_it_never_fails_on_garbage_with_anything_but_a_constraint_error(spec: object) -> None:
    with contextlib.suppress(ConstraintError):
        parse_constraint(spec)


@given(
    st.sampled_from(["hostname", "rack", "@zone", "gpu.model"]),
    st.sampled_from(list(Operator)),
    st.sampled_from([None, "", "1", "12", "r1", "r[0-9]+", "a.b", "2.50"]),
)
def test_valid_constraints_survive_a_round_trip_through_text(
    name: str, operator: Operator, value: str | None
) -> None:
    try:
        constraint = Constraint(name, operator, value)
    except ConstraintError:
        return
    text = str(constraint)
    reparsed = parse_constraint(text)
    assert reparsed.operator is constraint.operator
    assert reparsed.field == constraint.field
    assert (reparsed.value or None) == (constraint.value or None)


# Evaluation, as Marathon's Constraints.scala does it


def test_unique_rejects_a_value_the_group_already_runs_on() -> None:
    assert accepts("hostname:UNIQUE", "h1", {"h2": 1})
    assert not accepts("hostname:UNIQUE", "h1", {"h1": 1})


def test_cluster_with_a_value_accepts_only_that_value() -> None:
    assert accepts("rack:CLUSTER:r1", "r1")
    assert not accepts("rack:CLUSTER:r1", "r2")
    # With a value, where the group already runs does not matter (Marathon 1.x).
    assert accepts("rack:CLUSTER:r1", "r1", {"r2": 3})


def test_cluster_without_a_value_pins_the_group_to_where_it_runs() -> None:
    assert accepts("rack:CLUSTER", "r9")
    assert accepts("rack:CLUSTER:", "r9")
    assert accepts("rack:CLUSTER", "r1", {"r1": 2})
    assert not accepts("rack:CLUSTER", "r2", {"r1": 2})


def test_cluster_without_a_value_follows_the_value_most_of_the_group_runs_on() -> None:
    assert accepts("rack:CLUSTER", "r2", {"r1": 1, "r2": 2})
    assert not accepts("rack:CLUSTER", "r1", {"r1": 1, "r2": 2})
    # A tie goes to the smallest value, so the choice does not depend on dict order.
    assert accepts("rack:CLUSTER", "r1", {"r2": 1, "r1": 1})


def test_group_by_accepts_new_values_and_the_smallest_groups() -> None:
    placed = {"r1": 2, "r2": 1}
    assert accepts("rack:GROUP_BY", "r3", placed)
    assert accepts("rack:GROUP_BY", "r2", placed)
    assert not accepts("rack:GROUP_BY", "r1", placed)
    assert accepts("rack:GROUP_BY", "r1", {"r1": 1, "r2": 1})


def test_group_by_with_a_count_waits_for_that_many_groups_before_reusing_one() -> None:
    assert not accepts("rack:GROUP_BY:3", "r1", {"r1": 1, "r2": 1})
    assert accepts("rack:GROUP_BY:3", "r3", {"r1": 1, "r2": 1})
    assert accepts("rack:GROUP_BY:3", "r1", {"r1": 1, "r2": 1, "r3": 1})


def test_group_by_counts_tasks_on_agents_without_the_attribute_as_a_group() -> None:
    # Marathon groups by Option[value]: None is a group of its own.
    assert accepts("rack:GROUP_BY:2", "r1", {"r1": 1, None: 1})
    assert not accepts("rack:GROUP_BY:2", "r1", {"r1": 2, None: 1})


def test_like_and_unlike_match_the_whole_value() -> None:
    assert accepts("rack:LIKE:r[1-3]", "r2")
    assert not accepts("rack:LIKE:r[1-3]", "r22")
    assert not accepts("rack:LIKE:r", "rack")
    assert accepts("rack:UNLIKE:r[1-3]", "r22")
    assert not accepts("rack:UNLIKE:r[1-3]", "r3")


def test_max_per_allows_up_to_its_number_per_value() -> None:
    assert accepts("rack:MAX_PER:2", "r1", {"r1": 1})
    assert not accepts("rack:MAX_PER:2", "r1", {"r1": 2})
    assert accepts("rack:MAX_PER:2", "r2", {"r1": 2})


def test_is_compares_exactly_and_reads_numbers_as_mesos_scalars() -> None:
    assert accepts("zone:IS:a", "a")
    assert not accepts("zone:IS:a", "ab")
    assert accepts("gen:IS:2.50", "2.5")
    assert accepts("gen:IS:3", "3")


@pytest.mark.parametrize(
    "operator", ["UNIQUE", "CLUSTER", "GROUP_BY", "MAX_PER:1", "LIKE:.*", "IS:x"]
)
def test_a_missing_attribute_fails_every_operator_but_unlike(operator: str) -> None:
    assert not accepts(f"rack:{operator}", None)


def test_a_missing_attribute_satisfies_unlike() -> None:
    assert accepts("rack:UNLIKE:.*", None)


def test_field_values_come_from_hostname_fault_domain_or_attributes() -> None:
    attributes = {"rack": "r1"}
    assert field_value("hostname", "h1", attributes) == "h1"
    assert field_value("@hostname", "h1", attributes) == "h1"
    assert field_value("@zone", "h1", attributes, region="eu", zone="eu-1") == "eu-1"
    assert field_value("@region", "h1", attributes) is None
    assert field_value("rack", "h1", attributes) == "r1"
    assert field_value("gpu", "h1", attributes) is None


def test_a_tally_keeps_its_smallest_group_and_anchor_current() -> None:
    tally = Tally({"r1": 1, "r2": 2})
    assert tally.smallest() == 1
    assert tally.anchor() == "r2"
    tally.add("r1", 2)
    assert tally.smallest() == 2
    assert tally.anchor() == "r1"
    tally.add("r3", 0)
    assert "r3" not in tally
    assert Tally().smallest() == 0
    assert Tally().anchor() is None


def test_a_tally_changes_version_only_when_group_by_or_cluster_may_accept_more() -> None:
    tally = Tally({"r1": 1, "r2": 1})
    version = tally.version
    tally.add("r1")  # r2 is still the smallest group and r1 the anchor: only stricter
    assert tally.version == version
    tally.add("r2")  # the smallest group grew: r1 and r2 are both smallest again
    assert tally.version > version
    version = tally.version
    tally.add("r3")  # a new value
    assert tally.version > version
    version = tally.version
    tally.add("r3", 2)  # r3 overtakes r1 as the anchor of CLUSTER
    assert tally.version > version
    assert tally.anchor() == "r3"


@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c", None]), st.integers(1, 3)), max_size=12))
def test_a_tally_agrees_with_counting_from_scratch(adds: list[tuple[str | None, int]]) -> None:
    tally = Tally()
    counts: dict[str | None, int] = {}
    for value, count in adds:
        tally.add(value, count)
        counts[value] = counts.get(value, 0) + count
    assert dict(tally) == counts
    assert tally.smallest() == min(counts.values(), default=0)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0] is None, item[0] or ""))
    assert tally.anchor() == (ranked[0][0] if ranked else None)


# Attribute rendering


@pytest.mark.parametrize(
    ("attribute", "rendered"),
    [
        ({"name": "rack", "type": "TEXT", "text": {"value": "r1"}}, "r1"),
        ({"name": "gen", "type": "SCALAR", "scalar": {"value": 2.0}}, "2"),
        ({"name": "gen", "type": "SCALAR", "scalar": {"value": 0.5}}, "0.5"),
        ({"name": "gen", "type": "SCALAR", "scalar": {"value": 1.0005}}, "1"),
        ({"name": "gen", "type": "SCALAR", "scalar": {"value": 1.00051}}, "1.001"),
        ({"name": "gen", "type": "SCALAR", "scalar": {"value": 1.1005}}, "1.101"),
        (
            {
                "name": "p",
                "type": "RANGES",
                "ranges": {"range": [{"begin": 5, "end": 9}, {"begin": 1, "end": 2}]},
            },
            "[1-2,5-9]",
        ),
        ({"name": "zones", "type": "SET", "set": {"item": ["b", "a"]}}, "{a,b}"),
    ],
)
def test_it_renders_attributes_the_way_marathon_compares_them(
    attribute: dict[str, object], rendered: str
) -> None:
    assert render_attribute(attribute) == (attribute["name"], rendered)


def test_it_rejects_malformed_attributes() -> None:
    with pytest.raises(ValueError, match="malformed attribute"):
        render_attribute({"name": "rack", "type": "TEXT"})
    with pytest.raises(ValueError, match="unknown type 'BLOB'"):
        render_attribute({"name": "rack", "type": "BLOB"})


def test_the_first_of_two_same_named_attributes_wins() -> None:
    attributes = [
        {"name": "rack", "type": "TEXT", "text": {"value": "r1"}},
        {"name": "rack", "type": "TEXT", "text": {"value": "r2"}},
    ]
    assert render_attributes(attributes) == {"rack": "r1"}


@given(st.floats(min_value=0, max_value=1e9, allow_nan=False))
def test_scalars_render_with_at_most_three_decimals_and_no_trailing_zeros(number: float) -> None:
    text = format_scalar(number)
    whole, _, fraction = text.partition(".")
    assert whole.isdigit()
    assert len(fraction) <= 3
    assert not fraction.endswith("0")
    assert abs(float(text) - number) <= 0.0005 + 1e-9
