"""One devcluster process: the master's HTTP server plus its in-process agents."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass, field

from devcluster.interfaces import AgentApi, AgentConfig, StatusSink
from devcluster.master import agents
from devcluster.master.app import make_router
from devcluster.master.config import MasterConfig
from devcluster.master.httpserver import serve
from devcluster.master.master import Master

log = logging.getLogger(__name__)

AgentFactory = Callable[[AgentConfig, StatusSink], AgentApi]


@dataclass
class Runtime:
    config: MasterConfig
    agent_configs: list[AgentConfig] = field(default_factory=list)
    agent_factory: AgentFactory | None = None
    master: Master = field(init=False)
    agents: list[AgentApi] = field(default_factory=list)
    _server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"{self.config.security.scheme}://{self.config.host}:{self.config.port}"

    async def start(self) -> None:
        self.master = Master(self.config)
        sock = _bind(self.config.host, self.config.port)
        self.config.port = sock.getsockname()[1]
        self._server = await serve(make_router(self.master), sock, self.config.security.tls)
        if self.config.leader is None:
            await self._start_agents()
            self.master.allocator.start()

    async def _start_agents(self) -> None:
        factory = self.agent_factory or _default_factory()
        self.agents = [factory(config, self.master) for config in self.agent_configs]
        # Start in batches: thousands of simulated agents each bind a listening socket.
        for begin in range(0, len(self.agents), 256):
            await asyncio.gather(*(a.start() for a in self.agents[begin : begin + 256]))
        for agent in self.agents:
            agents.register(self.master, agent)

    async def stop(self) -> None:
        master = self.master
        master.allocator.stop()
        for framework in list(master.frameworks.values()):
            for timer in (framework.heartbeat_timer, framework.failover_timer):
                if timer is not None:
                    timer.cancel()
            if framework.stream is not None:
                framework.stream.on_lost = None
                framework.stream.close()
        await asyncio.gather(*(a.stop() for a in self.agents), return_exceptions=True)
        if self._server is not None:
            self._server.close()
            # Let the final chunks of closed streams go out before the loop ends.
            await asyncio.sleep(0.05)


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


def _default_factory() -> AgentFactory:
    from devcluster.agent import Agent

    return Agent
