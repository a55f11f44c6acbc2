"""The framework engine: drives Mesos toward the desired state Berth keeps in its database.

No Django here (STYLE rule 17): `manage.py run_framework` injects cluster.store.DjangoStore.

- config: which cluster (one subscription per distinct master list), timings;
- storage: what the engine asks of its store;
- engine: the loop of step methods and the on_<event> handlers, one per cluster;
- launching: one offer round, from the queue to ACCEPT/DECLINE;
- offers, updates, demand, reconcile, metrics: the pure decisions it takes;
- runner: one engine thread per cluster.
"""

from __future__ import annotations

from cluster.framework.config import ClusterConfig, EngineOptions, cluster_key_for
from cluster.framework.engine import ClusterEngine
from cluster.framework.runner import Supervisor
from cluster.framework.storage import (
    EngineStore,
    KillOrder,
    LaunchRecord,
    PendingSummary,
    PendingWork,
    UpdateOutcome,
)

__all__ = [
    "ClusterConfig",
    "ClusterEngine",
    "EngineOptions",
    "EngineStore",
    "KillOrder",
    "LaunchRecord",
    "PendingSummary",
    "PendingWork",
    "Supervisor",
    "UpdateOutcome",
    "cluster_key_for",
]
