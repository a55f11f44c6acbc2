"""Teams, environments, configuration, secrets and the audit log (pages and API)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, include, path

from portal import api, views_manage

api_patterns: list[URLPattern | URLResolver] = [
    path("environments/", api.EnvironmentListApi.as_view(), name="api_environments"),
    path(
        "environments/<slug:slug>/",
        api.EnvironmentDetailApi.as_view(),
        name="api_environment_detail",
    ),
    path("environments/<slug:slug>/config/", api.ConfigListApi.as_view(), name="api_config"),
    path("environments/<slug:slug>/config/set/", api.ConfigSetApi.as_view(), name="api_config_set"),
    path(
        "environments/<slug:slug>/config/delete/",
        api.ConfigDeleteApi.as_view(),
        name="api_config_delete",
    ),
    path("teams/", api.TeamListApi.as_view(), name="api_teams"),
    path("audit/", api.AuditListApi.as_view(), name="api_audit"),
]

urlpatterns: list[URLPattern | URLResolver] = [
    path("teams/", views_manage.teams, name="teams"),
    path("teams/new/", views_manage.team_create, name="team_create"),
    path("teams/<slug:slug>/", views_manage.team_detail, name="team_detail"),
    path("teams/<slug:slug>/members/add/", views_manage.team_member_add, name="team_member_add"),
    path(
        "teams/<slug:slug>/members/<int:membership_id>/role/",
        views_manage.team_member_role,
        name="team_member_role",
    ),
    path(
        "teams/<slug:slug>/members/<int:membership_id>/remove/",
        views_manage.team_member_remove,
        name="team_member_remove",
    ),
    path("environments/", views_manage.environments, name="environments"),
    path("environments/new/", views_manage.environment_create, name="environment_create"),
    path("environments/<slug:slug>/", views_manage.environment_detail, name="environment_detail"),
    path("environments/<slug:slug>/edit/", views_manage.environment_edit, name="environment_edit"),
    path(
        "environments/<slug:slug>/credentials/",
        views_manage.environment_credentials,
        name="environment_credentials",
    ),
    path("environments/<slug:slug>/config/", views_manage.config, name="config"),
    path("environments/<slug:slug>/config/set/", views_manage.config_set, name="config_set"),
    path(
        "environments/<slug:slug>/config/delete/", views_manage.config_delete, name="config_delete"
    ),
    path("audit/", views_manage.audit_log, name="audit"),
    path("api/v1/", include(api_patterns)),
]
