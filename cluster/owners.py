"""The one hook through which task state changes reach the task's owner.

Restart and retry policy live with the owners (services, jobs), not in cluster/: an owner
registers a handler for its `owner_kind` in its AppConfig.ready(), and the framework's store
calls it in the same transaction that records the status update, so the owner's follow-up
(a restart task, a finished run) is stored atomically with the update that caused it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from django.db import transaction

if TYPE_CHECKING:
    from cluster.models import Task

logger = logging.getLogger(__name__)

# Called with the task (already saved with its new state) and the state it had before.
OwnerHandler = Callable[["Task", str], None]

_handlers: dict[str, OwnerHandler] = {}


def owner_register(kind: str, handler: OwnerHandler) -> None:
    _handlers[kind] = handler


def owner_notify(task: Task, previous_state: str) -> None:
    """Tell the owner; an owner's bug is logged and contained, never a framework crash loop."""
    handler = _handlers.get(task.owner_kind)
    if handler is None:
        return
    try:
        with transaction.atomic():
            handler(task, previous_state)
    except Exception:
        logger.exception(
            "owner %s failed to handle %s -> %s for task %s",
            task.owner_kind,
            previous_state,
            task.state,
            task.mesos_task_id,
        )
