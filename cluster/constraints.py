"""Marathon placement constraints: parsing, validation and evaluation.

A constraint is `field OPERATOR [value]`. The field is `hostname` (or `@hostname`), the agent's
fault domain (`@region`, `@zone`) or the name of an agent attribute. Evaluation follows
Marathon's `mesosphere.mesos.Constraints` (1.x): each operator looks only at the offer's value
for the field and at how many tasks of the same group already run on each value of it.

Attribute values are compared as strings, rendered the way Marathon renders them
(`render_attribute`): TEXT as is, SCALAR with at most three decimals, RANGES as
`[begin-end,...]` and SET as `{a,b}`.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Context, Decimal
from enum import StrEnum
from typing import Any

PlacedCheck = Callable[["Constraint", str, "Tally"], bool]


class Operator(StrEnum):
    UNIQUE = "UNIQUE"
    CLUSTER = "CLUSTER"
    GROUP_BY = "GROUP_BY"
    LIKE = "LIKE"
    UNLIKE = "UNLIKE"
    MAX_PER = "MAX_PER"
    IS = "IS"


HOSTNAME = "hostname"
HOSTNAME_FIELDS = frozenset({"hostname", "@hostname"})
REGION_FIELD = "@region"
ZONE_FIELD = "@zone"
_SPECIAL_FIELDS = HOSTNAME_FIELDS | {REGION_FIELD, ZONE_FIELD}


_OPERATORS = ", ".join(op.value for op in Operator)
_INTEGER = re.compile(r"\+?[0-9]{1,9}")
# Marathon's IS accepts only Mesos text or scalar literals, so that set and range values can
# get their own meaning later without breaking existing app definitions.
_IS_LITERAL = re.compile(r"[a-zA-Z0-9_/.-]+")
_SCALAR_LITERAL = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_BAD_FIELD = re.compile(r"[\s:]")
_DECIMAL_CONTEXT = Context(prec=400)
_THOUSANDTH = Decimal("0.001")


class ConstraintError(ValueError):
    """One or more constraint specs are invalid; `messages` has one line per problem."""

    def __init__(self, messages: Sequence[str]) -> None:
        self.messages = tuple(messages)
        super().__init__("; ".join(self.messages))


class Tally(dict[str | None, int]):
    """Tasks of one group per value of one field, for the placement-dependent operators.

    The None key counts tasks on agents without the attribute, which Marathon's GROUP_BY
    treats as one more group. Change it only through `add`, which keeps `smallest` and
    `anchor` current in O(1) (they are asked once per offer looked at) and bumps `version`
    whenever GROUP_BY or CLUSTER could start accepting a value they rejected before: a new
    value, a larger smallest group, another anchor. Between bumps those operators only get
    stricter, which lets a search resume where it stopped.
    """

    __slots__ = ("_anchor", "_anchor_count", "_sizes", "_smallest", "version")

    def __init__(self, counts: Mapping[str | None, int] | None = None) -> None:
        super().__init__()
        self.version = 0
        self._smallest = 0
        # How many values have each count, to know when the smallest group grows.
        self._sizes: dict[int, int] = {}
        self._anchor: str | None = None
        self._anchor_count = 0
        for value, count in (counts or {}).items():
            self.add(value, count)

    def add(self, value: str | None, count: int = 1) -> None:
        if count <= 0:
            return
        old = self.get(value, 0)
        new = self[value] = old + count
        sizes = self._sizes
        sizes[new] = sizes.get(new, 0) + 1
        if old:
            sizes[old] -= 1
            if not sizes[old]:
                del sizes[old]
                if old == self._smallest:
                    self._smallest = min(sizes)
                    self.version += 1
        else:
            self.version += 1
            self._smallest = min(sizes)
        if value == self._anchor and self._anchor_count:
            self._anchor_count = new
        elif _anchor_rank(value, new) < _anchor_rank(self._anchor, self._anchor_count):
            self._anchor, self._anchor_count = value, new
            self.version += 1

    def smallest(self) -> int:
        return self._smallest

    def anchor(self) -> str | None:
        """The value a CLUSTER-without-value group is pinned to once some of it runs.

        Marathon takes the value of the first placed task; with several values (the
        constraint was added later, or an agent's attributes changed) that choice is
        arbitrary, so this takes the value most tasks run on, ties to the smallest value.
        """
        return self._anchor


def _operator(text: object) -> Operator:
    try:
        return Operator(str(text).strip().upper())
    except ValueError:
        raise ConstraintError([f"unknown operator {text!r}: must be one of {_OPERATORS}"]) from None


def _anchor_rank(value: str | None, count: int) -> tuple[int, bool, str]:
    return -count, value is None, value or ""


def _unique_ok(constraint: Constraint, value: str, counts: Tally) -> bool:
    return not counts.get(value)


def _max_per_ok(constraint: Constraint, value: str, counts: Tally) -> bool:
    return counts.get(value, 0) < constraint._number


def _group_by_ok(constraint: Constraint, value: str, counts: Tally) -> bool:
    here = counts.get(value, 0)
    if not here:
        return True
    return len(counts) >= constraint._number and here == counts.smallest()


def _cluster_ok(constraint: Constraint, value: str, counts: Tally) -> bool:
    return not counts or counts.anchor() == value


def _always(constraint: Constraint, value: str, counts: Tally) -> bool:
    return True


_PLACED_CHECKS: dict[str, PlacedCheck] = {
    "UNIQUE": _unique_ok,
    "MAX_PER": _max_per_ok,
    "GROUP_BY": _group_by_ok,
    "CLUSTER": _cluster_ok,
}


@dataclass(frozen=True, slots=True)
class Constraint:
    field: str
    operator: Operator
    value: str | None = None
    _pattern: re.Pattern[str] | None = dataclasses.field(
        default=None, init=False, compare=False, repr=False
    )
    _number: int = dataclasses.field(default=0, init=False, compare=False, repr=False)
    _operand: str = dataclasses.field(default="", init=False, compare=False, repr=False)
    _static: bool = dataclasses.field(default=False, init=False, compare=False, repr=False)
    _monotone: bool = dataclasses.field(default=True, init=False, compare=False, repr=False)
    _placed: PlacedCheck = dataclasses.field(default=_always, init=False, compare=False, repr=False)
    _hash: int = dataclasses.field(default=0, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.operator, Operator):
            object.__setattr__(self, "operator", _operator(self.operator))
        problem = _field_problem(self.field) or _value_problem(self.operator, self.value)
        if problem:
            raise ConstraintError([problem])
        op, value = self.operator, self.value
        # Decided once here: attribute lookups on an Enum class are slow, and the engine asks
        # these questions for every offer it looks at.
        if op in (Operator.LIKE, Operator.UNLIKE):
            object.__setattr__(self, "_pattern", re.compile(str(value)))
        elif op in (Operator.MAX_PER, Operator.GROUP_BY) and value:
            object.__setattr__(self, "_number", int(value))
        elif op is Operator.IS:
            object.__setattr__(self, "_operand", _is_operand(str(value)))
        elif op is Operator.CLUSTER and value:
            object.__setattr__(self, "_operand", value)
        static = op in (Operator.LIKE, Operator.UNLIKE, Operator.IS) or bool(self._operand)
        object.__setattr__(self, "_static", static)
        # GROUP_BY is not monotone: filling the smallest group re-opens the others. Nor is
        # CLUSTER without a value: it follows the value most of the group runs on, which
        # placements of the group's unconstrained tasks can move.
        monotone = op is not Operator.GROUP_BY and not (op is Operator.CLUSTER and not value)
        object.__setattr__(self, "_monotone", monotone)
        # Tasks are folded by their constraints on every decision; the generated hash would
        # hash the Enum member through Python each time.
        object.__setattr__(self, "_hash", hash((self.field, op.value, value)))
        object.__setattr__(
            self, "_placed", _PLACED_CHECKS.get(op.value, _always) if not static else _always
        )

    def __hash__(self) -> int:
        return self._hash

    def __str__(self) -> str:
        return ":".join(self.as_list())

    def as_list(self) -> list[str]:
        """The Marathon app JSON form, `[field, OPERATOR]` or `[field, OPERATOR, value]`."""
        parts = [self.field, self.operator.value]
        return parts if self.value is None else [*parts, self.value]

    @property
    def is_static(self) -> bool:
        """True when acceptance depends on the offer alone, not on where the group runs."""
        return self._static

    @property
    def is_monotone(self) -> bool:
        """True when placing more of the group can only turn accepting offers into rejecting."""
        return self._monotone

    @property
    def limit(self) -> int:
        """MAX_PER's maximum per value, or GROUP_BY's expected number of groups (0: unset)."""
        return self._number

    def accepts(self, value: str | None, counts: Tally) -> bool:
        """Would an offer whose field has `value` accept one more task of the group?"""
        if value is None or self._static:
            return self.accepts_static(value)
        return self._placed(self, value, counts)

    def accepts_static(self, value: str | None) -> bool:
        """The part of `accepts` that needs no placement counts (all of it for static ones)."""
        pattern = self._pattern
        if value is None:
            # Marathon: an offer without the attribute only satisfies UNLIKE.
            return pattern is not None and self.operator.value == "UNLIKE"
        if pattern is not None:
            return (pattern.fullmatch(value) is None) == (self.operator.value == "UNLIKE")
        if self._operand:
            return value == self._operand
        return True

    def accepts_placed(self, value: str, counts: Tally) -> bool:
        """The placement-dependent part of `accepts`, for an offer that has the field."""
        return self._placed(self, value, counts)


def canonical_field(name: str) -> str:
    """`@hostname` and `hostname` are one field: tasks placed under either count for both."""
    return HOSTNAME if name in HOSTNAME_FIELDS else name


def field_value(
    name: str,
    hostname: str,
    attributes: Mapping[str, str],
    region: str | None = None,
    zone: str | None = None,
) -> str | None:
    if name in HOSTNAME_FIELDS:
        return hostname
    if name == REGION_FIELD:
        return region
    if name == ZONE_FIELD:
        return zone
    return attributes.get(name)


def parse_constraint(spec: object) -> Constraint:
    """A Constraint from `["f", "OP", "v"]`, `"f:OP:v"` or `{"fieldName", "operator", "value"}`.

    The operator is case-insensitive, like Marathon's. Raises ConstraintError.
    """
    if isinstance(spec, Constraint):
        return spec
    parts = _spec_parts(spec)
    if isinstance(parts, str):
        raise ConstraintError([parts])
    name, op_text, value = parts
    return Constraint(name.strip(), _operator(op_text), value)


def parse_constraints(specs: object) -> tuple[Constraint, ...]:
    """Every constraint of a list of specs, or of a text with one `f:OP[:v]` per line.

    Raises one ConstraintError listing every bad spec, each with its position, so a form can
    show them all at once.
    """
    if isinstance(specs, str):
        items: Sequence[object] = [line for line in specs.splitlines() if line.strip()]
    elif isinstance(specs, Sequence):
        items = specs
    else:
        raise ConstraintError([f"constraints must be a list, got {type(specs).__name__}"])
    parsed: list[Constraint] = []
    problems: list[str] = []
    for position, spec in enumerate(items, start=1):
        try:
            parsed.append(parse_constraint(spec))
        except ConstraintError as error:
            problems.extend(f"constraint {position} ({_show(spec)}): {m}" for m in error.messages)
    if problems:
        raise ConstraintError(problems)
    return tuple(parsed)


def render_attribute(attribute: Mapping[str, Any]) -> tuple[str, str]:
    """`(name, value)` of a Mesos v1 Attribute JSON object, the value as Marathon renders it."""
    try:
        name = attribute["name"]
        kind = attribute["type"]
        if kind == "TEXT":
            return name, str(attribute["text"]["value"])
        if kind == "SCALAR":
            return name, format_scalar(float(attribute["scalar"]["value"]))
        if kind == "RANGES":
            ranges = sorted(attribute["ranges"].get("range", []), key=lambda r: int(r["begin"]))
            return name, "[" + ",".join(f"{int(r['begin'])}-{int(r['end'])}" for r in ranges) + "]"
        if kind == "SET":
            return name, "{" + ",".join(sorted(attribute["set"].get("item", []))) + "}"
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise ValueError(f"malformed attribute {attribute!r}: {error}") from None
    raise ValueError(f"attribute {name!r} has unknown type {kind!r}")


def render_attributes(attributes: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """Offer attributes by name; like Marathon, the first of two same-named ones wins."""
    rendered: dict[str, str] = {}
    for attribute in attributes:
        name, value = render_attribute(attribute)
        rendered.setdefault(name, value)
    return rendered


def format_scalar(number: float) -> str:
    """Java's `DecimalFormat("0.###")`: half-even on the exact binary value, no trailing 0s."""
    rounded = Decimal(number).quantize(
        _THOUSANDTH, rounding=ROUND_HALF_EVEN, context=_DECIMAL_CONTEXT
    )
    text = format(rounded, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _spec_parts(spec: object) -> tuple[str, str, str | None] | str:
    """(field, operator, value) of a raw spec, or a message saying why it has none."""
    if isinstance(spec, str):
        text = spec.strip().split(":", 2)
        if len(text) < 2:
            return "expected 'field:OPERATOR' or 'field:OPERATOR:value'"
        return text[0], text[1], text[2].strip() if len(text) == 3 else None
    pieces: list[object]
    if isinstance(spec, Mapping):
        name, op_text, value = (
            spec.get("fieldName", spec.get("field")),
            spec.get("operator"),
            spec.get("value"),
        )
        pieces = [name, op_text] if value is None else [name, op_text, value]
    elif isinstance(spec, Sequence):
        pieces = list(spec)
        if not 2 <= len(pieces) <= 3:
            return "each constraint must have either 2 or 3 fields"
    else:
        return f"expected a list or a 'field:OPERATOR[:value]' string, got {type(spec).__name__}"
    strings = [piece for piece in pieces if isinstance(piece, str)]
    if len(strings) != len(pieces):
        return "field, operator and value must be strings"
    return strings[0], strings[1], strings[2] if len(strings) == 3 else None


def _field_problem(name: str) -> str | None:
    if not name:
        return "missing field: use hostname or an agent attribute name"
    if _BAD_FIELD.search(name):
        return f"field {name!r} must not contain spaces or ':'"
    if name.startswith("@") and name not in _SPECIAL_FIELDS:
        return f"unknown field {name!r}: the @ fields are @hostname, @region and @zone"
    return None


def _value_problem(operator: Operator, value: str | None) -> str | None:
    if operator is Operator.UNIQUE:
        return "UNIQUE does not accept a value" if value is not None else None
    if operator is Operator.CLUSTER:
        return None
    if operator is Operator.GROUP_BY:
        if value is None or value == "" or _positive(value):
            return None
        return f"GROUP_BY takes no value or a positive number of groups, got {value!r}"
    if operator is Operator.MAX_PER:
        return None if _positive(value) else f"MAX_PER needs a positive integer, got {value!r}"
    if operator is Operator.IS:
        if not value or not _IS_LITERAL.fullmatch(value):
            return f"IS needs a text or number value (letters, digits, _ / . -), got {value!r}"
        return None
    return _regex_problem(operator, value)


def _regex_problem(operator: Operator, value: str | None) -> str | None:
    if not value:
        return f"{operator.value} needs a non-empty regular expression"
    try:
        re.compile(value)
    except re.error as error:
        return f"{value!r} is not a valid regular expression: {error}"
    return None


def _positive(value: str | None) -> bool:
    return value is not None and bool(_INTEGER.fullmatch(value)) and int(value) > 0


def _is_operand(value: str) -> str:
    # IS 2.50 must match the scalar attribute 2.5, which renders as "2.5".
    return format_scalar(float(value)) if _SCALAR_LITERAL.fullmatch(value) else value


def _show(spec: object) -> str:
    if isinstance(spec, Sequence) and not isinstance(spec, str):
        return ":".join(str(piece) for piece in spec)
    return str(spec)
