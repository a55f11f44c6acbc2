"""Attach the environment the user is looking at to every request."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from portal.models import Environment

SESSION_KEY = "berth_environment"
_CACHE_ATTR = "_berth_environments"


def environments_for(request: HttpRequest) -> list[Environment]:
    """All environments in display order, loaded at most once per request."""
    cached: list[Environment] | None = getattr(request, _CACHE_ATTR, None)
    if cached is None:
        cached = list(Environment.objects.all())
        setattr(request, _CACHE_ATTR, cached)
    return cached


def pick_environment(environments: list[Environment], slug: str | None) -> Environment | None:
    # A slug left in the session by a since-deleted environment falls back to the
    # first one rather than to "no environment", so every page still shows a colour.
    for environment in environments:
        if environment.slug == slug:
            return environment
    return environments[0] if environments else None


class CurrentEnvironmentMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # One small query: the list is tiny (dev, staging, prod) and the context
        # processor reuses it for the switcher instead of querying again.
        slug = request.session.get(SESSION_KEY) if hasattr(request, "session") else None
        current = pick_environment(environments_for(request), slug)
        request.environment = current  # type: ignore[attr-defined]
        return self.get_response(request)
