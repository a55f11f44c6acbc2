from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from cluster import api, views

app_name = "cluster"

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.index, name="index"),
    path("summary/", views.summary, name="summary"),
    # Mesos task ids may hold dots, colons and even slashes; `path` takes them all.
    path("tasks/<path:mesos_task_id>/", views.task_detail, name="task_detail"),
    path("api/v1/tasks/", api.TaskListApi.as_view(), name="api_tasks"),
    path("api/v1/tasks/<path:mesos_task_id>/", api.TaskDetailApi.as_view(), name="api_task"),
    path("api/v1/status/", api.ClusterStatusApi.as_view(), name="api_status"),
]
