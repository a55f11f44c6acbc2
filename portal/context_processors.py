from __future__ import annotations

from django.http import HttpRequest

from portal.middleware import environments_for


def navigation(request: HttpRequest) -> dict[str, object]:
    return {
        "environments": environments_for(request),
        "current_environment": getattr(request, "environment", None),
    }
