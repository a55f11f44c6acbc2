"""Pages for teams, environments, configuration and secrets, and the audit log."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from portal import actions, audit, forms, permissions, selectors
from portal.http import AuthedRequest
from portal.models import Environment, Role, Team
from portal.pagination import BadCursorError, keyset_page

AUDIT_PAGE_SIZE = 50


def _ctx(request: AuthedRequest) -> audit.AuditContext:
    return audit.AuditContext.from_request(request)


def _about(request: AuthedRequest, environment: Environment) -> Environment:
    """Show this environment's band and colour on a page about it, whatever the switcher says:
    a page about prod must never look like dev."""
    request.environment = environment
    return environment


def _render(
    request: AuthedRequest, template: str, context: dict[str, Any], partial: str = ""
) -> HttpResponse:
    """Render the page, or only its `partial` block when htmx asks for a fragment."""
    name = f"{template}#{partial}" if partial and request.htmx else template
    return render(request, name, context)


# Teams


def _teams_context(request: AuthedRequest, form: forms.TeamCreateForm | None) -> dict[str, Any]:
    can_create = permissions.is_superuser(request.user)
    return {
        "teams": selectors.team_list(request.user),
        "form": (form or forms.TeamCreateForm()) if can_create else None,
    }


@login_required
@require_GET
def teams(request: AuthedRequest) -> HttpResponse:
    return render(request, "portal/teams.html", _teams_context(request, None))


@login_required
@require_http_methods(["GET", "POST"])
def team_create(request: AuthedRequest) -> HttpResponse:
    if not permissions.is_superuser(request.user):
        raise PermissionDenied("Only superusers create teams.")
    form = forms.TeamCreateForm(request.POST or None)
    if request.method == "GET":
        return render(request, "portal/teams.html", _teams_context(request, form))
    if form.is_valid():
        try:
            team = actions.team_create(ctx=_ctx(request), **form.cleaned_data)
        except ValidationError as error:
            forms.add_action_errors(form, error)
        else:
            messages.success(request, f"Created team {team.name}.")
            return redirect("team_detail", slug=team.slug)
    return render(request, "portal/teams.html", _teams_context(request, form), status=400)


def _team_context(
    request: AuthedRequest, team: Team, role: Role, add_form: forms.MemberAddForm | None = None
) -> dict[str, Any]:
    return {
        "team": team,
        "role": role,
        "is_admin": role.allows(Role.ADMIN),
        "memberships": selectors.membership_list(team),
        "add_form": add_form or forms.MemberAddForm(),
        "roles": Role.choices,
        "environments": selectors.environment_list(),
    }


@login_required
@require_GET
def team_detail(request: AuthedRequest, slug: str) -> HttpResponse:
    team, role = selectors.team_get(request.user, slug)
    return _render(request, "portal/team_detail.html", _team_context(request, team, role))


def _members_response(
    request: AuthedRequest, team: Team, add_form: forms.MemberAddForm | None = None
) -> HttpResponse:
    """After a member change: the fragment for htmx, a redirect for a plain form post."""
    role = permissions.role_for(request.user, team)
    if role is None:
        # The admin removed themselves: the team page is no longer theirs to see.
        target = reverse("teams")
        return HttpResponseClientRedirect(target) if request.htmx else redirect(target)
    context = _team_context(request, team, role, add_form)
    if request.htmx:
        return render(request, "portal/team_detail.html#members", context)
    if add_form is not None:
        return render(request, "portal/team_detail.html", context, status=400)
    return redirect("team_detail", slug=team.slug)


@login_required
@require_POST
def team_member_add(request: AuthedRequest, slug: str) -> HttpResponse:
    team, _ = selectors.team_get(request.user, slug, Role.ADMIN)
    form = forms.MemberAddForm(request.POST)
    if form.is_valid():
        role = Role(form.cleaned_data["role"])
        try:
            actions.membership_add(
                ctx=_ctx(request), team=team, user=form.cleaned_data["user"], role=role
            )
        except ValidationError as error:
            forms.add_action_errors(form, error)
        else:
            messages.success(request, f"Added {form.cleaned_data['username']} as {role.label}.")
            return _members_response(request, team)
    return _members_response(request, team, form)


def _member_change(
    request: AuthedRequest, slug: str, membership_id: int, role: str | None
) -> HttpResponse:
    team, _ = selectors.team_get(request.user, slug, Role.ADMIN)
    membership = selectors.membership_get(team, membership_id)
    try:
        if role is None:
            actions.membership_remove(ctx=_ctx(request), membership=membership)
        else:
            actions.membership_set_role(ctx=_ctx(request), membership=membership, role=Role(role))
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    return _members_response(request, team)


@login_required
@require_POST
def team_member_role(request: AuthedRequest, slug: str, membership_id: int) -> HttpResponse:
    form = forms.MemberRoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Pick one of viewer, deployer or admin.")
        selectors.team_get(request.user, slug, Role.ADMIN)
        return redirect("team_detail", slug=slug)
    return _member_change(request, slug, membership_id, form.cleaned_data["role"])


@login_required
@require_POST
def team_member_remove(request: AuthedRequest, slug: str, membership_id: int) -> HttpResponse:
    return _member_change(request, slug, membership_id, None)


# Environments


@login_required
@require_GET
def environments(request: AuthedRequest) -> HttpResponse:
    context = {
        "environment_list": selectors.environment_list(),
        "can_manage": permissions.can_manage_environments(request.user),
    }
    return render(request, "portal/environments.html", context)


@login_required
@require_GET
def environment_detail(request: AuthedRequest, slug: str) -> HttpResponse:
    environment = _about(request, selectors.environment_get(slug))
    context = {
        "env": environment,
        "config": selectors.config_list(environment, None),
        "teams": selectors.team_list(request.user),
        "can_manage": permissions.can_manage_environments(request.user),
    }
    return render(request, "portal/environment_detail.html", context)


def _environment_initial(environment: Environment) -> dict[str, Any]:
    return {name: getattr(environment, name) for name in actions.ENVIRONMENT_EDITABLE}


@login_required
@require_http_methods(["GET", "POST"])
def environment_create(request: AuthedRequest) -> HttpResponse:
    permissions.require_environment_manager(request.user)
    form = forms.EnvironmentForm(request.POST or None, initial={"colour": "#0969da"})
    if request.method == "POST" and form.is_valid():
        try:
            environment = actions.environment_create(ctx=_ctx(request), data=form.cleaned_data)
        except ValidationError as error:
            forms.add_action_errors(form, error)
        else:
            messages.success(request, f"Created environment {environment.name}.")
            return redirect("environment_detail", slug=environment.slug)
    return _form_page(request, form, None)


def _form_page(
    request: AuthedRequest, form: forms.EnvironmentForm, environment: Environment | None
) -> HttpResponse:
    status = 400 if form.is_bound and form.errors else 200
    context = {"form": form, "env": environment}
    return render(request, "portal/environment_form.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def environment_edit(request: AuthedRequest, slug: str) -> HttpResponse:
    permissions.require_environment_manager(request.user)
    environment = _about(request, selectors.environment_get(slug))
    form = forms.EnvironmentForm(request.POST or None, initial=_environment_initial(environment))
    if request.method == "POST" and form.is_valid():
        try:
            actions.environment_update(
                ctx=_ctx(request), environment=environment, data=form.cleaned_data
            )
        except ValidationError as error:
            forms.add_action_errors(form, error)
        else:
            messages.success(request, f"Saved environment {environment.name}.")
            return redirect("environment_detail", slug=environment.slug)
    # Re-read: a rejected update has already changed the instance in memory.
    return _form_page(request, form, _about(request, selectors.environment_get(slug)))


@sensitive_post_parameters("secret")
@login_required
@require_http_methods(["GET", "POST"])
def environment_credentials(request: AuthedRequest, slug: str) -> HttpResponse:
    permissions.require_environment_manager(request.user)
    environment = _about(request, selectors.environment_get(slug))
    initial = {"principal": environment.mesos_principal}
    form = forms.CredentialsForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            actions.environment_credentials_set(
                ctx=_ctx(request), environment=environment, **form.cleaned_data
            )
        except ValidationError as error:
            forms.add_action_errors(form, error)
        else:
            messages.success(request, f"Saved the Mesos credentials of {environment.name}.")
            return redirect("environment_detail", slug=environment.slug)
    status = 400 if form.is_bound and form.errors else 200
    context = {"form": form, "env": environment}
    return render(request, "portal/environment_credentials.html", context, status=status)


# Configuration and secrets


def _config_scope(request: AuthedRequest, slug: str, team_slug: str) -> tuple[Environment, Any]:
    """The environment and the team (None: environment-wide) the reader may see."""
    environment = _about(request, selectors.environment_get(slug))
    team = selectors.team_get(request.user, team_slug)[0] if team_slug else None
    return environment, team


def config_url(environment: Environment, team: Team | None, **extra: str) -> str:
    query = {"team": team.slug} if team else {}
    query.update(extra)
    base = reverse("config", kwargs={"slug": environment.slug})
    return f"{base}?{urlencode(query)}" if query else base


def _config_context(
    request: AuthedRequest,
    environment: Environment,
    team: Team | None,
    form: forms.ConfigValueForm | None = None,
) -> dict[str, Any]:
    can_manage = permissions.can_manage_config(request.user, team)
    return {
        "env": environment,
        "team": team,
        "teams": selectors.team_list(request.user),
        "values": selectors.config_list(environment, team),
        "effective": selectors.config_effective(environment, team) if team else None,
        "can_manage": can_manage,
        "form": (form or _edit_form(request, environment, team)) if can_manage else None,
        "page_url": config_url(environment, team),
    }


def _edit_form(
    request: AuthedRequest, environment: Environment, team: Team | None
) -> forms.ConfigValueForm:
    """Blank, or filled from ?key= for editing; a secret's value is never filled in."""
    key = request.GET.get("key", "")
    item = selectors.config_list(environment, team).filter(key=key).first() if key else None
    if item is None:
        return forms.ConfigValueForm()
    initial = {"key": item.key, "is_secret": item.is_secret}
    if not item.is_secret:
        initial["value"] = item.value
    return forms.ConfigValueForm(initial=initial, existing_secret=item.is_secret)


