"""Typed requests, so views say what they may rely on."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import HttpRequest

if TYPE_CHECKING:
    from django.contrib.auth.models import User
    from django_htmx.middleware import HtmxDetails

    from portal.models import Environment


class HtmxRequest(HttpRequest):
    htmx: HtmxDetails
    environment: Environment | None


class AuthedRequest(HtmxRequest):
    user: User
