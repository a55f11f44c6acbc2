"""REST API v1 for the cluster: Berth's tasks (read-only) and the clusters' live status.

Tasks follow the pages' visibility: a reader sees their teams' tasks, superusers all, and a
task nobody may see is a 404 like one that does not exist.
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cluster import selectors
from cluster.models import Task, TaskStatusRecord
from cluster.selectors import AgentView, ClusterView, TaskRow, Usage
from portal.models import Environment
from portal.pagination import BadCursorError


class TaskOutputSerializer(serializers.Serializer[TaskRow]):
    mesos_task_id = serializers.CharField(source="task.mesos_task_id")
    name = serializers.CharField(source="task.name")
    url = serializers.SerializerMethodField()
    state = serializers.CharField(source="task.state")
    state_label = serializers.CharField(source="state.label")
    badge = serializers.CharField(source="state.badge")
    terminal = serializers.BooleanField(source="state.terminal")
    desired = serializers.CharField(source="task.desired")
    environment = serializers.CharField(source="task.environment.slug")
    team = serializers.SerializerMethodField()
    owner_kind = serializers.CharField(source="task.owner_kind")
    owner_id = serializers.IntegerField(source="task.owner_id", allow_null=True)
    agent_id = serializers.CharField(source="task.agent_id")
    hostname = serializers.CharField(source="task.hostname")
    ports = serializers.JSONField(source="task.ports")
    healthy = serializers.BooleanField(source="task.healthy", allow_null=True)
    message = serializers.CharField(source="task.message")
    reason = serializers.CharField(source="task.reason")
    exit_code = serializers.IntegerField(source="task.exit_code", allow_null=True)
    why_not_placed = serializers.JSONField(source="task.why_not_placed")
    why_not_placed_text = serializers.ListField(
        source="why_not_placed", child=serializers.CharField()
    )
    created_at = serializers.DateTimeField(source="task.created_at")
    launched_at = serializers.DateTimeField(source="task.launched_at", allow_null=True)
    started_at = serializers.DateTimeField(source="task.started_at", allow_null=True)
    finished_at = serializers.DateTimeField(source="task.finished_at", allow_null=True)
    updated_at = serializers.DateTimeField(source="task.updated_at")

    def get_url(self, row: TaskRow) -> str:
        return reverse("cluster:api_task", args=[row.task.mesos_task_id])

    def get_team(self, row: TaskRow) -> str | None:
        return row.task.team.slug if row.task.team else None


class TaskListApi(APIView):
    class FilterSerializer(serializers.Serializer[Any]):
        environment = serializers.SlugField(required=False)
        state = serializers.ChoiceField(choices=list(selectors.STATE_GROUPS), required=False)
        q = serializers.CharField(required=False, max_length=200)
        cursor = serializers.CharField(required=False)
        limit = serializers.IntegerField(required=False, min_value=1, max_value=500, default=50)

        def validate_environment(self, slug: str) -> Environment:
            found = Environment.objects.filter(slug=slug).first()
            if found is None:
                raise ValidationError(f"There is no environment called {slug!r}.")
            return found

    OutputSerializer = TaskOutputSerializer

    def get(self, request: Request) -> Response:
        query = self.FilterSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        filters = selectors.TaskFilters(
            environment=params.get("environment"),
            group=params.get("state", ""),
            search=params.get("q", ""),
        )
        try:
            page = selectors.task_page(
                request.user, filters, cursor=params.get("cursor"), limit=params["limit"]
            )
        except BadCursorError as error:
            raise ValidationError({"cursor": [str(error)]}) from None
        rows = selectors.task_rows(page.items)
        return Response(
            {
                "next": _link(request, page.next_cursor),
                "previous": _link(request, page.prev_cursor),
                "results": [self.OutputSerializer(row).data for row in rows],
            }
        )


def _link(request: Request, cursor: str | None) -> str | None:
    if cursor is None:
        return None
    query = request.query_params.copy()
    query["cursor"] = cursor
    return request.build_absolute_uri(f"{request.path}?{query.urlencode()}")


def _status(record: TaskStatusRecord) -> dict[str, Any]:
    return {
        "state": record.state,
        "source": record.source,
        "reason": record.reason,
        "message": record.message,
        "healthy": record.healthy,
        "received_at": record.received_at.isoformat(),
    }


class TaskDetailApi(APIView):
    class OutputSerializer(TaskOutputSerializer):
        role = serializers.CharField(source="task.role")
        group = serializers.CharField(source="task.group")
        agent_url = serializers.CharField(source="task.agent_url")
        framework_id = serializers.CharField(source="task.framework_id")
        kill_requested_at = serializers.DateTimeField(
            source="task.kill_requested_at", allow_null=True
        )
        spec = serializers.JSONField(source="task.spec")
        agent_attributes = serializers.JSONField(source="task.agent_attributes")
        status_at = serializers.DateTimeField(source="task.status_at", allow_null=True)

    def get(self, request: Request, mesos_task_id: str) -> Response:
        task: Task = selectors.task_get(request.user, mesos_task_id)
        body: dict[str, Any] = dict(self.OutputSerializer(selectors.task_row(task)).data)
        body["statuses"] = [_status(record) for record in selectors.status_trail(task)]
        return Response(body)


def _usage(usage: Usage) -> dict[str, float]:
    return {"used": round(usage.used, 3), "total": round(usage.total, 3)}


def _agent(agent: AgentView) -> dict[str, Any]:
    return {
        "agent_id": agent.agent_id,
        "hostname": agent.hostname,
        "active": agent.active,
        "cpus": _usage(agent.cpus),
        "mem": _usage(agent.mem),
        "disk": _usage(agent.disk),
        "attributes": list(agent.attributes),
    }


def _framework(cluster: ClusterView) -> dict[str, Any] | None:
    record = cluster.record
    if record is None:
        return None
    heartbeat = record.last_heartbeat_at
    return {
        "framework_id": record.framework_id,
        "connected": record.connected,
        "leader_url": record.leader_url,
        "last_heartbeat_at": heartbeat.isoformat() if heartbeat else None,
        "suppressed": record.suppressed,
        "last_error": record.last_error,
        "metrics": record.metrics,
    }


def _cluster(cluster: ClusterView) -> dict[str, Any]:
    agents = cluster.agents
    return {
        "master_urls": list(cluster.master_urls),
        "environments": [env.slug for env in cluster.environments],
        "connection": {"state": cluster.connection.label, "badge": cluster.connection.badge},
        "framework": _framework(cluster),
        "master_reachable": agents.reachable,
        "master_error": agents.error or None,
        "totals": {
            "cpus": _usage(agents.cpus),
            "mem": _usage(agents.mem),
            "disk": _usage(agents.disk),
        },
        "agents": [_agent(agent) for agent in agents.agents],
    }


class ClusterStatusApi(APIView):
    """Every cluster the environments use; agents from the master (cached a few seconds)."""

    def get(self, request: Request) -> Response:
        clusters = selectors.cluster_list(Environment.objects.all())
        return Response({"clusters": [_cluster(cluster) for cluster in clusters]})
