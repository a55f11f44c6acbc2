"""Teams, environments, configuration, secrets and the audit log (pages and API)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver

urlpatterns: list[URLPattern | URLResolver] = []
