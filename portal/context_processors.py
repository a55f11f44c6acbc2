from __future__ import annotations

from django.http import HttpRequest

from portal.models import Environment


def navigation(request: HttpRequest) -> dict[str, object]:
    return {
        "environments": Environment.objects.all(),
        "current_environment": getattr(request, "environment", None),
    }
