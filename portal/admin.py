"""Django admin: teams and members editable (and audited), everything secret read-only."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Model, QuerySet
from django.http import HttpRequest

from portal import audit
from portal.models import AuditEntry, ConfigValue, Environment, Membership, Team


def _record(request: HttpRequest, obj: Model, action: str, team: Team | None) -> None:
    audit.record(audit.AuditContext.from_request(request), action=action, obj=obj, team=team)


class AuditedAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Writes made in the admin reach the audit log like those made in the portal."""

    def _team_of(self, obj: Any) -> Team | None:
        return obj if isinstance(obj, Team) else getattr(obj, "team", None)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        verb = "update" if change else "create"
        _record(request, obj, f"{obj._meta.model_name}.admin_{verb}", self._team_of(obj))

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        _record(request, obj, f"{obj._meta.model_name}.admin_delete", self._team_of(obj))
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for obj in queryset:
            _record(request, obj, f"{obj._meta.model_name}.admin_delete", self._team_of(obj))
        super().delete_queryset(request, queryset)


class MembershipInline(admin.TabularInline):  # type: ignore[type-arg]
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Team)
class TeamAdmin(AuditedAdmin):
    list_display = ["name", "slug", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(AuditedAdmin):
    list_display = ["user", "team", "role", "created_at"]
    list_filter = ["role", "team"]
    search_fields = ["user__username", "team__name"]
    autocomplete_fields = ["user", "team"]


@admin.register(Environment)
class EnvironmentAdmin(AuditedAdmin):
    """The encrypted Mesos secret is not editable here; the portal's credentials page sets it."""

    list_display = ["name", "slug", "mesos_role", "master_urls", "position"]
    fields = ["name", "slug", "master_urls", "mesos_role", "colour", "position", "mesos_ca_bundle"]


class ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ConfigValue)
class ConfigValueAdmin(ReadOnlyAdmin):
    """Values change only through the portal, which validates, encrypts and audits."""

    list_display = ["key", "environment", "team", "is_secret", "shown_value", "updated_at"]
    list_filter = ["environment", "is_secret"]
    search_fields = ["key"]
    fields = ["environment", "team", "key", "is_secret", "shown_value", "updated_by", "updated_at"]

    @admin.display(description="value")
    def shown_value(self, item: ConfigValue) -> str:
        return "********" if item.is_secret else item.value


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ["at", "actor_username", "action", "object_type", "object_repr", "remote_addr"]
    list_filter = ["action", "object_type"]
    search_fields = ["actor_username", "object_repr"]
    # Skips the admin's second COUNT(*) over the whole table; the portal's audit page,
    # with keyset pagination, is the view meant for large logs.
    show_full_result_count = False
