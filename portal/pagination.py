"""Keyset (cursor) pagination over (timestamp, id), newest first, with no COUNT(*).

An OFFSET or a page count costs a scan of everything before the page; at millions of
audit rows or job runs that is seconds. A cursor names the last row seen, so each page is
one index range scan of `limit + 1` rows whatever its depth.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from django.db import models
from django.db.models import Q

M = TypeVar("M", bound=models.Model)

OLDER = "o"
NEWER = "n"


class BadCursorError(ValueError):
    pass


@dataclass(frozen=True)
class KeysetPage(Generic[M]):
    items: list[M]
    next_cursor: str | None  # older rows
    prev_cursor: str | None  # newer rows


def encode_cursor(at: datetime, pk: int, direction: str) -> str:
    raw = json.dumps([at.isoformat(), pk, direction], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at_text, pk, direction = json.loads(raw)
        at = datetime.fromisoformat(at_text)
        if not isinstance(pk, int) or direction not in (OLDER, NEWER) or at.tzinfo is None:
            raise ValueError(cursor)
    except (ValueError, TypeError, binascii.Error, json.JSONDecodeError):
        raise BadCursorError(
            "This page link is invalid or expired; start from the first page."
        ) from None
    return at, pk, direction


def keyset_page(
    queryset: models.QuerySet[M], *, cursor: str | None, limit: int, field: str = "at"
) -> KeysetPage[M]:
    """One page of `queryset` ordered by (field, pk) descending; raises BadCursorError."""
    if not cursor:
        rows = list(queryset.order_by(f"-{field}", "-pk")[: limit + 1])
        return _page(rows, limit, has_newer=False, field=field)
    at, pk, direction = decode_cursor(cursor)
    if direction == OLDER:
        # The redundant `lte` bound gives the planner a plain index range to scan.
        older = Q(**{f"{field}__lt": at}) | Q(**{field: at, "pk__lt": pk})
        qs = queryset.filter(older, **{f"{field}__lte": at}).order_by(f"-{field}", "-pk")
        return _page(list(qs[: limit + 1]), limit, has_newer=True, field=field)
    newer = Q(**{f"{field}__gt": at}) | Q(**{field: at, "pk__gt": pk})
    qs = queryset.filter(newer, **{f"{field}__gte": at}).order_by(field, "pk")
    rows = list(qs[: limit + 1])
    has_even_newer = len(rows) > limit
    rows = list(reversed(rows[:limit]))
    return KeysetPage(
        items=rows,
        next_cursor=_cursor(rows[-1], field, OLDER) if rows else None,
        prev_cursor=_cursor(rows[0], field, NEWER) if has_even_newer else None,
    )


def _cursor(row: models.Model, field: str, direction: str) -> str:
    return encode_cursor(getattr(row, field), int(row.pk), direction)


def _page(rows: list[M], limit: int, *, has_newer: bool, field: str) -> KeysetPage[M]:
    has_older = len(rows) > limit
    rows = rows[:limit]
    return KeysetPage(
        items=rows,
        next_cursor=_cursor(rows[-1], field, OLDER) if has_older and rows else None,
        prev_cursor=_cursor(rows[0], field, NEWER) if has_newer and rows else None,
    )
