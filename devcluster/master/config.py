"""What the master is told on the command line."""

from __future__ import annotations

from dataclasses import dataclass, field

from devcluster.security import HttpSecurity

VERSION = "1.12.0"
BUILD_DATE = "2026-01-01 00:00:00"
BUILD_TIME = 1767225600.0


@dataclass
class MasterConfig:
    master_id: str
    host: str = "127.0.0.1"
    port: int = 5050
    heartbeat_interval: float = 15.0
    refuse_seconds: float = 5.0
    allocation_interval: float = 1.0
    agent_reregister_timeout: float = 600.0
    strict: bool = False
    leader: str | None = None
    security: HttpSecurity = field(default_factory=HttpSecurity)
