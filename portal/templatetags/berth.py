"""Filters and tags every Berth page uses: times, units, counts, colours, navigation.

Numbers from Mesos come as MB (mem, disk) and fractional cpus; the filters print them the
way the Mesos and Nomad UIs do, so people can compare figures across tools at a glance.
"""

from __future__ import annotations

import datetime as dt
import re

from django import template
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

register = template.Library()

# Template variables arrive as numbers, numeric strings, "" (missing) or None.
Number = float | str | None

_HEX = re.compile(r"^#([0-9a-fA-F]{6})$")
_MONTH = 30 * 86400
_DASH = "\u2014"


def _trim(number: float, places: int = 1) -> str:
    text = f"{number:,.{places}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _span(seconds: float) -> str:
    """Two most significant units, compact like Nomad: 45s, 12m 5s, 3h 12m, 2d 4h."""
    if seconds < 10 and seconds != int(seconds):
        return f"{_trim(seconds)}s"
    whole = int(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    for big, big_unit, small, small_unit in (
        (days, "d", hours, "h"),
        (hours, "h", minutes, "m"),
        (minutes, "m", secs, "s"),
    ):
        if big:
            return f"{big}{big_unit} {small}{small_unit}" if small else f"{big}{big_unit}"
    return f"{secs}s"


@register.filter
def reltime(value: dt.datetime | None, now: dt.datetime | None = None) -> str:
    """'12m ago', 'in 3h', 'just now'; past a month the calendar date reads better."""
    if value is None or value == "":
        return ""
    if not isinstance(value, dt.datetime):
        return str(value)
    now = now or timezone.now()
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    seconds = (now - value).total_seconds()
    if abs(seconds) < 10:
        return "just now"
    if abs(seconds) >= _MONTH:
        return timezone.localtime(value).strftime("%Y-%m-%d")
    span = _span(int(abs(seconds)))
    return f"in {span}" if seconds < 0 else f"{span} ago"


@register.filter
def exact_time(value: dt.datetime | None) -> str:
    if not isinstance(value, dt.datetime):
        return ""
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S %Z")


@register.filter
def duration(value: Number | dt.timedelta) -> str:
    if value is None or value == "":
        return _DASH
    seconds = value.total_seconds() if isinstance(value, dt.timedelta) else float(value)
    return _span(max(seconds, 0.0))


def _scaled(value: float, units: tuple[str, ...]) -> str:
    index = 0
    while abs(value) >= 1024 and index < len(units) - 1:
        value /= 1024
        index += 1
    return f"{_trim(value)} {units[index]}"


@register.filter
def mb(value: Number) -> str:
    """Mesos megabytes (mem, disk) in the largest unit that keeps a number >= 1."""
    if value is None or value == "":
        return _DASH
    return _scaled(float(value), ("MB", "GB", "TB", "PB"))


@register.filter(name="bytes")
def human_bytes(value: Number) -> str:
    if value is None or value == "":
        return _DASH
    return _scaled(float(value), ("B", "KB", "MB", "GB", "TB", "PB"))


@register.filter
def cpus(value: Number) -> str:
    if value is None or value == "":
        return _DASH
    number = float(value)
    return f"{_trim(number, 3)} {'cpu' if number == 1 else 'cpus'}"


@register.filter
def percent(value: Number, places: int = 0) -> str:
    """A ratio (0.42) as a percentage ('42%')."""
    if value is None or value == "":
        return _DASH
    return f"{_trim(float(value) * 100, int(places))}%"


@register.filter
def counted(value: int | None, nouns: str) -> str:
    """'1 team', '3 teams'; irregular plurals as 'entry,entries'."""
    count = int(value or 0)
    singular, _, plural = nouns.partition(",")
    noun = singular if count == 1 else (plural or f"{singular}s")
    return f"{count:,} {noun}"


@register.filter
def env_fg(colour: str | None) -> str:
    """Black or white, whichever reads better on the given #rrggbb background (WCAG)."""
    match = _HEX.match(colour or "")
    if not match:
        return "#ffffff"
    channels = [int(match.group(1)[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    luminance = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    on_white = 1.05 / (luminance + 0.05)
    on_black = (luminance + 0.05) / 0.05
    return "#111111" if on_black > on_white else "#ffffff"


@register.simple_tag
def url_or(name: str, fallback: str) -> str:
    """The URL named `name`, or `fallback` while the app that owns it does not exist yet."""
    try:
        return reverse(name)
    except NoReverseMatch:
        return fallback


@register.simple_tag(takes_context=True)
def nav_link(context: template.Context, name: str, fallback: str, label: str) -> SafeString:
    href = url_or(name, fallback)
    request: HttpRequest | None = context.get("request")
    path = request.path if request is not None else ""
    active = path == href if href == "/" else path.startswith(href)
    if active:
        return format_html('<a href="{}" aria-current="page">{}</a>', href, label)
    return format_html('<a href="{}">{}</a>', href, label)
