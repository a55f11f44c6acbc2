"""The master's routes, leading or following.

libprocess answers the same endpoint under the master's own prefix and un-prefixed, so
/api/v1/scheduler and /master/api/v1/scheduler, /state and /master/state are one thing.
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


def make_router(master: Master) -> Router:
    router = Router()
    if master.config.leader is not None:
        _follower_routes(router, master)
        return router
    for prefix in ("", "/master"):
        router.add(f"{prefix}/api/v1/scheduler", partial(scheduler_api, master))
        router.add(f"{prefix}/api/v1", partial(operator_api, master))
        for name, handler in _LEGACY.items():
            router.add(f"{prefix}/{name}", partial(_get, handler, master))
    for path, handler in _TOP_LEVEL.items():
        router.add(path, partial(_get, handler, master))
    faults.add_routes(router, master)
    return router


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
        return redirect(redirect_location(leader, request.path_qs))

    def who_leads(request: Request) -> Response:
        return redirect(redirect_location(leader))

    for prefix in ("", "/master"):
        router.add(f"{prefix}/health", partial(legacy.health, master))
        router.add(f"{prefix}/redirect", who_leads)
    router.add("/version", partial(legacy.version, master))
    router.add("/{tail:.*}", to_leader)
