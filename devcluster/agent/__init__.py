"""Devcluster agents: what the master drives through devcluster.interfaces.AgentApi.

An agent runs each task's command as a real process in a Mesos-style sandbox (through
`docker run` when a Docker engine answers), or, when simulated, only pretends to: the
same updates, timers instead of processes. Every agent keeps one ordered, acknowledged
update stream per task, like Mesos's status update manager.

All agents of an event loop share one aiohttp application; each still binds its own
address (http://<hostname>:<port>), so a thousand simulated agents cost a thousand
listening sockets, not a thousand web applications.

Simulated tasks read these labels: devcluster.duration (seconds, or inf),
devcluster.outcome (FINISHED, FAILED, KILLED, LOST, ERROR...), devcluster.exit_code,
devcluster.ignore_sigterm=true and devcluster.healthy=false.
"""

from __future__ import annotations

from devcluster.agent.agent import Agent

__all__ = ["Agent"]
