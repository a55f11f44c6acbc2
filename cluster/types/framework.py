"""FrameworkInfo: who Berth says it is when it subscribes."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

# A week: a framework restart or a master failover must never take tasks down with it.
DEFAULT_FAILOVER_TIMEOUT_SECONDS = 7 * 24 * 3600.0

DEFAULT_CAPABILITIES = ("MULTI_ROLE", "TASK_KILLING_STATE", "PARTITION_AWARE")


@dataclass(frozen=True, slots=True)
class FrameworkInfo:
    user: str
    name: str
    id: str | None = None  # None only before the first SUBSCRIBED
    roles: tuple[str, ...] = ("*",)
    capabilities: tuple[str, ...] = DEFAULT_CAPABILITIES
    failover_timeout: float = DEFAULT_FAILOVER_TIMEOUT_SECONDS
    checkpoint: bool = True
    hostname: str | None = None
    webui_url: str | None = None
    principal: str | None = None
    labels: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def with_id(self, framework_id: str) -> FrameworkInfo:
        return dataclasses.replace(self, id=framework_id)

    @property
    def multi_role(self) -> bool:
        return "MULTI_ROLE" in self.capabilities
