"""The agents' HTTP endpoints.

Every agent of an event loop shares ONE aiohttp application and runner; each agent
has its own listening socket on its own address, and a request is routed to the agent
that owns the socket it arrived on. A thousand simulated agents thus cost a thousand
sockets and a dict entry each, not a thousand applications, while every agent keeps
its own reachable URL (http://127.x.y.z:port) as Mesos agents have. With TLS every
agent's socket serves HTTPS; with authentication a request is checked in its endpoint's
realm (devcluster.security) before the agent's handler runs.
"""

from __future__ import annotations

import asyncio
import json
import socket
import weakref
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from devcluster.security import (
    AGENT_READONLY_REALM,
    AGENT_READWRITE_REALM,
    UNAUTHORIZED_BODY,
    challenge,
)

if TYPE_CHECKING:
    from devcluster.agent.agent import Agent

Handler = Callable[["Agent", web.Request], Awaitable[web.StreamResponse]]


class AgentNotFound(Exception):
    pass


class SharedServer:
    def __init__(self) -> None:
        self.app = web.Application()
        self.runner = web.AppRunner(self.app, handle_signals=False, access_log=None)
        self.agents: dict[tuple[str, int], Agent] = {}
        self.sites: dict[int, web.SockSite] = {}
        self._ready = False
        # Agents usually start together (asyncio.gather); only the first sets the app up.
        self._setup_lock = asyncio.Lock()

    async def add(self, agent: Agent, host: str, port: int) -> int:
        async with self._setup_lock:
            if not self._ready:
                _add_routes(self.app)
                await self.runner.setup()
                self._ready = True
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            sock.close()
            raise
        site = web.SockSite(self.runner, sock, backlog=512, ssl_context=agent.config.security.tls)
        await site.start()
        bound_host, bound_port = sock.getsockname()[:2]
        self.agents[(bound_host, bound_port)] = agent
        self.sites[id(agent)] = site
        return int(bound_port)

    async def remove(self, agent: Agent) -> bool:
        """Stop the agent's socket; True when no agent is left on this server."""
        site = self.sites.pop(id(agent), None)
        for key, owner in list(self.agents.items()):
            if owner is agent:
                del self.agents[key]
        if site is not None:
            await site.stop()
        if not self.agents:
            await self.runner.cleanup()
            return True
        return False

    def agent_for(self, request: web.Request) -> Agent:
        transport = request.transport
        sockname = transport.get_extra_info("sockname") if transport is not None else None
        agent = self.agents.get(tuple(sockname[:2])) if sockname else None
        if agent is None:
            raise AgentNotFound
        return agent


_servers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, SharedServer] = (
    weakref.WeakKeyDictionary()
)


async def serve(agent: Agent, host: str, port: int) -> int:
    loop = asyncio.get_running_loop()
    server = _servers.get(loop)
    if server is None:
        server = _servers[loop] = SharedServer()
    return await server.add(agent, host, port)


async def unserve(agent: Agent) -> None:
    loop = asyncio.get_running_loop()
    server = _servers.get(loop)
    if server is not None and await server.remove(agent):
        del _servers[loop]


def json_response(request: web.Request, body: Any, status: int = 200) -> web.Response:
    """Compact JSON like Mesos; `?jsonp=cb` wraps it, as every Mesos JSON GET allows."""
    text = json.dumps(body, separators=(",", ":"))
    callback = request.query.get("jsonp")
    if callback:
        text = f"{callback}({text});"
    # Bytes, so that aiohttp adds no charset: Mesos says exactly "application/json".
    kind = "text/javascript" if callback else "application/json"
    return web.Response(body=text.encode(), status=status, content_type=kind)


def text_response(text: str, status: int) -> web.Response:
    return web.Response(text=text, status=status, content_type="text/plain", charset="utf-8")


def _bind(
    handler: Handler, realm: str | None
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def route(request: web.Request) -> web.StreamResponse:
        server = _servers[asyncio.get_running_loop()]
        try:
            agent = server.agent_for(request)
        except AgentNotFound:
            return text_response("This agent has stopped.\n", 503)
        security = agent.config.security
        if (
            security.enforced(realm)
            and security.principal_of(request.headers.get("Authorization")) is None
        ):
            assert realm is not None
            return web.Response(
                text=UNAUTHORIZED_BODY,
                status=401,
                content_type="text/plain",
                charset="utf-8",
                headers=challenge(realm),
            )
        return await handler(agent, request)

    return route


def _add_routes(app: web.Application) -> None:
    from devcluster.agent import files, operator, views

    gets: dict[str, Handler] = {
        "/state": views.state,
        "/state.json": views.state,
        "/flags": views.flags,
        "/health": views.health,
        "/version": views.version,
        "/metrics/snapshot": views.metrics_snapshot,
        "/monitor/statistics": views.monitor_statistics,
        "/monitor/statistics.json": views.monitor_statistics,
        "/files/browse": files.browse,
        "/files/browse.json": files.browse,
        "/files/read": files.read,
        "/files/read.json": files.read,
        "/files/download": files.download,
        "/files/download.json": files.download,
        "/files/debug": files.debug,
        "/files/debug.json": files.debug,
    }
    for path, handler in gets.items():
        realm = None if path in ("/health", "/version") else AGENT_READONLY_REALM
        app.router.add_get(path, _bind(handler, realm))
        if not path.startswith(("/files", "/monitor", "/metrics", "/version")):
            # The agent process is slave(1); libprocess also serves its endpoints there.
            app.router.add_get(f"/slave(1){path}", _bind(handler, realm))
    for path in ("/api/v1", "/slave(1)/api/v1"):
        app.router.add_route("*", path, _bind(operator.api_v1, AGENT_READWRITE_REALM))
