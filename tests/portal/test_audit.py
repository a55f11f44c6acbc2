from __future__ import annotations

import pytest
from django.test import RequestFactory

from portal.audit import REDACTED, changes, client_ip, diff_lines


@pytest.mark.parametrize(
    ("trusted", "forwarded", "expected"),
    [
        (0, "1.1.1.1", "10.0.0.1"),
        (1, "1.1.1.1", "1.1.1.1"),
        (1, "6.6.6.6, 1.1.1.1", "1.1.1.1"),
        (2, "6.6.6.6, 1.1.1.1, 10.0.0.2", "1.1.1.1"),
        (2, "1.1.1.1", "10.0.0.1"),
        (1, "not-an-ip", "10.0.0.1"),
        (1, "", "10.0.0.1"),
    ],
)
def test_client_ip_believes_forwarded_for_only_behind_trusted_proxies(
    settings, trusted, forwarded, expected
) -> None:
    settings.BERTH_TRUSTED_PROXIES = trusted
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected


def test_changes_lists_only_differences_and_redacts_secret_fields() -> None:
    diff = changes(
        {"a": 1, "b": "same", "token": "old"},
        {"a": 2, "b": "same", "token": "new"},
        secret=frozenset({"token"}),
    )
    assert diff == {"a": [1, 2], "token": REDACTED}


def test_changes_shortens_long_values() -> None:
    diff = changes({"v": ""}, {"v": "x" * 1000})
    assert len(diff["v"][1]) < 210


def test_diff_lines_reads_like_a_sentence() -> None:
    assert diff_lines({"role": ["viewer", "admin"], "value": REDACTED, "user": [None, "bob"]}) == [
        "role: viewer → admin",
        f"value: {REDACTED}",
        "user: - → bob",
    ]
