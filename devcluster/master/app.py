"""The master's HTTP application: every route, leading or following.

libprocess answers the same endpoint under the master's own prefix and un-prefixed, so
/api/v1/scheduler and /master/api/v1/scheduler, /state and /master/state are one thing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from devcluster.master import faults, legacy
from devcluster.master.http import MASTER_KEY, redirect_location
from devcluster.master.master import Master
from devcluster.master.operator import operator_api
from devcluster.master.scheduler import scheduler_api

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

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


def make_app(master: Master) -> web.Application:
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app[MASTER_KEY] = master
    if master.config.leader is not None:
        _follower_routes(app, master.config.leader)
        return app
    for prefix in ("", "/master"):
        app.router.add_route("*", f"{prefix}/api/v1/scheduler", scheduler_api)
        app.router.add_route("*", f"{prefix}/api/v1", operator_api)
        for name, handler in _LEGACY.items():
            app.router.add_get(f"{prefix}/{name}", handler)
    app.router.add_get("/metrics/snapshot", legacy.metrics_snapshot)
    app.router.add_get("/version", legacy.version)
    app.router.add_get("/files/debug", legacy.files_debug)
    faults.add_routes(app)
    return app


def _follower_routes(app: web.Application, leader: str) -> None:
    """A non-leading master: 307 to the leader for everything but its own health."""

    async def to_leader(request: web.Request) -> web.Response:
        location = redirect_location(leader, request.path_qs)
        return web.Response(status=307, headers={"Location": location})

    async def who_leads(request: web.Request) -> web.Response:
        return web.Response(status=307, headers={"Location": redirect_location(leader)})

    for prefix in ("", "/master"):
        app.router.add_get(f"{prefix}/health", legacy.health)
        app.router.add_get(f"{prefix}/redirect", who_leads)
    app.router.add_get("/version", legacy.version)
    app.router.add_route("*", "/{tail:.*}", to_leader)
