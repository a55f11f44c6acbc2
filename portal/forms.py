"""Forms for the management pages. Actions do the final validation; add_action_errors puts
their messages beside the right field."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from portal import selectors
from portal.audit import KNOWN_ACTIONS
from portal.models import (
    COLOUR,
    MAX_CONFIG_VALUE_LENGTH,
    SLUG,
    Role,
    validate_config_key,
    validate_master_urls,
    validate_mesos_role,
)


def add_action_errors(form: forms.Form, error: ValidationError) -> None:
    """Show a ValidationError raised by an action beside its field (or above the form)."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for field, messages in error.message_dict.items():
        form.add_error(field if field in form.fields else None, messages)


class TeamCreateForm(forms.Form):
    name = forms.CharField(max_length=80)
    slug = forms.CharField(
        max_length=40, validators=[SLUG], help_text="Short name for URLs, like payments."
    )


class MemberAddForm(forms.Form):
    username = forms.CharField(
        max_length=254, label="User", help_text="Username or e-mail address of an existing user."
    )
    role = forms.ChoiceField(choices=Role.choices, initial=Role.VIEWER)

    def clean_username(self) -> str:
        username: str = self.cleaned_data["username"]
        user = selectors.user_find(username)
        if user is None:
            raise ValidationError(f"No active user called {username}.")
        self.cleaned_data["user"] = user
        return username


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class EnvironmentForm(forms.Form):
    name = forms.CharField(max_length=40)
    slug = forms.CharField(max_length=40, validators=[SLUG])
    master_urls = forms.CharField(
        label="Master URLs",
        validators=[validate_master_urls],
        widget=forms.TextInput(attrs={"class": "mono"}),
        help_text="Comma-separated, several for an HA cluster.",
    )
    mesos_role = forms.CharField(
        max_length=80,
        label="Mesos role",
        validators=[validate_mesos_role],
        help_text="Tasks of this environment run under this role, like dev or prod.",
    )
    colour = forms.CharField(
        max_length=7,
        validators=[COLOUR],
        widget=forms.TextInput(attrs={"type": "color"}),
        help_text="Shown on every page of this environment.",
    )
    position = forms.IntegerField(min_value=0, max_value=32767, initial=0)
    mesos_ca_bundle = forms.CharField(
        required=False,
        label="CA bundle",
        widget=forms.Textarea(attrs={"rows": 3, "class": "mono"}),
        help_text="PEM certificates to verify the masters' TLS, when they use a private CA.",
    )


class CredentialsForm(forms.Form):
    principal = forms.CharField(max_length=120, required=False, label="Mesos principal")
    secret = forms.CharField(
        required=False,
        max_length=1024,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Leave blank to keep the current secret.",
    )
    clear_secret = forms.BooleanField(required=False, label="Remove the stored secret")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("secret") and data.get("clear_secret"):
            raise ValidationError("Either enter a new secret or remove it, not both.")
        return data


class ConfigValueForm(forms.Form):
    key = forms.CharField(
        max_length=128,
        label="Name",
        validators=[validate_config_key],
        widget=forms.TextInput(attrs={"class": "mono", "autocomplete": "off"}),
        help_text="An environment variable name, like DATABASE_URL.",
    )
    value = forms.CharField(
        required=False,
        strip=False,
        max_length=MAX_CONFIG_VALUE_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2, "class": "mono", "autocomplete": "off"}),
    )
    is_secret = forms.BooleanField(
        required=False,
        label="Secret",
        help_text="Stored encrypted and never shown again.",
    )

    def __init__(self, *args: Any, existing_secret: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if existing_secret:
            self.fields["value"].help_text = "Leave blank to keep the current secret."

    def clean_key(self) -> str:
        return str(self.cleaned_data["key"]).strip()


class AuditFilterForm(forms.Form):
    actor = forms.CharField(
        required=False,
        max_length=150,
        widget=forms.TextInput(attrs={"placeholder": "Who (username)", "aria-label": "Who"}),
    )
    action = forms.CharField(
        required=False,
        max_length=64,
        widget=forms.TextInput(
            attrs={"list": "audit-actions", "placeholder": "Action", "aria-label": "Action"}
        ),
    )
    object_type = forms.CharField(
        required=False,
        max_length=64,
        widget=forms.TextInput(attrs={"placeholder": "Object type", "aria-label": "Object type"}),
    )
    since = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        required=False, label="To", widget=forms.DateInput(attrs={"type": "date"})
    )

    known_actions = KNOWN_ACTIONS

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        since, until = data.get("since"), data.get("until")
        if since and until and since > until:
            self.add_error("until", "Pick a day on or after the first day.")
        return data

    def filters(self) -> selectors.AuditFilters:
        self.is_valid()
        # Invalid fields are left out of cleaned_data; the valid ones still filter.
        data = getattr(self, "cleaned_data", {})
        return selectors.AuditFilters(
            actor=data.get("actor", "").strip(),
            action=data.get("action", "").strip(),
            object_type=data.get("object_type", "").strip(),
            since=data.get("since"),
            until=data.get("until"),
        )
