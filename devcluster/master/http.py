"""HTTP helpers shared by the master's endpoints: the master's status codes and bodies."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from devcluster.master.mesosjson import dumps
from devcluster.master.validation import HttpError

if TYPE_CHECKING:
    from devcluster.master.master import Master

MASTER_KEY: web.AppKey[Master] = web.AppKey("master")

JSON_TYPES = ("application/json", "application/x-protobuf")


def accepted() -> web.Response:
    """202 with an empty body and no Content-Type, like every accepted call."""
    return web.Response(status=202)


def text_error(error: HttpError) -> web.Response:
    response = web.Response(
        status=error.status, text=error.text, content_type="text/plain", charset="utf-8"
    )
    response.headers.update(error.headers)
    return response


def json_response(body: Any, status: int = 200, jsonp: str | None = None) -> web.Response:
    text = dumps(body)
    if jsonp:
        return web.Response(status=status, text=f"{jsonp}({text});", content_type="text/javascript")
    # Bytes, so that the header is exactly "application/json", with no charset.
    return web.Response(status=status, body=text.encode(), content_type="application/json")


def check_method(request: web.Request, *allowed: str) -> None:
    if request.method not in allowed:
        expected = ", ".join(f"'{m}'" for m in allowed)
        raise HttpError(
            405,
            f"405 Method Not Allowed. Expecting one of {{ {expected} }}, "
            f"but received '{request.method}'.",
        )


def check_content_type(request: web.Request) -> None:
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


def require_master(request: web.Request) -> Master:
    return request.app[MASTER_KEY]
