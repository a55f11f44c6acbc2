"""The Mesos clusters Berth's environments run on: the framework's connection as it last
recorded it, and the agents read live from the master through the operator API.

Pages poll every 2 s and several people may have them open, so a master is asked at most
once per AGENTS_CACHE_SECONDS per cluster, with a short timeout: a cluster page must stay
quick when the master is slow or gone, and say so instead of failing.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.cache import cache
from django.utils import timezone

from cluster.client import HttpOptions, MesosError, MesosUnreachable, OperatorClient
from cluster.client.http import normalize_base_url
from cluster.models import FrameworkRecord
from cluster.states import Badge
from cluster.types import AgentSummary
from portal import config, crypto
from portal.models import Environment
from portal.templatetags.berth import cpus, duration, mb

logger = logging.getLogger(__name__)

AGENTS_CACHE_SECONDS = 3
MASTER_CONNECT_TIMEOUT = 1.0
MASTER_READ_TIMEOUT = 2.0
# Mesos heartbeats every 15 s; a record that says "connected" but has heard nothing for four
# of them was most likely left behind by a framework process that died without a goodbye.
HEARTBEAT_STALE = timedelta(seconds=60)
AGENTS_SHOWN = 200
START_HINT = "./berth up"


@dataclass(frozen=True)
class Usage:
    used: float
    total: float

    @property
    def ratio(self) -> float:
        return min(self.used / self.total, 1.0) if self.total > 0 else 0.0

    @property
    def percent(self) -> int:
        return round(self.ratio * 100)

    # A <meter> is green up to `low`, amber up to `high`, red past it: by 90% allocated the
    # allocator rarely fits one more task of ordinary size.
    @property
    def low(self) -> float:
        return self.total * 0.7

    @property
    def high(self) -> float:
        return self.total * 0.9

    @property
    def cpus_text(self) -> str:
        """'0.5 / 2 cpus': Mesos keeps three decimals, trailing zeros only add noise."""
        return f"{self.used:,.3f}".rstrip("0").rstrip(".") + f" / {cpus(self.total)}"

    def __add__(self, other: Usage) -> Usage:
        return Usage(self.used + other.used, self.total + other.total)


ZERO = Usage(0.0, 0.0)


@dataclass(frozen=True)
class AgentView:
    agent_id: str
    hostname: str
    active: bool
    cpus: Usage
    mem: Usage
    disk: Usage
    attributes: tuple[str, ...]


def agent_view(agent: AgentSummary) -> AgentView:
    total, allocated = agent.total, agent.allocated
    return AgentView(
        agent_id=agent.agent_id,
        hostname=agent.hostname,
        active=agent.active,
        cpus=Usage(allocated.cpus, total.cpus),
        mem=Usage(allocated.mem, total.mem),
        disk=Usage(allocated.disk, total.disk),
        attributes=tuple(f"{a.name}:{a.value_text}" for a in agent.attributes),
    )


@dataclass(frozen=True)
class AgentsSnapshot:
    """What one master said of its agents, or why it could not be asked."""

    master_urls: tuple[str, ...]
    agents: tuple[AgentView, ...] = ()
    error: str = ""
    fetched_at: datetime = field(default_factory=timezone.now)

    @property
    def reachable(self) -> bool:
        return not self.error

    @property
    def shown(self) -> tuple[AgentView, ...]:
        return self.agents[:AGENTS_SHOWN]

    @property
    def hidden_count(self) -> int:
        return max(len(self.agents) - AGENTS_SHOWN, 0)

    def total(self, resource: str) -> Usage:
        return sum((getattr(a, resource) for a in self.agents), ZERO)

    @property
    def cpus(self) -> Usage:
        return self.total("cpus")

    @property
    def mem(self) -> Usage:
        return self.total("mem")

    @property
    def disk(self) -> Usage:
        return self.total("disk")

    @property
    def active_count(self) -> int:
        return sum(1 for agent in self.agents if agent.active)


def _problem(error: Exception) -> str:
    if isinstance(error, MesosUnreachable):
        return f"{type(error.cause).__name__}: {error.cause}"
    return str(error)


def _fetch_agents(master_urls: tuple[str, ...], options: HttpOptions) -> AgentsSnapshot:
    try:
        with OperatorClient(master_urls, options=options) as client:
            agents = client.get_agents()
    except (MesosError, ValueError) as error:
        logger.info("cannot read agents from %s: %s", ", ".join(master_urls), error)
        return AgentsSnapshot(master_urls, error=_problem(error))
    views = sorted((agent_view(a) for a in agents), key=lambda a: (a.hostname, a.agent_id))
    return AgentsSnapshot(master_urls, agents=tuple(views))


def _cache_key(master_urls: Sequence[str]) -> str:
    digest = hashlib.sha256("\n".join(master_urls).encode()).hexdigest()[:32]
    return f"berth:cluster:agents:{digest}"


def agents_snapshot(
    master_urls: Sequence[str], options: HttpOptions | None = None
) -> AgentsSnapshot:
    """The agents, from the cache when a recent answer (or failure) is there."""
    key = _cache_key(master_urls)
    cached = cache.get(key)
    if isinstance(cached, AgentsSnapshot):
        return cached
    options = options or HttpOptions(
        connect_timeout=MASTER_CONNECT_TIMEOUT, request_timeout=MASTER_READ_TIMEOUT
    )
    snapshot = _fetch_agents(tuple(master_urls), options)
    # Failures are cached too: a dead master must not cost every poll a connect timeout.
    cache.set(key, snapshot, AGENTS_CACHE_SECONDS)
    return snapshot


def _options_for(environments: Iterable[Environment]) -> HttpOptions:
    """Credentials and CA bundle of the first environment on the cluster that has them."""
    principal = secret = ca_bundle = None
    for environment in environments:
        ca_bundle = ca_bundle or environment.mesos_ca_bundle or None
        if principal is None:
            try:
                credentials = config.mesos_credentials(environment)
            except crypto.KeyRingError:
                logger.warning("cannot decrypt the Mesos secret of %s", environment.slug)
                credentials = None
            if credentials is not None:
                principal, secret = credentials
    return HttpOptions(
        principal=principal,
        secret=secret,
        ca_bundle=ca_bundle,
        connect_timeout=MASTER_CONNECT_TIMEOUT,
        request_timeout=MASTER_READ_TIMEOUT,
    )


@dataclass(frozen=True)
class Connection:
    badge: Badge
    label: str
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.badge == "ok"


def _last_heard(record: FrameworkRecord) -> datetime | None:
    seen = [at for at in (record.last_heartbeat_at, record.updated_at) if at is not None]
    return max(seen) if seen else None


def connection_of(record: FrameworkRecord | None, now: datetime | None = None) -> Connection:
    now = now or timezone.now()
    if record is None:
        return Connection(
            "neutral",
            "Not registered",
            "The framework has not subscribed to this cluster yet, so nothing gets placed.",
        )
    if not record.connected:
        return Connection("bad", "Disconnected", record.last_error)
    heard = _last_heard(record)
    if heard is None or now - heard > HEARTBEAT_STALE:
        since = f" for {duration(now - heard)}" if heard else ""
        return Connection(
            "warn",
            "No heartbeat",
            f"Recorded as connected, but nothing heard{since}: is the framework still running?",
        )
    return Connection("ok", "Connected")


# The framework's counters (cluster.framework.metrics) in reading order; others follow.
_METRICS: dict[str, str] = {
    "offers_received_per_min": "Offers received",
    "offers_used_per_min": "Offers used",
    "offers_declined_per_min": "Offers declined",
    "launches_per_min": "Launches",
    "updates_per_min": "Status updates",
    "kills_per_min": "Kills",
    "pending": "Pending tasks",
    "reconcile_lag_seconds": "Reconcile lag",
    "reconciling": "Tasks reconciling",
    "launches_total": "Launches in all",
    "slowest_offer_round_ms": "Slowest offer round",
    "launch_limit": "Launches per round at most",
}
# Shown elsewhere on the page (subscribed_at, suppressed_roles) or not a figure at all.
_NOT_METRICS = frozenset({"subscribed_at", "suppressed_roles"})
_RATE_SUFFIXES = ("_per_minute", "_per_min")
_UNIT_SUFFIXES = (*_RATE_SUFFIXES, "_seconds", "_secs", "_ms")


def _metric_value(key: str, value: float) -> str:
    if key.endswith(_RATE_SUFFIXES):
        return f"{value:,.4g}/min"
    if key.endswith(("_seconds", "_secs")):
        return duration(value)
    if key.endswith("_ms"):
        return f"{value:,.4g} ms"
    return f"{value:,.4g}"


def _metric_label(key: str) -> str:
    if key in _METRICS:
        return _METRICS[key]
    for suffix in _UNIT_SUFFIXES:
        key = key.removesuffix(suffix)
    return key.replace("_", " ").capitalize()


def _is_figure(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def metric_rows(metrics: Any) -> list[tuple[str, str]]:
    """The framework's numeric counters as (label, value with unit); the rest is left out."""
    if not isinstance(metrics, Mapping):
        return []
    known = [key for key in _METRICS if key in metrics]
    others = sorted(key for key in metrics if key not in _METRICS and key not in _NOT_METRICS)
    return [
        (_metric_label(key), _metric_value(key, float(metrics[key])))
        for key in known + others
        if _is_figure(metrics[key])
    ]


