"""Writing many rows at once: a statement per few hundred rows, never one per row.

`UPDATE ... FROM (VALUES ...)` and multi-row `INSERT ... VALUES` work alike on SQLite
(3.33 or newer) and PostgreSQL; an executemany would cost PostgreSQL a round trip and a
plan per row, and bulk_update/bulk_create compile large CASE expressions every batch.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, JSONField, Model

from cluster.models import Desired, Task

CHUNK = 500  # rows per IN (...) list: well under SQLite's variable limit


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def concrete(model: type[Model], name: str) -> Field[Any, Any]:
    field = model._meta.get_field(name)
    assert isinstance(field, Field)
    return field


def column(model: type[Model], name: str) -> str:
    field = concrete(model, name)
    return field.column or field.name


def update_tasks(
    rows: Sequence[Mapping[str, Any]],
    *,
    common: Mapping[str, Any] | None = None,
    where_pending: bool = False,
    where_run: bool = False,
) -> int:
    """UPDATE many Task rows by id, a few hundred per statement; the rows updated.

    Every row names the same fields; `common` holds values shared by all, prepared once.
    One `UPDATE ... FROM (VALUES ...)` per chunk (SQLite >= 3.33 and PostgreSQL alike; a
    VALUES list's columns are column1, column2, ... in both) instead of a statement per
    row: on PostgreSQL each statement costs a round trip and a plan. Values go through
    each field's own preparation, so JSON and datetimes are written as save() would.
    """
    if not rows:
        return 0
    db = connections[DEFAULT_DB_ALIAS]
    quote = db.ops.quote_name
    table = quote(Task._meta.db_table)
    shared = {name: prepare(_task_field(name), value, db) for name, value in (common or {}).items()}
    fields = [_task_field(name) for name in rows[0] if name != "id"]
    sets = [f"{quote(column(Task, name))} = %s" for name in shared]
    sets += [f"{quote(f.column or f.name)} = v.column{n}" for n, f in enumerate(fields, start=2)]
    where = [f"{table}.{quote('id')} = v.column1"]
    tail: list[Any] = []
    if where_pending:
        where.append(f"{table}.{quote('state')} = %s")
        tail.append(Task.PENDING)
    if where_run:
        where.append(f"{table}.{quote('desired')} = %s")
        tail.append(Desired.RUN.value)
    row_marks = (
        "(" + ", ".join([_mark(_task_field("id"), db), *(_mark(f, db) for f in fields)]) + ")"
    )
    # One agent's attributes are one dict for all its tasks: prepared (serialised) once.
    memo: dict[int, Any] = {}

    def once(field: Field[Any, Any], value: Any) -> Any:
        if not isinstance(value, dict):
            return prepare(field, value, db)
        if id(value) not in memo:
            memo[id(value)] = prepare(field, value, db)
        return memo[id(value)]

    updated = 0
    with db.cursor() as cursor:
        for chunk in chunks(rows, 400):
            values = ", ".join([row_marks] * len(chunk))
            sql = (
                f"UPDATE {table} SET {', '.join(sets)} FROM (VALUES {values}) AS v"  # noqa: S608
                f" WHERE {' AND '.join(where)}"
            )
            params = list(shared.values())
            for row in chunk:
                params.append(row["id"])
                params.extend(once(f, row[f.name]) for f in fields)
            cursor.execute(sql, [*params, *tail])
            updated += int(cursor.rowcount)
    return updated


def _task_field(name: str) -> Field[Any, Any]:
    return concrete(Task, name)


def _mark(field: Field[Any, Any], db: BaseDatabaseWrapper) -> str:
    """A placeholder PostgreSQL can type: parameters in VALUES have no column to infer from."""
    if db.vendor != "postgresql":
        return "%s"
    return f"%s::{field.cast_db_type(db)}"


def prepare(field: Field[Any, Any], value: Any, db: BaseDatabaseWrapper) -> Any:
    plain = value is None or type(value) in (str, int, float, bool)
    if plain and not isinstance(field, JSONField):
        return value
    return field.get_db_prep_save(value, db)


def insert_rows(model: type[Model], names: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """INSERT rows whose values are already prepared, in the order of `names`."""
    if not rows:
        return
    db = connections[DEFAULT_DB_ALIAS]
    quote = db.ops.quote_name
    columns = ", ".join(quote(column(model, name)) for name in names)
    row_marks = "(" + ", ".join(["%s"] * len(names)) + ")"
    with db.cursor() as cursor:
        for chunk in chunks(rows, 400):
            values = ", ".join([row_marks] * len(chunk))
            sql = f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES {values}"  # noqa: S608
            cursor.execute(sql, [value for row in chunk for value in row])
