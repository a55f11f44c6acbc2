"""Dashboard glue and the environment switch: the frame every page sits in."""

from __future__ import annotations

from dataclasses import dataclass

from django.apps import apps
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.db.models import QuerySet
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from cluster.selectors import cluster_summary
from portal.http import AuthedRequest, HtmxRequest
from portal.middleware import SESSION_KEY, environments_for
from portal.models import Membership


@dataclass(frozen=True)
class _Step:
    title: str
    text: str
    url_name: str
    fallback_url: str
    action: str
    done: bool
    summary: str


def _count_rows(app_label: str, model_name: str) -> int | None:
    # The services and jobs apps grow their models later; until then the dashboard
    # says "not available yet" instead of pretending there are zero rows.
    try:
        model = apps.get_model(app_label, model_name)
    except LookupError:
        return None
    return int(model._default_manager.count())


def _getting_started(environment_count: int) -> list[_Step]:
    services = _count_rows("services", "Service")
    jobs = _count_rows("jobs", "Job")
    return [
        _Step(
            "Check environments and configuration",
            "Each environment is a slice of the cluster with its own settings and secrets.",
            "environments",
            "/environments/",
            "Review environments",
            environment_count > 0,
            f"{environment_count} defined" if environment_count else "none defined yet",
        ),
        _Step(
            "Define a service",
            "A Docker image with a CPU, memory and disk baseline, released to an environment.",
            "services",
            "/services/",
            "Define a service",
            bool(services),
            "services are not available yet" if services is None else f"{services} defined",
        ),
        _Step(
            "Schedule a job",
            "A command that runs on a cron schedule, with retries and history.",
            "jobs",
            "/jobs/",
            "Schedule a job",
            bool(jobs),
            "jobs are not available yet" if jobs is None else f"{jobs} defined",
        ),
    ]


def _memberships_for_user(request: AuthedRequest) -> QuerySet[Membership]:
    return Membership.objects.filter(user=request.user).select_related("team").order_by("team")


def dashboard_context(request: AuthedRequest) -> dict[str, object]:
    environments = environments_for(request)
    steps = _getting_started(len(environments))
    return {
        "memberships": _memberships_for_user(request),
        "steps": steps,
        "steps_left": sum(1 for step in steps if not step.done),
        "cluster_summary": cluster_summary(environments),
    }


@login_required
def dashboard(request: AuthedRequest) -> HttpResponse:
    return render(request, "portal/dashboard.html", dashboard_context(request))


def _safe_next(request: HtmxRequest) -> str:
    candidate = request.POST.get("next") or request.headers.get("referer") or ""
    if url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return reverse("dashboard")


@require_POST
def environment_switch(request: HtmxRequest) -> HttpResponse:
    back = _safe_next(request)
    if not request.user.is_authenticated:
        return redirect_to_login(back)
    slug = request.POST.get("environment", "").strip()
    if not any(env.slug == slug for env in environments_for(request)):
        problem = f"There is no environment called “{slug}”" if slug else "No environment chosen"
        messages.error(request, f"{problem}; you are still looking at the same one.")
        return HttpResponseRedirect(back)
    request.session[SESSION_KEY] = slug
    return redirect(back)
