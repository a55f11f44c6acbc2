"""Which Mesos clusters the environments name: one subscription each."""

from __future__ import annotations

import logging

from cluster.framework.config import ClusterConfig, cluster_key_for
from portal.config import mesos_credentials
from portal.models import Environment

logger = logging.getLogger(__name__)


def cluster_configs() -> list[ClusterConfig]:
    """One entry per distinct Mesos cluster the environments name, with their roles.

    Credentials and CA bundle come from the first environment (by position) that has
    them: one subscription can authenticate only once. An environment with unusable
    master URLs is logged and left out, never a reason to stop the others.
    """
    grouped: dict[str, list[Environment]] = {}
    for environment in Environment.objects.order_by("position", "name"):
        try:
            key = cluster_key_for(environment.master_url_list())
        except ValueError as error:
            logger.error("Environment %s is left out: %s", environment.slug, error)
            continue
        grouped.setdefault(key, []).append(environment)
    return [_cluster_config(key, environments) for key, environments in grouped.items()]


def _cluster_config(key: str, environments: list[Environment]) -> ClusterConfig:
    roles = tuple(sorted({e.mesos_role for e in environments}))
    principal = secret = None
    for environment in environments:
        credentials = mesos_credentials(environment)
        if credentials is not None:
            principal, secret = credentials
            break
    ca_bundle = next((e.mesos_ca_bundle for e in environments if e.mesos_ca_bundle.strip()), None)
    return ClusterConfig(
        key=key,
        masters=tuple(key.split(",")),
        roles=roles,
        principal=principal,
        secret=secret,
        ca_bundle=ca_bundle,
    )
