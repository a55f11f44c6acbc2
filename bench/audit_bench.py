"""Audit log reads at millions of rows: keyset pages cost the same however deep they are.

Fills a scratch database (SQLite in a temporary folder, or DATABASE_URL) with N audit
entries spread over teams, actors and actions, then times the queries the audit page and
API make: the first page, a page deep in the history, filtered pages, and a team admin's
view. Prints milliseconds (median of several runs); asserts nothing.

    .venv/bin/python bench/audit_bench.py --rows 1000000
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("BERTH_DATA_DIR", tempfile.mkdtemp(prefix="berth-audit-bench-"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from portal.models import AuditEntry, Team  # noqa: E402
from portal.pagination import OLDER, encode_cursor, keyset_page  # noqa: E402
from portal.selectors import AuditFilters, audit_list  # noqa: E402

ACTIONS = ["config.set", "secret.set", "config.delete", "membership.add", "environment.update"]
BATCH = 20_000


def fill(rows: int, teams: list[Team]) -> None:
    start = timezone.now() - timedelta(seconds=rows)
    made = 0
    while made < rows:
        batch = [
            AuditEntry(
                # Several rows share each second, so the id must break ties.
                at=start + timedelta(seconds=(made + i) // 3),
                actor_username=f"user{(made + i) % 50}",
                action=ACTIONS[(made + i) % len(ACTIONS)],
                object_type="configvalue",
                object_repr=f"KEY_{made + i}",
                team_id=teams[(made + i) % len(teams)].pk,
                diff={"value": ["a", "b"]},
            )
            for i in range(min(BATCH, rows - made))
        ]
        AuditEntry.objects.bulk_create(batch)
        made += len(batch)


def timed(run: Callable[[], object], repeat: int = 7) -> float:
    samples = []
    for _ in range(repeat):
        began = time.perf_counter()
        run()
        samples.append((time.perf_counter() - began) * 1000)
    return statistics.median(samples)


def deep_cursor(depth: int) -> str | None:
    """A cursor `depth` rows into the history, found the way a reader would get there."""
    entry = AuditEntry.objects.order_by("-at", "-id")[depth : depth + 1].get()
    return encode_cursor(entry.at, entry.pk, OLDER)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--limit", type=int, default=50)
    parser.add_argument(
        "--reuse", action="store_true", help="Keep the rows a previous run left (DATABASE_URL)."
    )
    args = parser.parse_args()

    call_command("migrate", verbosity=0)
    teams = [
        Team.objects.get_or_create(slug=f"t{i}", defaults={"name": f"T{i}"})[0] for i in range(20)
    ]
    if not (args.reuse and AuditEntry.objects.exists()):
        began = time.perf_counter()
        fill(args.rows, teams)
        print(f"filled {args.rows:,} rows in {time.perf_counter() - began:.1f} s")
    # Fresh statistics, as autovacuum (PostgreSQL) or a periodic ANALYZE would keep them.
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    args.rows = AuditEntry.objects.order_by().count()

    everything = AuditEntry.objects.all()
    cursor = deep_cursor(args.rows * 9 // 10)
    cases: dict[str, Callable[[], object]] = {
        "first page": lambda: keyset_page(everything, cursor=None, limit=args.limit),
        "page 90% deep": lambda: keyset_page(everything, cursor=cursor, limit=args.limit),
        "action filter": lambda: keyset_page(
            everything.filter(action="secret.set"), cursor=None, limit=args.limit
        ),
        "one team (team admin)": lambda: keyset_page(
            everything.filter(team_id=teams[3].pk), cursor=None, limit=args.limit
        ),
        "actor + date range": lambda: keyset_page(
            audit_list(
                _Superuser(),
                AuditFilters(actor="user7", since=timezone.localdate() - timedelta(days=3)),
            ),
            cursor=None,
            limit=args.limit,
        ),
    }
    for name, run in cases.items():
        print(f"{name:<24} {timed(run):8.2f} ms  ({args.limit} rows, no COUNT)")


class _Superuser:
    is_authenticated = True
    is_active = True
    is_superuser = True
    pk = None


if __name__ == "__main__":
    main()