@login_required
@require_GET
def config(request: AuthedRequest, slug: str) -> HttpResponse:
    environment, team = _config_scope(request, slug, request.GET.get("team", ""))
    context = _config_context(request, environment, team)
    return _render(request, "portal/config.html", context, "config-body")


@sensitive_post_parameters("value")
@sensitive_variables()
@login_required
@require_POST
def config_set(request: AuthedRequest, slug: str) -> HttpResponse:
    environment, team = _config_scope(request, slug, request.POST.get("team", ""))
    permissions.require_config_manager(request.user, team)
    existing = selectors.config_list(environment, team).filter(
        key=request.POST.get("key", ""), is_secret=True
    )
    form = forms.ConfigValueForm(request.POST, existing_secret=existing.exists())
    if form.is_valid():
        try:
            item = actions.config_value_set(
                ctx=_ctx(request), environment=environment, team=team, **form.cleaned_data
            )
        except ValidationError as error:
            forms.add_action_errors(form, error)
        else:
            messages.success(request, f"Saved {item.key}.")
            return _config_done(request, environment, team)
    return _config_invalid(request, environment, team, form)


def _config_done(
    request: AuthedRequest, environment: Environment, team: Team | None
) -> HttpResponse:
    if request.htmx:
        context = _config_context(request, environment, team, forms.ConfigValueForm())
        return render(request, "portal/config.html#config-body", context)
    return HttpResponseRedirect(config_url(environment, team))


