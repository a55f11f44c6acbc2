from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from portal.models import AuditEntry
from portal.pagination import BadCursorError, decode_cursor, encode_cursor, keyset_page

pytestmark = pytest.mark.django_db


@pytest.fixture
def entries() -> list[AuditEntry]:
    """25 entries; several share a timestamp so the id must break ties."""
    base = timezone.now()
    return [
        AuditEntry.objects.create(action=f"a.{i}", object_type="t", at=base + timedelta(i // 3))
        for i in range(25)
    ]


def _walk_older(limit: int) -> list[list[int]]:
    pages, cursor = [], None
    while True:
        page = keyset_page(AuditEntry.objects.all(), cursor=cursor, limit=limit)
        pages.append([entry.pk for entry in page.items])
        if page.next_cursor is None:
            return pages
        cursor = page.next_cursor


def test_walking_older_visits_every_row_once_newest_first(entries) -> None:
    pages = _walk_older(limit=4)
    flat = [pk for page in pages for pk in page]
    expected = [e.pk for e in sorted(entries, key=lambda e: (e.at, e.pk), reverse=True)]
    assert flat == expected
    assert all(len(page) == 4 for page in pages[:-1])


def test_walking_back_newer_returns_the_same_pages(entries) -> None:
    qs = AuditEntry.objects.all()
    first = keyset_page(qs, cursor=None, limit=5)
    second = keyset_page(qs, cursor=first.next_cursor, limit=5)
    third = keyset_page(qs, cursor=second.next_cursor, limit=5)
    back = keyset_page(qs, cursor=third.prev_cursor, limit=5)
    assert [e.pk for e in back.items] == [e.pk for e in second.items]
    back_again = keyset_page(qs, cursor=back.prev_cursor, limit=5)
    assert [e.pk for e in back_again.items] == [e.pk for e in first.items]
    assert back_again.prev_cursor is None
    assert first.prev_cursor is None


def test_a_page_costs_one_query_and_never_counts(entries) -> None:
    first = keyset_page(AuditEntry.objects.all(), cursor=None, limit=5)
    with CaptureQueriesContext(connection) as queries:
        keyset_page(AuditEntry.objects.all(), cursor=first.next_cursor, limit=5)
    assert len(queries) == 1
    assert "COUNT(" not in queries[0]["sql"].upper()
    assert "OFFSET" not in queries[0]["sql"].upper()


@pytest.mark.parametrize("cursor", ["garbage", "e30", encode_cursor(timezone.now(), 1, "x")])
def test_a_bad_cursor_is_a_clear_error(cursor) -> None:
    with pytest.raises(BadCursorError, match="invalid"):
        decode_cursor(cursor)
