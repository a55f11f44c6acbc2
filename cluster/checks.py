"""System checks: what the framework's SQL needs of the database, said at start-up."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any

from django.core.checks import CheckMessage, Error, register
from django.db import connections

# cluster.store.rows writes with UPDATE ... FROM, which SQLite has from 3.33 on.
SQLITE_NEEDED = (3, 33, 0)


@register("database")
def database_supports_the_framework(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    vendors = {connections[alias].vendor for alias in connections}
    return database_problems(vendors, sqlite3.sqlite_version_info)


def database_problems(
    vendors: Iterable[str], sqlite_version: tuple[int, int, int]
) -> list[CheckMessage]:
    vendors = set(vendors)
    problems: list[CheckMessage] = []
    if "sqlite" in vendors and sqlite_version < SQLITE_NEEDED:
        shown = ".".join(map(str, sqlite_version))
        problems.append(
            Error(
                f"SQLite {shown} is too old: Berth needs 3.33 or newer (UPDATE ... FROM).",
                hint="Use a Python built against a newer SQLite, or PostgreSQL.",
                id="cluster.E001",
            )
        )
    unsupported = vendors - {"sqlite", "postgresql"}
    if unsupported:
        problems.append(
            Error(
                f"Database {', '.join(sorted(unsupported))} is not supported.",
                hint="Berth runs on PostgreSQL, or SQLite for a laptop.",
                id="cluster.E002",
            )
        )
    return problems
