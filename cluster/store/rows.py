"""Writing many rows at once: a statement per thousands of rows, never one per row.

An executemany would cost PostgreSQL a round trip and a plan per row, and
bulk_update/bulk_create compile large CASE expressions every batch. `UPDATE ... FROM`
needs SQLite 3.33 or newer.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
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
    """UPDATE many Task rows by id in a few statements; the rows updated.

    Every row names the same fields; `common` holds values shared by all, prepared once.
    Values go through each field's own preparation, so JSON and datetimes are written as
    save() would. The rows travel as few parameters as the database allows, because
    binding and planning thousands of parameters costs more than the update itself:
    PostgreSQL gets one array per column (`unnest`), SQLite one JSON text (`json_each`),
    anything else `UPDATE ... FROM (VALUES ...)` a few hundred rows at a time.
    """
    if not rows:
        return 0
    db = connections[DEFAULT_DB_ALIAS]
    fields = [_task_field(name) for name in rows[0] if name != "id"]
    shared = {name: prepare(_task_field(name), value, db) for name, value in (common or {}).items()}
    guard: list[tuple[str, Any]] = []
    if where_pending:
        guard.append(("state", Task.PENDING))
    if where_run:
        guard.append(("desired", Desired.RUN.value))
    columns = _Columns(fields, db)
    statement, size = _STATEMENTS.get(db.vendor, (_update_values, 400))
    updated = 0
    with db.cursor() as cursor:
        for chunk in chunks(rows, size):
            sql, params = statement(db, chunk, fields, shared, guard, columns)
            cursor.execute(sql, params)
            updated += int(cursor.rowcount)
    return updated


class _Columns:
    """Prepared values of the rows' fields; one agent's attributes are one dict for all its
    tasks, so each distinct dict is prepared (serialised) once."""

    def __init__(self, fields: list[Field[Any, Any]], db: BaseDatabaseWrapper) -> None:
        self.db = db
        self.memo: dict[int, Any] = {}
        self.fields = fields

    def values(self, row: Mapping[str, Any]) -> list[Any]:
        return [self.once(field, row[field.name]) for field in self.fields]

    def once(self, field: Field[Any, Any], value: Any) -> Any:
        if not isinstance(value, dict):
            return prepare(field, value, self.db)
        if id(value) not in self.memo:
            self.memo[id(value)] = prepare(field, value, self.db)
        return self.memo[id(value)]


def _sets(db: BaseDatabaseWrapper, shared: Mapping[str, Any], assigned: list[str]) -> str:
    quote = db.ops.quote_name
    sets = [f"{quote(column(Task, name))} = %s" for name in shared]
    return ", ".join([*sets, *assigned])


def _guards(db: BaseDatabaseWrapper, guard: list[tuple[str, Any]]) -> tuple[str, list[Any]]:
    table = db.ops.quote_name(Task._meta.db_table)
    text = "".join(f" AND {table}.{db.ops.quote_name(name)} = %s" for name, _ in guard)
    return text, [value for _, value in guard]


def _update_unnest(
    db: BaseDatabaseWrapper,
    chunk: Sequence[Mapping[str, Any]],
    fields: list[Field[Any, Any]],
    shared: Mapping[str, Any],
    guard: list[tuple[str, Any]],
    columns: _Columns,
) -> tuple[str, list[Any]]:
    quote = db.ops.quote_name
    table = quote(Task._meta.db_table)
    names = [f"c{n}" for n in range(len(fields))]
    arrays = ", ".join(["%s::bigint[]", *(f"%s::{f.cast_db_type(db)}[]" for f in fields)])
    assigned = [
        f"{quote(f.column or f.name)} = v.{name}" for f, name in zip(fields, names, strict=True)
    ]
    tail, tail_params = _guards(db, guard)
    ids = [row["id"] for row in chunk]
    prepared = [columns.values(row) for row in chunk]
    per_column = [list(values) for values in zip(*prepared, strict=True)] if prepared else []
    # `= ANY(ids)` tells the planner how few rows change: the function's row estimate is
    # a guess, and a bad one makes it join the wrong way round.
    sql = (
        f"UPDATE {table} SET {_sets(db, shared, assigned)}"  # noqa: S608
        f" FROM unnest({arrays}) AS v(id, {', '.join(names)})"
        f" WHERE {table}.{quote('id')} = v.id AND {table}.{quote('id')} = ANY(%s::bigint[]){tail}"
    )
    return sql, [*shared.values(), ids, *per_column, ids, *tail_params]


def _update_json_each(
    db: BaseDatabaseWrapper,
    chunk: Sequence[Mapping[str, Any]],
    fields: list[Field[Any, Any]],
    shared: Mapping[str, Any],
    guard: list[tuple[str, Any]],
    columns: _Columns,
) -> tuple[str, list[Any]]:
    """Prepared values are text, numbers or NULL on SQLite (JSON fields arrive as their
    JSON text), so they ride in one JSON array and come out unchanged."""
    quote = db.ops.quote_name
    table = quote(Task._meta.db_table)
    assigned = [
        f"{quote(f.column or f.name)} = json_extract(v.value, '$[{n}]')"
        for n, f in enumerate(fields, start=1)
    ]
    tail, tail_params = _guards(db, guard)
    payload = json.dumps([[row["id"], *columns.values(row)] for row in chunk])
    sql = (
        f"UPDATE {table} SET {_sets(db, shared, assigned)}"  # noqa: S608
        f" FROM json_each(%s) AS v"
        f" WHERE {table}.{quote('id')} = json_extract(v.value, '$[0]'){tail}"
    )
    return sql, [*shared.values(), payload, *tail_params]


def _update_values(
    db: BaseDatabaseWrapper,
    chunk: Sequence[Mapping[str, Any]],
    fields: list[Field[Any, Any]],
    shared: Mapping[str, Any],
    guard: list[tuple[str, Any]],
    columns: _Columns,
) -> tuple[str, list[Any]]:
    """Portable: a VALUES list's columns are column1, column2, ... (SQLite and PostgreSQL)."""
    quote = db.ops.quote_name
    table = quote(Task._meta.db_table)
    assigned = [f"{quote(f.column or f.name)} = v.column{n}" for n, f in enumerate(fields, start=2)]
    marks = "(" + ", ".join(["%s"] * (len(fields) + 1)) + ")"
    tail, tail_params = _guards(db, guard)
    params: list[Any] = []
    for row in chunk:
        params.append(row["id"])
        params.extend(columns.values(row))
    sql = (
        f"UPDATE {table} SET {_sets(db, shared, assigned)}"  # noqa: S608
        f" FROM (VALUES {', '.join([marks] * len(chunk))}) AS v"
        f" WHERE {table}.{quote('id')} = v.column1{tail}"
    )
    return sql, [*shared.values(), *params, *tail_params]


_Statement = Callable[..., tuple[str, list[Any]]]
# (statement, rows per statement) by database vendor.
_STATEMENTS: dict[str, tuple[_Statement, int]] = {
    "postgresql": (_update_unnest, 5000),
    "sqlite": (_update_json_each, 5000),
}


def _task_field(name: str) -> Field[Any, Any]:
    return concrete(Task, name)


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