@dataclass(frozen=True)
class ClusterView:
    """One Mesos cluster: the environments on it, the framework's record and its agents."""

    master_urls: tuple[str, ...]
    environments: tuple[Environment, ...]
    record: FrameworkRecord | None
    agents: AgentsSnapshot
    connection: Connection
    metrics: list[tuple[str, str]]

    @property
    def masters_text(self) -> str:
        return ", ".join(self.master_urls)

    def _metric(self, key: str) -> object:
        metrics = self.record.metrics if self.record is not None else None
        return metrics.get(key) if isinstance(metrics, dict) else None

    @property
    def subscribed_at(self) -> datetime | None:
        at = self._metric("subscribed_at")
        return datetime.fromtimestamp(at, UTC) if isinstance(at, int | float) else None

    @property
    def suppressed_roles(self) -> list[str]:
        roles = self._metric("suppressed_roles")
        return [str(role) for role in roles] if isinstance(roles, list) else []


def _identity(urls: Iterable[str]) -> tuple[str, ...]:
    """Masters in a comparable form: order and trailing slashes do not make another cluster."""
    normalized = set()
    for url in urls:
        try:
            normalized.add(normalize_base_url(str(url)))
        except ValueError:
            normalized.add(str(url).strip())
    return tuple(sorted(normalized))


