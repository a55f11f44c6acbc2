"""Task reconciliation (Master::reconcile and _reconcileTasks), and KILL of unknown tasks.

Every answer is made by the master: SOURCE_MASTER, REASON_RECONCILIATION, no uuid, the
latest health and container status but never the original data, message or labels.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from devcluster.interfaces import Json
from devcluster.master import mesosjson as mj
from devcluster.master.state import ACTIVE, RECOVERING, REMOVED, UNREACHABLE, FrameworkRecord

if TYPE_CHECKING:
    from devcluster.master.master import Master


def reconcile(master: Master, framework: FrameworkRecord, body: Json) -> None:
    entries = body.get("tasks", [])
    if not entries:
        for task in list(framework.tasks.values()):
            master.send_update(framework, _latest(master, framework, task.id))
        return
    for entry in entries:
        status = answer(
            master, framework, entry["task_id"]["value"], mj.value_of(entry.get("agent_id"))
        )
        if status is not None:
            master.send_update(framework, status)


def _latest(master: Master, framework: FrameworkRecord, task_id: str) -> Json:
    task = framework.tasks[task_id]
    return master.master_status(
        task_id,
        mj.for_framework(task.state, framework.partition_aware),
        "Reconciliation: Latest task state",
        "REASON_RECONCILIATION",
        task.agent_id,
        latest=task.latest,
    )


def answer(
    master: Master, framework: FrameworkRecord, task_id: str, agent_id: str | None
) -> Json | None:
    """One explicit reconciliation answer; None while the answer is not known yet."""
    if task_id in framework.tasks:
        return _latest(master, framework, task_id)
    agent = master.agents.get(agent_id) if agent_id is not None else None
    recovering = any(a.state == RECOVERING for a in master.agents.values())
    if (agent is not None and agent.state == RECOVERING) or (agent_id is None and recovering):
        return None  # the agent may still re-register with the task: ask again later
    aware = framework.partition_aware

    def status(state: str, message: str, unreachable_time: float | None = None) -> Json:
        return master.master_status(
            task_id,
            state if aware else "TASK_LOST",
            message,
            "REASON_RECONCILIATION",
            agent_id,
            unreachable_time=unreachable_time,
        )

    if agent is not None and agent.state == ACTIVE:
        return status("TASK_GONE", "Reconciliation: Task is unknown to the agent")
    if agent is not None and agent.state == UNREACHABLE:
        return status(
            "TASK_UNREACHABLE", "Reconciliation: Task is unreachable", agent.unreachable_time
        )
    if agent is not None and agent.state == REMOVED and agent.gone:
        return status("TASK_GONE_BY_OPERATOR", "Reconciliation: Task is gone")
    return status("TASK_UNKNOWN", "Reconciliation: Task is unknown")
