"""The Django-backed store the framework engine calls (cluster.framework.storage.EngineStore).

Hot paths (marking a round's launches, storing a batch of updates) write thousands of
rows per statement (cluster.store.rows) instead of a save() per row. The live and kill
queries spell the terminal-state list literally, exactly as the partial indexes do: SQLite
only uses a partial index whose WHERE terms appear verbatim in the query, not with bound
parameters.

FrameworkRecord.metrics (for the dashboard) holds: offers_received/used/declined_per_min,
launches_per_min, updates_per_min, kills_per_min, launches_total, pending,
reconcile_lag_seconds, reconciling, slowest_offer_round_ms (offers in hand to all answered,
over the last 50 rounds), launch_limit, subscribed_at (epoch seconds), suppressed_roles.
"""

from __future__ import annotations

from cluster.store.backend import LIVE_WHERE, DjangoStore, live
from cluster.store.clusters import cluster_configs
from cluster.store.updates import SOURCE_BERTH, kill_pending

__all__ = ["LIVE_WHERE", "SOURCE_BERTH", "DjangoStore", "cluster_configs", "kill_pending", "live"]
