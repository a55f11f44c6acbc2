"""Checked access to decoded Mesos JSON. Every failure names the path that was wrong."""

from __future__ import annotations

import base64
import binascii
import math
from typing import Any


class PayloadError(ValueError):
    """A Mesos payload does not have the shape the protos promise."""


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def as_obj(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise PayloadError(f"{where}: expected an object, got {_type_name(value)}")
    return value


def obj(d: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    return as_obj(d.get(key), f"{where}.{key}")


def opt_obj(d: dict[str, Any], key: str, where: str) -> dict[str, Any] | None:
    value = d.get(key)
    return None if value is None else as_obj(value, f"{where}.{key}")


def items(d: dict[str, Any], key: str, where: str) -> list[tuple[str, Any]]:
    """A repeated field as (path, element) pairs; Mesos leaves empty lists out."""
    value = d.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise PayloadError(f"{where}.{key}: expected a list, got {_type_name(value)}")
    return [(f"{where}.{key}[{i}]", element) for i, element in enumerate(value)]


def objs(d: dict[str, Any], key: str, where: str) -> list[tuple[str, dict[str, Any]]]:
    return [(path, as_obj(element, path)) for path, element in items(d, key, where)]


def text(d: dict[str, Any], key: str, where: str) -> str:
    value = d.get(key)
    if not isinstance(value, str):
        raise PayloadError(f"{where}.{key}: expected a string, got {_type_name(value)}")
    return value


def opt_text(d: dict[str, Any], key: str, where: str) -> str | None:
    return None if d.get(key) is None else text(d, key, where)


def texts(d: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
    out = []
    for path, element in items(d, key, where):
        if not isinstance(element, str):
            raise PayloadError(f"{path}: expected a string, got {_type_name(element)}")
        out.append(element)
    return tuple(out)


def number(d: dict[str, Any], key: str, where: str) -> float:
    value = d.get(key)
    # bool is an int subclass; a true/false where a number belongs is a shape error.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PayloadError(f"{where}.{key}: expected a number, got {_type_name(value)}")
    return float(value)


def opt_number(d: dict[str, Any], key: str, where: str) -> float | None:
    return None if d.get(key) is None else number(d, key, where)


def integer(d: dict[str, Any], key: str, where: str) -> int:
    raw = d.get(key)
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw  # epoch nanoseconds exceed 2**53: never round-trip them through float
    value = number(d, key, where)
    if not math.isfinite(value) or not value.is_integer():
        raise PayloadError(f"{where}.{key}: expected an integer, got {value!r}")
    return int(value)


def opt_integer(d: dict[str, Any], key: str, where: str) -> int | None:
    return None if d.get(key) is None else integer(d, key, where)


def opt_bool(d: dict[str, Any], key: str, where: str) -> bool | None:
    value = d.get(key)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise PayloadError(f"{where}.{key}: expected true or false, got {_type_name(value)}")
    return value


def flag(d: dict[str, Any], key: str, where: str, default: bool = False) -> bool:
    value = opt_bool(d, key, where)
    return default if value is None else value


def value_id(d: dict[str, Any], key: str, where: str) -> str:
    """An id message such as TaskID: ``{"value": "..."}``."""
    return text(obj(d, key, where), "value", f"{where}.{key}")


def opt_value_id(d: dict[str, Any], key: str, where: str) -> str | None:
    return None if d.get(key) is None else value_id(d, key, where)


def opt_nanos(d: dict[str, Any], key: str, where: str) -> int | None:
    """A TimeInfo/DurationInfo ``{"nanoseconds": n}``."""
    inner = opt_obj(d, key, where)
    return None if inner is None else integer(inner, "nanoseconds", f"{where}.{key}")


def opt_bytes(d: dict[str, Any], key: str, where: str) -> bytes | None:
    encoded = opt_text(d, key, where)
    if encoded is None:
        return None
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise PayloadError(f"{where}.{key}: not valid base64 ({exc})") from exc
