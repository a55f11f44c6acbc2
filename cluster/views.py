"""The cluster pages: connection state, agents, Berth's tasks and one task's story.

Both live parts of the index poll the same URL; the element htmx targets (HX-Target) says
which fragment to render, so every fragment keeps a plain working href.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET
from django_htmx.http import HttpResponseStopPolling

from cluster import selectors
from cluster.models import Task
from portal.http import AuthedRequest
from portal.middleware import environments_for
from portal.models import Environment
from portal.pagination import BadCursorError, KeysetPage

PAGE_SIZE = 50
_FRAGMENTS = {"cluster-status": "status", "cluster-tasks": "tasks"}


class TaskFilterForm(forms.Form):
    environment = forms.ChoiceField(required=False, label="Environment")
    state = forms.ChoiceField(
        required=False,
        label="State",
        choices=[("", "Any state"), *selectors.STATE_GROUPS.items()],
    )
    q = forms.CharField(
        required=False,
        max_length=200,
        label="Search",
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Name or task id"}),
    )

    def __init__(self, data: Any, *, environments: list[Environment]) -> None:
        super().__init__(data)
        self._environments = {env.slug: env for env in environments}
        choices = [("", "All environments"), *((e.slug, e.name) for e in environments)]
        self.fields["environment"].choices = choices  # type: ignore[attr-defined]

    def filters(self) -> selectors.TaskFilters:
        """The valid filters; an invalid one is shown beside its field and left out."""
        self.is_valid()
        data = self.cleaned_data
        return selectors.TaskFilters(
            environment=self._environments.get(data.get("environment") or ""),
            group=data.get("state") or "",
            search=data.get("q") or "",
        )


def _page_url(request: AuthedRequest, cursor: str | None) -> str | None:
    if cursor is None:
        return None
    query = request.GET.copy()
    query["cursor"] = cursor
    return f"{request.path}?{query.urlencode()}"


def _task_page(
    request: AuthedRequest, filters: selectors.TaskFilters
) -> tuple[KeysetPage[Task], str]:
    user, cursor = request.user, request.GET.get("cursor")
    try:
        return selectors.task_page(user, filters, cursor=cursor, limit=PAGE_SIZE), ""
    except BadCursorError as error:
        # A stale link still shows something useful: the first page, and why.
        page = selectors.task_page(user, filters, cursor=None, limit=PAGE_SIZE)
        return page, str(error)


def _tasks_context(request: AuthedRequest) -> dict[str, Any]:
    form = TaskFilterForm(request.GET, environments=environments_for(request))
    filters = form.filters()
    if filters.environment is not None:
        # The band shows the environment whose tasks are listed: prod must look like prod.
        request.environment = filters.environment
    page, cursor_error = _task_page(request, filters)
    rows = selectors.task_rows(page.items)
    return {
        "form": form,
        "filters": filters,
        "rows": rows,
        "cursor_error": cursor_error,
        "prev_url": _page_url(request, page.prev_cursor),
        "next_url": _page_url(request, page.next_cursor),
        "first_page": not request.GET.get("cursor") or bool(cursor_error),
        "in_no_team": not rows and _in_no_team(request),
    }


def _in_no_team(request: AuthedRequest) -> bool:
    return not request.user.is_superuser and not request.user.memberships.exists()


def _status_context(request: AuthedRequest) -> dict[str, Any]:
    return {
        "clusters": selectors.cluster_list(environments_for(request)),
        "start_hint": selectors.START_HINT,
    }


def _fragment(request: AuthedRequest) -> str:
    """'' for the whole page, else the partial the htmx request targets."""
    if not request.htmx:
        return ""
    return _FRAGMENTS.get(request.htmx.target or "", "tasks")


@login_required
@require_GET
def index(request: AuthedRequest) -> HttpResponse:
    fragment = _fragment(request)
    context: dict[str, Any] = {}
    if fragment in ("", "status"):
        context |= _status_context(request)
    if fragment in ("", "tasks"):
        context |= _tasks_context(request)
    name = f"cluster/index.html#{fragment}" if fragment else "cluster/index.html"
    return render(request, name, context)


def _get_task_for_user(request: AuthedRequest, mesos_task_id: str) -> Task:
    task = selectors.task_get(request.user, mesos_task_id)
    request.environment = task.environment
    return task


def _never_fits(task: Task) -> list[str]:
    if task.state != Task.PENDING:
        return []
    return selectors.never_fits(task.spec, selectors.task_snapshot(task.environment))


def _task_context(task: Task) -> dict[str, Any]:
    return {
        "never_fits": _never_fits(task),
        "row": selectors.task_row(task),
        "task": task,
        "statuses": [(s, selectors.state_info(s.state)) for s in selectors.status_trail(task)],
        "spec_json": json.dumps(task.spec, indent=2, sort_keys=True),
        "trail_limit": selectors.tasks.STATUS_TRAIL_LIMIT,
    }


@login_required
@require_GET
def task_detail(request: AuthedRequest, mesos_task_id: str) -> HttpResponse:
    task = _get_task_for_user(request, mesos_task_id)
    context = _task_context(task)
    if not request.htmx:
        return render(request, "cluster/task_detail.html", context)
    response = render(request, "cluster/task_detail.html#live", context)
    if task.is_terminal():
        # Nothing will change any more: htmx swaps this last answer and stops polling.
        return HttpResponseStopPolling(response.content)
    return response


@login_required
@require_GET
def summary(request: AuthedRequest) -> HttpResponse:
    context = {"cluster_summary": selectors.cluster_summary(environments_for(request))}
    return render(request, "cluster/_summary.html", context)
