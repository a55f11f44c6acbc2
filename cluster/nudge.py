"""Nudging the framework from Django: writers call `nudge(cluster_key)` after changing
desired state; `run_framework` starts `nudge_listener(...)`.

Both read settings.REDIS_URL; without it they do nothing and the framework finds the work
at its next poll. The transport, and why there is no other, is in cluster.framework.nudge.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from functools import partial

from django.conf import settings
from django.db import transaction

from cluster.framework.nudge import NudgeListener, NudgePublisher

logger = logging.getLogger(__name__)

_publishers: dict[str, NudgePublisher | None] = {}
_publishers_lock = threading.Lock()


def nudge(cluster_key: str) -> None:
    """Tell the framework that `cluster_key` has new work or kills, once the current
    transaction commits (at once outside one): before that, it could not see the rows.
    Never raises, and a rolled-back transaction sends nothing."""
    publisher = _publisher(settings.REDIS_URL)
    if publisher is None or not cluster_key:
        return
    transaction.on_commit(partial(publisher.publish, cluster_key), robust=True)


def _publisher(url: str) -> NudgePublisher | None:
    if not url:
        return None
    with _publishers_lock:
        if url not in _publishers:
            try:
                _publishers[url] = NudgePublisher(url)
            except ValueError as error:
                logger.warning("REDIS_URL is not usable for nudges (%s); polling only", error)
                _publishers[url] = None
        return _publishers[url]


def nudge_listener(on_nudge: Callable[[str | None], None]) -> NudgeListener | None:
    """A listener (not started) that calls `on_nudge`, or None without a usable Redis."""
    url = settings.REDIS_URL
    if not url:
        logger.info("No REDIS_URL: new work and kills are found by polling only")
        return None
    try:
        return NudgeListener(url, on_nudge)
    except ValueError as error:
        logger.error("REDIS_URL is not usable for nudges (%s); polling only", error)
        return None
