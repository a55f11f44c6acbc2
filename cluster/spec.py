"""TaskSpec <-> the JSON stored in Task.spec.

A stored spec is a TaskSpec as an owner wants it, before an offer is chosen:

- ``task_id`` is not stored (it is Task.mesos_task_id) and comes back as given to load;
- ``ports`` are *requests*: 0 asks for any free port of the offer, another number for
  exactly that host port; a Docker or CNI port mapping with ``host_port`` 0 is bound to
  the requested-any ports in order at launch;
- the placement constraints (Marathon ``field:OPERATOR[:value]``) travel alongside;
- configuration values and secrets are never part of it: they are resolved into the
  TaskInfo at the moment of launch.

Pure: no Django, no network. Every value is checked on the way in, so a row written by an
older or buggier Berth is reported by path ("spec.container.port_mappings[0].host_port:
expected an integer") instead of failing somewhere inside the framework loop.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import math
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType, NoneType, UnionType
from typing import Any, Literal

from cluster.constraints import Constraint, ConstraintError, parse_constraints
from cluster.translate.calls import Json
from cluster.types import DockerContainer, MesosContainer, TaskSpec

SPEC_VERSION = 1
_CONTAINER_KINDS: dict[str, type[DockerContainer] | type[MesosContainer]] = {
    "DOCKER": DockerContainer,
    "MESOS": MesosContainer,
}


class SpecError(ValueError):
    """The stored JSON is not a spec this Berth can run; the message names the field."""


@dataclass(frozen=True, slots=True)
class StoredSpec:
    spec: TaskSpec
    constraints: tuple[Constraint, ...] = ()


def spec_dump(spec: TaskSpec, constraints: Sequence[Constraint] = ()) -> Json:
    """The JSON for Task.spec; fields left at their defaults are omitted."""
    body = _dump_dataclass(spec)
    body.pop("task_id", None)
    out: Json = {"version": SPEC_VERSION, **body}
    if constraints:
        out["constraints"] = [c.as_list() for c in constraints]
    return out


def spec_load(data: Any, *, task_id: str = "") -> StoredSpec:
    """Read what spec_dump wrote; raises SpecError naming the first bad field."""
    if not isinstance(data, Mapping):
        raise SpecError(f"spec: expected an object, got {_kind(data)}")
    version = data.get("version", SPEC_VERSION)
    if version != SPEC_VERSION:
        raise SpecError(f"spec.version: this Berth reads version {SPEC_VERSION}, not {version!r}")
    fields = {k: v for k, v in data.items() if k not in ("version", "constraints")}
    fields["task_id"] = task_id
    spec = _load_dataclass(TaskSpec, fields, "spec")
    try:
        constraints = parse_constraints(data.get("constraints", []))
    except ConstraintError as error:
        raise SpecError(f"spec.constraints: {error}") from None
    return StoredSpec(spec, constraints)


# -- dumping ------------------------------------------------------------------------


def _dump_dataclass(value: Any) -> Json:
    out: Json = {}
    for f in dataclasses.fields(value):
        item = getattr(value, f.name)
        if _is_default(f, item):
            continue
        out[f.name] = _dump(item)
    if isinstance(value, DockerContainer | MesosContainer):
        out["type"] = "DOCKER" if isinstance(value, DockerContainer) else "MESOS"
    return out


def _is_default(f: dataclasses.Field[Any], item: Any) -> bool:
    if f.default is not dataclasses.MISSING:
        return bool(item == f.default)
    if f.default_factory is not dataclasses.MISSING:
        return bool(item == f.default_factory())
    return False


def _dump(item: Any) -> Any:
    if dataclasses.is_dataclass(item) and not isinstance(item, type):
        return _dump_dataclass(item)
    if isinstance(item, bytes):
        return base64.b64encode(item).decode("ascii")
    if isinstance(item, float) and not math.isfinite(item):
        # JSON has no Infinity; PostgreSQL's jsonb refuses the bare token Python writes.
        if math.isnan(item):
            raise SpecError("NaN cannot be stored in a spec")
        return "Infinity" if item > 0 else "-Infinity"
    if isinstance(item, Mapping):
        return {str(k): _dump(v) for k, v in item.items()}
    if isinstance(item, tuple | list):
        return [_dump(v) for v in item]
    return item


# -- loading ------------------------------------------------------------------------


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _load_dataclass(cls: type, data: Any, path: str) -> Any:
    if not isinstance(data, Mapping):
        raise SpecError(f"{path}: expected an object, got {_kind(data)}")
    hints = _hints(cls)
    known = {f.name for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - known - {"type"})
    if unknown:
        raise SpecError(f"{path}: unknown field {unknown[0]!r}")
    kwargs = {name: _load(hints[name], data[name], f"{path}.{name}") for name in known & set(data)}
    try:
        return cls(**kwargs)
    except TypeError as error:  # a required field is missing
        raise SpecError(f"{path}: {error}") from None
    except ValueError as error:
        raise SpecError(f"{path}: {error}") from None


def _load(tp: Any, data: Any, path: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (UnionType, typing.Union):
        return _load_union(typing.get_args(tp), data, path)
    if origin is Literal:
        if data not in typing.get_args(tp):
            allowed = ", ".join(repr(a) for a in typing.get_args(tp))
            raise SpecError(f"{path}: must be one of {allowed}, got {data!r}")
        return data
    if origin is tuple:
        return _load_tuple(typing.get_args(tp), data, path)
    if origin in (Mapping, dict) or tp is Mapping:
        return _load_mapping(typing.get_args(tp), data, path)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _load_dataclass(tp, data, path)
    return _load_scalar(tp, data, path)


def _load_union(options: tuple[Any, ...], data: Any, path: str) -> Any:
    if data is None:
        if NoneType in options:
            return None
        raise SpecError(f"{path}: must not be null")
    rest = [o for o in options if o is not NoneType]
    if set(rest) == {DockerContainer, MesosContainer}:
        kind = data.get("type") if isinstance(data, Mapping) else None
        if kind not in _CONTAINER_KINDS:
            raise SpecError(f"{path}.type: must be 'DOCKER' or 'MESOS', got {kind!r}")
        return _load_dataclass(_CONTAINER_KINDS[kind], data, path)
    if len(rest) != 1:
        raise SpecError(f"{path}: cannot tell which of {rest} this is")
    return _load(rest[0], data, path)


def _load_tuple(args: tuple[Any, ...], data: Any, path: str) -> tuple[Any, ...]:
    if not isinstance(data, list):
        raise SpecError(f"{path}: expected a list, got {_kind(data)}")
    if len(args) == 2 and args[1] is Ellipsis:
        return tuple(_load(args[0], item, f"{path}[{i}]") for i, item in enumerate(data))
    if len(data) != len(args):
        raise SpecError(f"{path}: expected {len(args)} items, got {len(data)}")
    return tuple(
        _load(a, item, f"{path}[{i}]") for i, (a, item) in enumerate(zip(args, data, strict=True))
    )


def _load_mapping(args: tuple[Any, ...], data: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise SpecError(f"{path}: expected an object, got {_kind(data)}")
    value_type = args[1] if len(args) == 2 else str
    loaded = {str(k): _load(value_type, v, f"{path}.{k}") for k, v in data.items()}
    return MappingProxyType(loaded)


def _load_scalar(tp: Any, data: Any, path: str) -> Any:
    if tp is str:
        if not isinstance(data, str):
            raise SpecError(f"{path}: expected text, got {_kind(data)}")
        return data
    if tp is bool:
        if not isinstance(data, bool):
            raise SpecError(f"{path}: expected true or false, got {_kind(data)}")
        return data
    if tp is int:
        if isinstance(data, bool) or not isinstance(data, int):
            raise SpecError(f"{path}: expected an integer, got {_kind(data)}")
        return data
    if tp is float:
        return _load_float(data, path)
    if tp is bytes:
        return _load_bytes(data, path)
    raise SpecError(f"{path}: cannot read a {tp!r}")


def _load_float(data: Any, path: str) -> float:
    if data in ("Infinity", "-Infinity"):
        return math.inf if data == "Infinity" else -math.inf
    if isinstance(data, bool) or not isinstance(data, int | float):
        raise SpecError(f"{path}: expected a number, got {_kind(data)}")
    return float(data)


def _load_bytes(data: Any, path: str) -> bytes:
    if not isinstance(data, str):
        raise SpecError(f"{path}: expected base64 text, got {_kind(data)}")
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise SpecError(f"{path}: not valid base64") from None


def _kind(data: Any) -> str:
    if data is None:
        return "null"
    return {dict: "an object", list: "a list", str: "text", bool: "a boolean"}.get(
        type(data), type(data).__name__
    )
