"""What one engine needs to know: which cluster, as whom, and how patient to be."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from cluster.client.http import HttpOptions, normalize_base_url
from cluster.types import DEFAULT_FAILOVER_TIMEOUT_SECONDS, FrameworkInfo


def cluster_key_for(master_urls: Iterable[str]) -> str:
    """One Mesos cluster, however its masters are listed: normalised, sorted, joined.

    Environments that name the same masters (in any order, with or without a scheme or a
    trailing slash) share one subscription and tell their tasks apart by role.
    """
    urls = sorted({normalize_base_url(url) for url in master_urls if url.strip()})
    if not urls:
        raise ValueError("an environment needs at least one master URL")
    return ",".join(urls)


@dataclass(frozen=True, slots=True)
class ClusterConfig:
    """One subscription: the masters of a cluster and the roles of its environments."""

    key: str
    masters: tuple[str, ...]
    roles: tuple[str, ...]
    principal: str | None = None
    secret: str | None = field(default=None, repr=False)
    ca_bundle: str | None = field(default=None, repr=False)

    def http_options(self, *, request_timeout: float = 75.0) -> HttpOptions:
        return HttpOptions(
            principal=self.principal,
            secret=self.secret,
            ca_bundle=self.ca_bundle,
            request_timeout=request_timeout,
        )

    def same_connection(self, other: ClusterConfig) -> bool:
        """False when a new subscription is needed (masters or credentials changed);
        a change of roles alone is an UPDATE_FRAMEWORK."""
        return (self.masters, self.principal, self.secret, self.ca_bundle) == (
            other.masters,
            other.principal,
            other.secret,
            other.ca_bundle,
        )


@dataclass(frozen=True, slots=True)
class EngineOptions:
    """Timings and sizes; the defaults suit production, tests shorten them."""

    user: str = "root"
    name: str = "berth"
    hostname: str | None = None
    webui_url: str | None = None
    failover_timeout: float = DEFAULT_FAILOVER_TIMEOUT_SECONDS
    # How often the loop looks for new work, kills and due timers when no event arrives.
    poll_seconds: float = 0.5
    # DECLINE filters: short while some task of the role still waits (resources may free
    # up), long when nothing is pending (REVIVE clears them when work appears).
    refuse_seconds: float = 5.0
    idle_refuse_seconds: float = 120.0
    revive_min_interval: float = 1.0
    # Tasks considered per offer round, and launched at most: bounds a round's latency (and
    # the time updates wait behind it); the rest go with the next offers.
    pending_batch: int = 20_000
    max_launches_per_round: int = 1_000
    min_launches_per_round: int = 50
    # Offers in hand to every one answered: launches per round are limited to what fits in
    # this, at the cost per launch measured so far (the database write dominates it).
    round_budget: float = 0.030
    # After a round that left tasks which fit for later, REVIVE at most this often to get
    # the next offers at once: each REVIVE makes the master offer every agent again.
    more_offers_interval: float = 0.25
    kill_retry_seconds: float = 30.0
    # A LAUNCHING task with no update after this long is reconciled.
    launch_timeout: float = 60.0
    reconcile_retry_seconds: float = 5.0
    reconcile_retry_cap: float = 120.0
    reconcile_chunk: int = 2_000
    implicit_reconcile_seconds: float = 900.0
    metrics_seconds: float = 5.0
    why_not_seconds: float = 5.0
    heartbeat_misses: float = 5.0
    backoff_base: float = 0.5
    backoff_cap: float = 15.0
    request_timeout: float = 75.0

    def framework_info(self, config: ClusterConfig, framework_id: str | None) -> FrameworkInfo:
        return FrameworkInfo(
            user=self.user,
            name=self.name,
            id=framework_id,
            roles=config.roles,
            failover_timeout=self.failover_timeout,
            checkpoint=True,
            hostname=self.hostname,
            webui_url=self.webui_url,
            principal=config.principal,
        )
