"""Attach the environment the user is looking at to every request."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from portal.models import Environment

SESSION_KEY = "berth_environment"


class CurrentEnvironmentMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        slug = request.session.get(SESSION_KEY) if hasattr(request, "session") else None
        environments = Environment.objects.all()
        current = environments.filter(slug=slug).first() if slug else None
        request.environment = current or environments.first()  # type: ignore[attr-defined]
        return self.get_response(request)