def _group_by_cluster(
    environments: Iterable[Environment],
) -> dict[tuple[str, ...], list[Environment]]:
    groups: dict[tuple[str, ...], list[Environment]] = {}
    for environment in environments:
        groups.setdefault(tuple(environment.master_url_list()), []).append(environment)
    return groups


def _record_for(
    master_urls: tuple[str, ...], records: list[FrameworkRecord]
) -> FrameworkRecord | None:
    identity = _identity(master_urls)
    for record in records:
        if record.cluster_key in (",".join(master_urls), ",".join(identity)):
            return record
        if isinstance(record.master_urls, list) and _identity(record.master_urls) == identity:
            return record
    return None


def cluster_list(environments: Iterable[Environment], *, live: bool = True) -> list[ClusterView]:
    """Every distinct cluster the environments use, in environment order. `live=False`
    skips the master (for callers that only need the framework's recorded state)."""
    records = list(FrameworkRecord.objects.all())
    now = timezone.now()
    views = []
    for master_urls, members in _group_by_cluster(environments).items():
        record = _record_for(master_urls, records)
        agents = (
            agents_snapshot(master_urls, _options_for(members))
            if live
            else AgentsSnapshot(master_urls, error="not asked")
        )
        views.append(
            ClusterView(
                master_urls=master_urls,
                environments=tuple(members),
                record=record,
                agents=agents,
                connection=connection_of(record, now),
                metrics=metric_rows(record.metrics) if record else [],
            )
        )
    return views


_RESOURCES = (("cpus", "", cpus), ("mem", " of memory", mb), ("disk", " of disk", mb))


def never_fits(spec: Any, snapshot: AgentsSnapshot) -> list[str]:
    """What a task asks for that no agent has even when empty: offers will never fit it,
    however long it waits. Empty when unknown (master unreachable, no agents)."""
    if not isinstance(spec, Mapping) or not snapshot.reachable or not snapshot.agents:
        return []
    found = []
    for key, noun, unit in _RESOURCES:
        wanted = spec.get(key)
        largest = max(getattr(agent, key).total for agent in snapshot.agents)
        if isinstance(wanted, int | float) and float(wanted) > largest:
            found.append(f"{unit(wanted)}{noun}, and the largest agent has {unit(largest)}")
    return found


def task_snapshot(environment: Environment) -> AgentsSnapshot:
    """The agents of the cluster an environment runs on (cached like the page's)."""
    return agents_snapshot(environment.master_url_list(), _options_for([environment]))


@dataclass(frozen=True)
class ClusterSummary:
    """Connection state and totals across clusters, for templates/cluster/_summary.html."""

    clusters: list[ClusterView]

    @property
    def reachable(self) -> list[ClusterView]:
        return [c for c in self.clusters if c.agents.reachable]

    @property
    def cpus(self) -> Usage:
        return sum((c.agents.cpus for c in self.reachable), ZERO)

    @property
    def mem(self) -> Usage:
        return sum((c.agents.mem for c in self.reachable), ZERO)

    @property
    def disk(self) -> Usage:
        return sum((c.agents.disk for c in self.reachable), ZERO)

    @property
    def agent_count(self) -> int:
        return sum(len(c.agents.agents) for c in self.reachable)

    @property
    def problems(self) -> list[ClusterView]:
        return [c for c in self.clusters if not c.connection.ok or not c.agents.reachable]


def cluster_summary(environments: Iterable[Environment]) -> ClusterSummary:
    return ClusterSummary(cluster_list(environments))
