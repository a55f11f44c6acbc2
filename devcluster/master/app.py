"""The master's routes, leading or following.

libprocess answers the same endpoint under the master's own prefix and un-prefixed, so
/api/v1/scheduler and /master/api/v1/scheduler, /state and /master/state are one thing.
It also authenticates a request in the endpoint's realm before the endpoint sees it, so a
401 comes before any 405, 400 or 307.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from devcluster.master import faults, legacy
from devcluster.master.http import check_method, redirect, redirect_location, text_error
from devcluster.master.httpserver import Request, Response, Result, Router
from devcluster.master.master import Master
from devcluster.master.operator import operator_api
from devcluster.master.scheduler import scheduler_api
from devcluster.master.validation import HttpError
from devcluster.security import (
    MASTER_READONLY_REALM,
    MASTER_READWRITE_REALM,
    SCHEDULER_REALM,
    UNAUTHORIZED_BODY,
    HttpSecurity,
    challenge,
)

Handler = Callable[[Master, Request], Result]

_LEGACY: dict[str, Handler] = {
    "state": legacy.state,
    "state-summary": legacy.state_summary,
    "frameworks": legacy.frameworks,
    "slaves": legacy.slaves,
    "tasks": legacy.tasks,
    "roles": legacy.roles,
    "health": legacy.health,
    "redirect": legacy.redirect,
}
_TOP_LEVEL: dict[str, Handler] = {
    "/metrics/snapshot": legacy.metrics_snapshot,
    "/version": legacy.version,
    "/files/debug": legacy.files_debug,
}
# Endpoints not named here (/health, /redirect, /version, the fault controls) are open.
_REALMS = {
    "/api/v1/scheduler": SCHEDULER_REALM,
    "/api/v1": MASTER_READWRITE_REALM,
    "/metrics/snapshot": MASTER_READONLY_REALM,
    "/files/debug": MASTER_READONLY_REALM,
    **{f"/{name}": MASTER_READONLY_REALM for name in _LEGACY if name not in {"health", "redirect"}},
}


def realm_for(path: str) -> str | None:
    realm = _REALMS.get(path)
    if realm is None and path.startswith("/master/"):
        realm = _REALMS.get(path.removeprefix("/master"))
    return realm


def make_router(master: Master) -> Router:
    router = Router()
    if master.config.leader is not None:
        _follower_routes(router, master)
        return router
    routes: dict[str, Callable[[Request], Result]] = {}
    for prefix in ("", "/master"):
        routes[f"{prefix}/api/v1/scheduler"] = partial(scheduler_api, master)
        routes[f"{prefix}/api/v1"] = partial(operator_api, master)
        for name, handler in _LEGACY.items():
            routes[f"{prefix}/{name}"] = partial(_get, handler, master)
    for path, handler in _TOP_LEVEL.items():
        routes[path] = partial(_get, handler, master)
    security = master.config.security
    for path, route in routes.items():
        # Unenforced realms keep the bare handler: no cost when authentication is off.
        guarded = security.enforced(realm_for(path))
        router.add(path, partial(_guarded, security, route) if guarded else route)
    faults.add_routes(router, master)
    return router


def unauthorized(security: HttpSecurity, request: Request) -> Response | None:
    """A 401 when the request's realm is enforced and its credentials fail, else None
    (with request.principal set when they passed)."""
    realm = realm_for(request.path)
    if not security.enforced(realm):
        return None
    assert realm is not None
    request.principal = security.principal_of(request.headers.get("Authorization"))
    if request.principal is not None:
        return None
    headers = {"Content-Type": "text/plain; charset=utf-8", **challenge(realm)}
    return Response(401, UNAUTHORIZED_BODY.encode(), headers)


def _guarded(
    security: HttpSecurity, route: Callable[[Request], Result], request: Request
) -> Result:
    refused = unauthorized(security, request)
    return refused if refused is not None else route(request)


def _get(handler: Handler, master: Master, request: Request) -> Result:
    try:
        check_method(request, "GET")
    except HttpError as error:
        return text_error(error)
    return handler(master, request)


def _follower_routes(router: Router, master: Master) -> None:
    """A non-leading master: 307 to the leader for everything but its own health."""
    leader = master.config.leader or ""

    def to_leader(request: Request) -> Response:
        refused = unauthorized(master.config.security, request)
        if refused is not None:
            return refused
        return redirect(redirect_location(leader, request.path_qs))

    def who_leads(request: Request) -> Response:
        return redirect(redirect_location(leader))

    for prefix in ("", "/master"):
        router.add(f"{prefix}/health", partial(legacy.health, master))
        router.add(f"{prefix}/redirect", who_leads)
    router.add("/version", partial(legacy.version, master))
    router.add("/{tail:.*}", to_leader)
