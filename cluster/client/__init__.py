"""Mesos HTTP transport: the scheduler stream and calls, the operator API, agent files.

Sends and streams only; what to launch, kill or reconcile is decided elsewhere.
"""

from __future__ import annotations

from cluster.client.agent import PAGE_BYTES, AgentClient, sandbox_path
from cluster.client.errors import (
    ConnectionClosed,
    InvalidResponse,
    MesosError,
    MesosHttpError,
    MesosUnreachable,
    NotSubscribed,
    SandboxFileNotFound,
    StreamEnded,
    SubscribeRejected,
    TooManyRedirects,
)
from cluster.client.http import HttpOptions
from cluster.client.operator import OperatorClient
from cluster.client.scheduler import SchedulerConnection

__all__ = [
    "PAGE_BYTES",
    "AgentClient",
    "ConnectionClosed",
    "HttpOptions",
    "InvalidResponse",
    "MesosError",
    "MesosHttpError",
    "MesosUnreachable",
    "NotSubscribed",
    "OperatorClient",
    "SandboxFileNotFound",
    "SchedulerConnection",
    "StreamEnded",
    "SubscribeRejected",
    "TooManyRedirects",
    "sandbox_path",
]
