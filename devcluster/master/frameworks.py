"""Framework lifecycle: subscribe, fail over, disconnect, time out, tear down."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from devcluster.interfaces import Json
from devcluster.master import mesosjson as mj
from devcluster.master.state import ACTIVE, REMOVED, FrameworkRecord
from devcluster.master.streams import EventStream
from devcluster.master.validation import (
    HttpError,
    capabilities,
    framework_roles,
    validate_framework_info,
)

if TYPE_CHECKING:
    from devcluster.master.master import Master

log = logging.getLogger(__name__)

# Re-subscribing may not change these; Mesos silently keeps the old values.
_STICKY_FIELDS = ("user", "checkpoint")
# validation::framework::validateUpdate: the one change that is an error on SUBSCRIBE too.
PRINCIPAL_CHANGED = "Changing framework's principal is not allowed."


def subscribe(master: Master, body: Json, stream: EventStream) -> None:
    """Attach `stream` to a new or returning framework, or end it with one ERROR."""
    info = body["framework_info"]
    framework_id = mj.value_of(info.get("id"))
    error = validate_framework_info(info, body.get("suppressed_roles", []))
    if error is None and framework_id in master.removed_frameworks:
        error = "Framework has been removed"
    framework = master.frameworks.get(framework_id or "")
    if error is None and framework is not None:
        error = _principal_change(framework, info)
    if error is not None:
        stream.send({"type": "ERROR", "error": {"message": error}})
        stream.close()
        return
    if framework is None:
        framework = _register(master, info, framework_id)
    else:
        _fail_over(master, framework, info)
    _attach(master, framework, body, stream)
    master.allocator.request()
    # Updates that waited for this framework go out again at once, right after the first
    # offers (09-failover); the allocation was queued first, so it runs first.
    asyncio.get_running_loop().call_soon(_resend_unacknowledged, master, framework)


def _resend_unacknowledged(master: Master, framework: FrameworkRecord) -> None:
    if master.frameworks.get(framework.id) is not framework or not framework.connected:
        return
    for agent in list(master.agents.values()):
        if agent.state == ACTIVE:
            agent.api.resend_unacknowledged(framework.id)


def _register(master: Master, info: Json, framework_id: str | None) -> FrameworkRecord:
    now = time.time()
    framework_id = framework_id or master.new_framework_id()
    stored = {**info, "id": mj.wrap(framework_id)}
    framework = FrameworkRecord(
        id=framework_id,
        info=stored,
        roles=framework_roles(stored),
        capabilities=capabilities(stored),
        registered_time=now,
    )
    master.frameworks[framework_id] = framework
    return framework


def _fail_over(master: Master, framework: FrameworkRecord, info: Json) -> None:
    old = framework.stream
    if old is not None:
        _detach(framework)
        old.send({"type": "ERROR", "error": {"message": "Framework failed over"}})
        old.close()
    if framework.failover_timer is not None:
        framework.failover_timer.cancel()
        framework.failover_timer = None
    # Offers die with the old connection; the new one gets fresh ones.
    for offer in list(framework.offers.values()):
        master.rescind(offer, notify=False)
    _update_info(master, framework, info)


def _principal_change(framework: FrameworkRecord, info: Json) -> str | None:
    """Another principal may not take a framework over by naming its id."""
    if framework.recovered and "principal" not in framework.info:
        # Known only from agents that kept no principal: nothing to compare with yet.
        return None
    if info.get("principal") != framework.info.get("principal"):
        # The old principal stays out of the answer; only the master's log names both.
        log.warning(
            "Framework %s, which has principal %r, tried to (re)subscribe or update as %r",
            framework.id,
            framework.info.get("principal"),
            info.get("principal"),
        )
        return PRINCIPAL_CHANGED
    return None


def _update_info(master: Master, framework: FrameworkRecord, info: Json) -> None:
    stored = {**info, "id": mj.wrap(framework.id)}
    # A framework known only from its agents' tasks (after a master restart) has no
    # FrameworkInfo of its own yet: the subscription's is the first real one.
    sticky = () if framework.recovered else _STICKY_FIELDS
    for key in sticky:
        if key in framework.info:
            stored[key] = framework.info[key]
        else:
            stored.pop(key, None)
    old_roles = set(framework.roles)
    framework.info = stored
    framework.roles = framework_roles(stored)
    framework.capabilities = capabilities(stored)
    gone = old_roles - set(framework.roles)
    for offer in [o for o in framework.offers.values() if o.role in gone]:
        master.rescind(offer)


def _attach(master: Master, framework: FrameworkRecord, body: Json, stream: EventStream) -> None:
    now = time.time()
    framework.stream = stream
    framework.stream_id = stream.stream_id
    framework.active = True
    framework.recovered = False
    # A first subscription counts as a registration and a re-registration at once.
    first = framework.reregistered_time is None and not framework.calls["subscribe"]
    framework.reregistered_time = framework.registered_time if first else now
    framework.suppressed = set(body.get("suppressed_roles", []))
    framework.offer_constraints = body.get("offer_constraints", {})
    framework.calls["subscribe"] += 1
    stream.on_lost = lambda lost: disconnected(master, framework, lost)
    subscribed = {
        "framework_id": mj.wrap(framework.id),
        "heartbeat_interval_seconds": float(master.config.heartbeat_interval),
        "master_info": master.master_info(),
    }
    master.send(framework, {"type": "SUBSCRIBED", "subscribed": subscribed})
    master.send(framework, {"type": "HEARTBEAT"})
    _schedule_heartbeat(master, framework, stream)


def _schedule_heartbeat(master: Master, framework: FrameworkRecord, stream: EventStream) -> None:
    def beat() -> None:
        if framework.stream is not stream:
            return
        if not ({"*", framework.id} & master.heartbeats_paused):
            master.send(framework, {"type": "HEARTBEAT"})
        _schedule_heartbeat(master, framework, stream)

    loop = asyncio.get_running_loop()
    framework.heartbeat_timer = loop.call_later(master.config.heartbeat_interval, beat)


def _detach(framework: FrameworkRecord) -> None:
    if framework.heartbeat_timer is not None:
        framework.heartbeat_timer.cancel()
        framework.heartbeat_timer = None
    if framework.stream is not None:
        framework.stream.on_lost = None
    framework.stream = None


def disconnected(master: Master, framework: FrameworkRecord, stream: EventStream) -> None:
    """The SUBSCRIBE connection closed: deactivate and start the failover timeout."""
    if framework.stream is not stream or master.frameworks.get(framework.id) is not framework:
        return
    _detach(framework)
    framework.active = False
    # Deactivation also forgets offer filters: the returning scheduler gets the
    # remainder of an earlier ACCEPT at once (09-failover).
    framework.filters.clear()
    for offer in list(framework.offers.values()):
        master.rescind(offer, notify=False)
    timeout = framework.failover_timeout()
    log.info("framework %s disconnected; failover timeout %.1fs", framework.id, timeout)
    if timeout <= 0:
        remove(master, framework)
        return
    loop = asyncio.get_running_loop()
    framework.failover_timer = loop.call_later(timeout, _failover_expired, master, framework)


def _failover_expired(master: Master, framework: FrameworkRecord) -> None:
    framework.failover_timer = None
    if master.frameworks.get(framework.id) is framework and not framework.connected:
        remove(master, framework)


def remove(master: Master, framework: FrameworkRecord) -> None:
    """Teardown or failover timeout: kill its tasks silently and keep it as completed."""
    if master.frameworks.get(framework.id) is not framework:
        return
    if framework.failover_timer is not None:
        framework.failover_timer.cancel()
        framework.failover_timer = None
    stream = framework.stream
    _detach(framework)
    if stream is not None:
        stream.close()  # no event: the scheduler only sees a clean end (14-teardown)
    framework.active = False
    framework.unregistered_time = time.time()
    for offer in list(framework.offers.values()):
        master.rescind(offer, notify=False)
    _kill_tasks(master, framework)
    del master.frameworks[framework.id]
    master.completed_frameworks.append(framework)
    master.removed_frameworks.add(framework.id)
    for agent in list(master.agents.values()):
        if agent.state != REMOVED:
            agent.api.shutdown_framework(framework.id)


def _kill_tasks(master: Master, framework: FrameworkRecord) -> None:
    message = f"Framework {framework.id} removed"
    for task in [*framework.tasks.values(), *framework.unreachable_tasks.values()]:
        if task.terminal:
            master.complete_task(framework, task)
            continue
        status = master.master_status(
            task.id, "TASK_KILLED", message, "REASON_FRAMEWORK_REMOVED", task.agent_id
        )
        master.counters["task_killed/source_master/reason_framework_removed"] += 1
        master.end_task(framework, task, status)


def update(master: Master, framework: FrameworkRecord, body: Json) -> None:
    """UPDATE_FRAMEWORK: the same rules as re-subscribing, but changes are errors."""
    info = body["framework_info"]
    suppressed = body.get("suppressed_roles", [])
    error = validate_framework_info(info, suppressed)
    if error is None:
        error = _principal_change(framework, info)
    for key in _STICKY_FIELDS:
        if error is None and info.get(key) != framework.info.get(key):
            error = f"Updating 'FrameworkInfo.{key}' is unsupported"
    if error is not None:
        raise HttpError(400, f"Invalid FrameworkInfo: {error}")
    _update_info(master, framework, info)
    revived = framework.suppressed - set(suppressed)
    framework.suppressed = set(suppressed)
    if "offer_constraints" in body:
        framework.offer_constraints = body["offer_constraints"]
    if revived:
        master.allocator.revive(framework, sorted(revived))
        master.allocator.request()