def _config_invalid(
    request: AuthedRequest,
    environment: Environment,
    team: Team | None,
    form: forms.ConfigValueForm,
) -> HttpResponse:
    context = _config_context(request, environment, team, form)
    # htmx swaps only 2xx answers by default; a plain post gets an honest 400.
    status = 200 if request.htmx else 400
    return render(
        request,
        "portal/config.html#config-body" if request.htmx else "portal/config.html",
        context,
        status=status,
    )


@login_required
@require_POST
def config_delete(request: AuthedRequest, slug: str) -> HttpResponse:
    environment, team = _config_scope(request, slug, request.POST.get("team", ""))
    permissions.require_config_manager(request.user, team)
    item = get_object_or_404(
        selectors.config_list(environment, team), key=request.POST.get("key", "")
    )
    actions.config_value_delete(ctx=_ctx(request), item=item)
    messages.success(request, f"Deleted {item.key}.")
    return _config_done(request, environment, team)


# Audit log


@login_required
@require_GET
def audit_log(request: AuthedRequest) -> HttpResponse:
    form = forms.AuditFilterForm(request.GET or None)
    entries = selectors.audit_list(request.user, form.filters())
    try:
        page = keyset_page(entries, cursor=request.GET.get("cursor"), limit=AUDIT_PAGE_SIZE)
    except BadCursorError as error:
        messages.error(request, str(error))
        page = keyset_page(entries, cursor=None, limit=AUDIT_PAGE_SIZE)
    context = {
        "form": form,
        "page": page,
        "rows": [{"entry": entry, "lines": audit.diff_lines(entry.diff)} for entry in page.items],
        "prev_url": _cursor_url(request, page.prev_cursor),
        "next_url": _cursor_url(request, page.next_cursor),
        "can_see": permissions.can_see_audit(request.user),
    }
    return _render(request, "portal/audit.html", context, "entries")


def _cursor_url(request: AuthedRequest, cursor: str | None) -> str | None:
    if cursor is None:
        return None
    query = request.GET.copy()
    query["cursor"] = cursor
    return f"{request.path}?{query.urlencode()}"
