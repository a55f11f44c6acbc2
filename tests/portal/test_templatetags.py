"""Filters and tags in portal/templatetags/berth.py."""

from __future__ import annotations

import datetime as dt

import pytest
from django.template import Context, Template
from django.test import RequestFactory

from portal.templatetags.berth import (
    counted,
    cpus,
    duration,
    env_fg,
    exact_time,
    human_bytes,
    mb,
    percent,
    reltime,
    url_or,
)

NOW = dt.datetime(2025, 3, 14, 12, 0, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("seconds_ago", "expected"),
    [
        (3, "just now"),
        (-4, "just now"),
        (45, "45s ago"),
        (125, "2m 5s ago"),
        (3 * 3600, "3h ago"),
        (3 * 3600 + 12 * 60 + 9, "3h 12m ago"),
        (2 * 86400 + 4 * 3600, "2d 4h ago"),
        (-12 * 60, "in 12m"),
        (40 * 86400, "2025-02-02"),
    ],
)
def test_reltime_reads_like_a_person_would_say_it(seconds_ago: int, expected: str) -> None:
    assert reltime(NOW - dt.timedelta(seconds=seconds_ago), NOW) == expected


def test_reltime_leaves_missing_values_blank() -> None:
    assert reltime(None) == ""


def test_exact_time_names_its_time_zone() -> None:
    assert exact_time(NOW) == "2025-03-14 12:00:00 UTC"


def test_the_time_component_shows_relative_text_with_the_exact_time_on_hover() -> None:
    value = dt.datetime(2020, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    html = Template('{% include "components/time.html" %}').render(Context({"value": value}))
    assert 'datetime="2020-01-02T03:04:05+00:00"' in html
    assert 'title="2020-01-02 03:04:05 UTC"' in html
    assert ">2020-01-02</time>" in html


def test_the_time_component_says_never_for_no_time() -> None:
    html = Template('{% include "components/time.html" %}').render(Context({"value": None}))
    assert "never" in html
    assert "<time" not in html


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0.25, "0.2s"), (45, "45s"), (3725, "1h 2m"), (90000, "1d 1h"), (None, "\u2014")],
)
def test_duration_keeps_the_two_largest_units(value: float | None, expected: str) -> None:
    assert duration(value) == expected


def test_duration_takes_timedeltas() -> None:
    assert duration(dt.timedelta(minutes=90)) == "1h 30m"


@pytest.mark.parametrize(
    ("value", "expected"),
    [(512, "512 MB"), (1536, "1.5 GB"), (1024 * 1024, "1 TB"), (0, "0 MB"), (None, "\u2014")],
)
def test_mb_picks_the_unit_mesos_users_expect(value: int | None, expected: str) -> None:
    assert mb(value) == expected


def test_bytes_scale_by_1024() -> None:
    assert human_bytes(10) == "10 B"
    assert human_bytes(1536) == "1.5 KB"
    assert human_bytes(3 * 1024**3) == "3 GB"


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1, "1 cpu"), (0.5, "0.5 cpus"), (2.25, "2.25 cpus"), (0.125, "0.125 cpus")],
)
def test_cpus_keep_fractions_and_agree_in_number(value: float, expected: str) -> None:
    assert cpus(value) == expected


def test_percent_turns_a_ratio_into_a_percentage() -> None:
    assert percent(0.4236) == "42%"
    assert percent(0.4236, 1) == "42.4%"


@pytest.mark.parametrize(
    ("count", "nouns", "expected"),
    [
        (1, "team", "1 team"),
        (0, "team", "0 teams"),
        (3, "entry,entries", "3 entries"),
        (1, "entry,entries", "1 entry"),
        (12345, "run", "12,345 runs"),
    ],
)
def test_counted_pluralizes(count: int, nouns: str, expected: str) -> None:
    assert counted(count, nouns) == expected


@pytest.mark.parametrize(
    ("colour", "expected"),
    [
        ("#ffffff", "#111111"),
        ("#f5d90a", "#111111"),
        ("#000000", "#ffffff"),
        ("#cf222e", "#ffffff"),
        ("not a colour", "#ffffff"),
    ],
)
def test_env_fg_picks_the_readable_text_colour(colour: str, expected: str) -> None:
    assert env_fg(colour) == expected


def test_url_or_falls_back_while_a_page_does_not_exist() -> None:
    assert url_or("dashboard", "/elsewhere/") == "/"
    assert url_or("no-such-url-name", "/later/") == "/later/"


def test_nav_link_marks_the_section_being_viewed(rf: RequestFactory) -> None:
    template = Template('{% load berth %}{% nav_link "no-such-name" "/jobs/" "Jobs" %}')
    inside = template.render(Context({"request": rf.get("/jobs/42/")}))
    outside = template.render(Context({"request": rf.get("/services/")}))
    assert inside == '<a href="/jobs/" aria-current="page">Jobs</a>'
    assert outside == '<a href="/jobs/">Jobs</a>'


def test_the_dashboard_link_is_current_only_on_the_dashboard(rf: RequestFactory) -> None:
    template = Template('{% load berth %}{% nav_link "dashboard" "/" "Dashboard" %}')
    assert "aria-current" in template.render(Context({"request": rf.get("/")}))
    assert "aria-current" not in template.render(Context({"request": rf.get("/jobs/")}))
