"""HTTP helpers shared by the master's endpoints: the master's status codes and bodies."""

from __future__ import annotations

from typing import Any

from devcluster.master.httpserver import Request, Response
from devcluster.master.mesosjson import dumps
from devcluster.master.validation import HttpError

JSON_TYPES = ("application/json", "application/x-protobuf")
_ACCEPTED = Response(202)


def accepted() -> Response:
    """202 with an empty body and no Content-Type, like every accepted call."""
    return _ACCEPTED


def text_error(error: HttpError) -> Response:
    headers = {"Content-Type": "text/plain; charset=utf-8", **error.headers}
    return Response(error.status, error.text.encode(), headers)


def json_response(body: Any, status: int = 200, jsonp: str | None = None) -> Response:
    text = dumps(body)
    if jsonp:
        return Response(status, f"{jsonp}({text});".encode(), {"Content-Type": "text/javascript"})
    return Response(status, text.encode(), {"Content-Type": "application/json"})


def check_method(request: Request, *allowed: str) -> None:
    if request.method not in allowed:
        expected = ", ".join(f"'{m}'" for m in allowed)
        raise HttpError(
            405,
            f"405 Method Not Allowed. Expecting one of {{ {expected} }}, "
            f"but received '{request.method}'.",
        )


def check_content_type(request: Request) -> None:
    """Content-Type is compared as an exact string; devcluster reads only JSON."""
    content_type = request.headers.get("Content-Type")
    if content_type is None:
        raise HttpError(400, "Expecting 'Content-Type' to be present")
    if content_type not in JSON_TYPES:
        raise HttpError(
            415, "Expecting 'Content-Type' of application/json or application/x-protobuf"
        )
    if content_type != "application/json":
        raise HttpError(
            415, "devcluster speaks JSON only: expecting 'Content-Type' of application/json"
        )


def json_acceptable(accept: str | None) -> bool:
    """A missing Accept means anything; otherwise JSON must be allowed by some range."""
    if accept is None or not accept.strip():
        return True
    for item in accept.split(","):
        media, *params = (part.strip() for part in item.split(";"))
        quality = next((p[2:] for p in params if p.startswith("q=")), "1")
        try:
            if float(quality) <= 0:
                continue
        except ValueError:
            continue
        if media in ("application/json", "application/*", "*/*"):
            return True
    return False


def redirect_location(leader: str, path: str = "") -> str:
    """The protocol-relative Location a non-leading master answers with."""
    host = leader.split("://", 1)[-1].rstrip("/")
    return f"//{host}{path}"


def redirect(location: str) -> Response:
    return Response(307, b"", {"Location": location})
