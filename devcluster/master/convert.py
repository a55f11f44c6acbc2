"""JSON to "protobuf" the way stout's converter does it, and back with proto2 defaults.

Reading checks types, enums and required fields with the master's own error texts and
leaves the decoded dict as the message: numeric strings become numbers, unknown optional
enum names are dropped (so an unknown call type reads as no type at all). Unknown keys are
ignored like Mesos does, but collected so that --strict can refuse them.
"""

from __future__ import annotations

import binascii
import math
from dataclasses import dataclass, field
from typing import Any

from devcluster.interfaces import Json
from devcluster.master.protos import ENUMS, MESSAGES, Field

_INTEGERS = frozenset({"int32", "int64", "uint32", "uint64"})
_BASE64 = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")


class ConversionError(ValueError):
    pass


@dataclass
class Findings:
    missing: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


_REQUIRED = {
    id(fields): tuple(f.name for f in fields.values() if f.required) for fields in MESSAGES.values()
}


def _unexpected(value: Any, name: str) -> ConversionError:
    return ConversionError(f"Not expecting a JSON {_json_kind(value)} for field '{name}'")


def read(message: str, data: Json, *, strict: bool = False) -> Findings:
    """Check `data` against `message` in place; raise ConversionError like Mesos does."""
    findings = Findings()
    _read_message(MESSAGES[message], data, "", findings, strict)
    if findings.missing:
        raise ConversionError("Missing required fields: " + ", ".join(findings.missing))
    return findings


def _read_message(
    fields: dict[str, Field], data: Json, path: str, findings: Findings, strict: bool
) -> None:
    # The hot path of every call: plain strings (ids) are checked inline, and paths are
    # only built for what needs one (nested messages, unknown keys).
    for key, value in list(data.items()):
        spec = fields.get(key)
        if spec is None:
            findings.unknown.append(f"{path}{key}")
            continue
        if value is None:
            del data[key]
            continue
        if spec.kind == "string" and not spec.repeated and isinstance(value, str):
            continue
        if spec.repeated:
            _read_repeated(spec, data, f"{path}{key}", findings, strict)
            continue
        converted = _read_value(spec, value, f"{path}{key}", findings, strict)
        if converted is _DROP:
            del data[key]
        elif converted is not value:
            data[key] = converted
    for name in _REQUIRED[id(fields)]:
        if name not in data:
            findings.missing.append(f"{path}{name}")


def _read_repeated(spec: Field, data: Json, where: str, findings: Findings, strict: bool) -> None:
    value = data[spec.name]
    if isinstance(value, dict) and spec.kind == "message":
        value = [value]  # stout takes a lone object as a one-element repeated field
    if not isinstance(value, list):
        raise _unexpected(value, spec.name)
    items = []
    for index, item in enumerate(value):
        converted = _read_value(spec, item, f"{where}[{index}]", findings, strict)
        if converted is not _DROP:
            items.append(converted)
    data[spec.name] = items


_DROP = object()


def _read_value(spec: Field, value: Any, where: str, findings: Findings, strict: bool) -> Any:
    kind = spec.kind
    if kind == "any":
        return value
    if kind == "message":
        if not isinstance(value, dict):
            raise _unexpected(value, spec.name)
        # Ids are most of every call: {"value": "..."} needs no walk.
        if spec.target == "ID" and len(value) == 1 and type(value.get("value")) is str:
            return value
        _read_message(MESSAGES[spec.target], value, where + ".", findings, strict)
        return value
    if kind == "map":
        if not isinstance(value, dict):
            raise _unexpected(value, spec.name)
        inner = Field(spec.name, "message", spec.target, False, False, None)
        for map_key, item in value.items():
            value[map_key] = _read_value(inner, item, f"{where}[{map_key}]", findings, strict)
        return value
    if kind == "enum":
        return _read_enum(spec, value, where, findings, strict)
    return _read_primitive(spec, value)


def _read_enum(spec: Field, value: Any, where: str, findings: Findings, strict: bool) -> Any:
    if not isinstance(value, str):
        raise _unexpected(value, spec.name)
    if value in ENUMS[spec.target]:
        return value
    if spec.required:
        raise ConversionError(f"Failed to find enum for '{value}'")
    if strict:
        findings.unknown.append(f"{where}={value}")
    return _DROP


def _read_primitive(spec: Field, value: Any) -> Any:
    kind = spec.kind
    if kind == "string":
        if not isinstance(value, str):
            raise _unexpected(value, spec.name)
        return value
    if kind == "bytes":
        if not isinstance(value, str):
            raise _unexpected(value, spec.name)
        _check_base64(value, spec.name)
        return value
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if value in ("true", "false"):
            return value == "true"
        raise _unexpected(value, spec.name)
    return _read_number(spec, value)


def _read_number(spec: Field, value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise _unexpected(value, spec.name)
    if isinstance(value, str):
        try:
            value = float(value) if spec.kind == "double" else int(value)
        except ValueError:
            raise ConversionError(
                f"Failed to convert '{value}' to number for field '{spec.name}'"
            ) from None
    if spec.kind in _INTEGERS:
        if isinstance(value, float):
            if not math.isfinite(value):
                raise _unexpected(value, spec.name)
            value = int(value)
        if spec.kind.startswith("uint") and value < 0:
            raise ConversionError(f"Negative value for unsigned field '{spec.name}'")
        return value
    return float(value)


def _check_base64(text: str, name: str) -> None:
    # stout's decoder skips whitespace and stops at the first other stray character.
    bad = next((c for c in text if c not in _BASE64 and not c.isspace()), None)
    if bad is not None:
        raise ConversionError(
            f"Failed to base64 decode bytes field '{name}': Invalid character '{bad}'"
        )
    try:
        binascii.a2b_base64(text.encode("ascii"))
    except binascii.Error as error:
        raise ConversionError(f"Failed to base64 decode bytes field '{name}': {error}") from None


def decode_bytes(text: str) -> bytes:
    return binascii.a2b_base64(text.encode("ascii"))


def write(message: str, data: Json) -> Json:
    """A copy in declaration order with proto2 defaults filled in, as Mesos writes it."""
    fields = MESSAGES[message]
    out: Json = {}
    for spec in fields.values():
        if spec.name in data:
            out[spec.name] = _write_value(spec, data[spec.name])
        elif spec.default is not None:
            out[spec.name] = spec.default
    return out


def _write_value(spec: Field, value: Any) -> Any:
    if spec.kind != "message":
        return value
    if spec.repeated and isinstance(value, list):
        return [write(spec.target, v) if isinstance(v, dict) else v for v in value]
    return write(spec.target, value) if isinstance(value, dict) else value
