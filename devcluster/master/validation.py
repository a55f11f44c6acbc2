"""Request parsing and the master's validation rules, with the real master's error texts."""

from __future__ import annotations

import json
from typing import Any

from devcluster.interfaces import Json
from devcluster.master import convert
from devcluster.master.mesosjson import value_of

# Calls whose body field must be present (SUBSCRIBE is checked separately).
_BODY_REQUIRED = {
    "ACCEPT": "accept",
    "DECLINE": "decline",
    "ACCEPT_INVERSE_OFFERS": "accept_inverse_offers",
    "DECLINE_INVERSE_OFFERS": "decline_inverse_offers",
    "KILL": "kill",
    "SHUTDOWN": "shutdown",
    "ACKNOWLEDGE": "acknowledge",
    "ACKNOWLEDGE_OPERATION_STATUS": "acknowledge_operation_status",
    "RECONCILE": "reconcile",
    "RECONCILE_OPERATIONS": "reconcile_operations",
    "MESSAGE": "message",
    "REQUEST": "request",
    "UPDATE_FRAMEWORK": "update_framework",
}


class HttpError(Exception):
    """An HTTP error answered as text/plain, the way the master answers every error."""

    def __init__(self, status: int, text: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(text)
        self.status = status
        self.text = text
        self.headers = headers or {}


def parse_body(body: bytes, message: str, *, strict: bool, label: str = "Call") -> Json:
    """Decode a JSON call body into `message`, or raise the master's 400."""
    try:
        data = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise HttpError(400, "Failed to parse body into JSON: invalid UTF-8") from None
    except json.JSONDecodeError as error:
        rest = error.doc[error.pos :].split("\n", 1)[0]
        text = f"Failed to parse body into JSON: syntax error at line {error.lineno} near: {rest}"
        raise HttpError(400, text) from None
    prefix = f"Failed to convert JSON into {label} protobuf: "
    if not isinstance(data, dict):
        raise HttpError(400, prefix + "Expecting a JSON object")
    try:
        findings = convert.read(message, data, strict=strict)
    except convert.ConversionError as error:
        raise HttpError(400, prefix + str(error)) from None
    if strict and findings.unknown:
        unknown = ", ".join(findings.unknown)
        raise HttpError(400, prefix + f"unknown fields (devcluster --strict): {unknown}")
    return data


def validate_scheduler_call(call: Json, principal: str | None = None) -> str | None:
    """scheduler::call::validate: None when the call is well formed. `principal` is the
    authenticated one, when the scheduler API authenticates."""
    kind = call.get("type")
    if kind is None:
        return "Expecting 'type' to be present"
    if kind == "SUBSCRIBE":
        subscribe = call.get("subscribe")
        if subscribe is None:
            return "Expecting 'subscribe' to be present"
        info = subscribe["framework_info"]
        if value_of(info.get("id")) != value_of(call.get("framework_id")):
            return "'framework_id' differs from 'subscribe.framework_info.id'"
        if principal is not None and "principal" in info and info["principal"] != principal:
            return principal_mismatch(principal, info["principal"])
        return None
    if "framework_id" not in call:
        return "Expecting 'framework_id' to be present"
    body = _BODY_REQUIRED.get(kind)
    if body is not None and body not in call:
        return f"Expecting '{body}' to be present"
    if kind == "ACKNOWLEDGE":
        return _valid_uuid(call["acknowledge"]["uuid"])
    if kind == "ACKNOWLEDGE_OPERATION_STATUS":
        return _valid_uuid(call["acknowledge_operation_status"]["uuid"])
    if kind == "UPDATE_FRAMEWORK":
        info_id = value_of(call["update_framework"]["framework_info"].get("id"))
        if info_id != value_of(call["framework_id"]):
            return "'framework_id' differs from 'update_framework.framework_info.id'"
    return None


def principal_mismatch(authenticated: str, declared: str) -> str:
    return (
        f"Authenticated principal '{authenticated}' does not match principal '{declared}' "
        "set in `FrameworkInfo`"
    )


def _valid_uuid(text: str) -> str | None:
    return None if len(convert.decode_bytes(text)) == 16 else "Not a valid UUID"


def validate_id(value: str) -> str | None:
    """common::validation::validateID, used for task and executor ids."""
    if not value:
        return "ID must not be empty"
    if len(value) > 255:
        return "ID must not be greater than 255 characters"
    if value in {".", ".."}:
        return f"'{value}' is disallowed"
    if any(c in "/\\" or ord(c) < 32 or ord(c) == 127 for c in value):
        return f"'{value}' contains invalid characters"
    return None


def validate_role(role: str) -> str | None:
    """roles::validate, for framework roles and --reserve."""
    if not role:
        return "Empty role name is invalid"
    if role == "*":
        return None
    for part in role.split("/"):
        if part in {"", ".", ".."}:
            return f"Role '{role}' cannot include '{part or '//'}' as a path component"
        if part.startswith("-"):
            return f"Role '{role}' cannot start with '-'"
    if any(c.isspace() or c == "\\" or ord(c) < 32 for c in role):
        return f"Role '{role}' cannot include whitespace, '\\' or control characters"
    return None


def capabilities(info: Json) -> set[str]:
    return {c["type"] for c in info.get("capabilities", []) if isinstance(c, dict) and "type" in c}


def validate_framework_info(info: Json, suppressed: list[str]) -> str | None:
    """The checks that turn a SUBSCRIBE into 200 + ERROR rather than a 4xx."""
    multi_role = "MULTI_ROLE" in capabilities(info)
    if multi_role and "role" in info:
        return "'FrameworkInfo.role' must not be set when the framework is MULTI_ROLE capable"
    if not multi_role and info.get("roles"):
        return "'FrameworkInfo.roles' must not be set when the framework is not MULTI_ROLE capable"
    roles = framework_roles(info)
    if len(set(roles)) != len(roles):
        return "'FrameworkInfo.roles' contains duplicate items"
    for role in roles:
        error = validate_role(role)
        if error is not None:
            return error
    for role in suppressed:
        if role not in roles:
            return f"Suppressed role '{role}' is not contained in the list of roles"
    return None


def framework_roles(info: Json) -> list[str]:
    if "MULTI_ROLE" in capabilities(info):
        return list(info.get("roles", []))
    return [info.get("role", "*")]


def first_error(*checks: Any) -> str | None:
    return next((c for c in checks if c is not None), None)
