"""Home and dashboard glue."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render

from portal.http import AuthedRequest


@login_required
def dashboard(request: AuthedRequest) -> HttpResponse:
    return render(request, "portal/dashboard.html")
