"""Writing many rows at once: a statement per thousands of rows, never one per row.

An executemany would cost PostgreSQL a round trip and a plan per row, and
bulk_update/bulk_create compile large CASE expressions every batch. `UPDATE ... FROM`
needs SQLite 3.33 or newer.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
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
    PostgreSQL gets one array per column (`unnest`), SQLite one JSON text (`json_each`);
    no other database is supported (cluster.checks says so at start-up).
    """
    if not rows:
        return 0
    db = connections[DEFAULT_DB_ALIAS]
    quote = db.ops.quote_name
    table = quote(Task._meta.db_table)
    fields = [_task_field(name) for name in rows[0] if name != "id"]
    shared = {name: prepare(_task_field(name), value, db) for name, value in (common or {}).items()}
    sets = [f"{quote(column(Task, name))} = %s" for name in shared]
    guard: list[tuple[str, Any]] = []
    if where_pending:
        guard.append(("state", Task.PENDING))
    if where_run:
        guard.append(("desired", Desired.RUN.value))
    tail = "".join(f" AND {table}.{quote(name)} = %s" for name, _ in guard)
    columns = _Columns(fields, db)
    source_for, size = _SOURCES[db.vendor]
    updated = 0
    with db.cursor() as cursor:
        for chunk in chunks(rows, size):
            source = source_for(db, table, chunk, columns)
            sql = (
                f"UPDATE {table} SET {', '.join([*sets, *source.assigned])}"  # noqa: S608
                f" FROM {source.rows} WHERE {source.join}{tail}"
            )
            params = [*shared.values(), *source.params, *(value for _, value in guard)]
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

    def assigned(self, expression: Callable[[int], str]) -> list[str]:
        """`column = <expression of the field's position>` for every field."""
        quote = self.db.ops.quote_name
        return [f"{quote(f.column or f.name)} = {expression(n)}" for n, f in enumerate(self.fields)]


@dataclass(frozen=True, slots=True)
class _Source:
    """How one chunk of rows reaches the UPDATE: its FROM item, the SET assignments that
    read it, the condition tying it to the table, and their parameters in that order."""

    rows: str
    assigned: list[str]
    join: str
    params: list[Any]


def _unnest_source(
    db: BaseDatabaseWrapper, table: str, chunk: Sequence[Mapping[str, Any]], columns: _Columns
) -> _Source:
    arrays = ", ".join(["%s::bigint[]", *(f"%s::{f.cast_db_type(db)}[]" for f in columns.fields)])
    names = ", ".join(f"c{n}" for n in range(len(columns.fields)))
    ids = [row["id"] for row in chunk]
    prepared = [columns.values(row) for row in chunk]
    per_column = [list(values) for values in zip(*prepared, strict=True)]
    key = f"{table}.{db.ops.quote_name('id')}"
    return _Source(
        rows=f"unnest({arrays}) AS v(id, {names})",
        assigned=columns.assigned(lambda n: f"v.c{n}"),
        # `= ANY(ids)` tells the planner how few rows change: the function's row estimate
        # is a guess, and a bad one makes it join the wrong way round.
        join=f"{key} = v.id AND {key} = ANY(%s::bigint[])",
        params=[ids, *per_column, ids],
    )


def _json_each_source(
    db: BaseDatabaseWrapper, table: str, chunk: Sequence[Mapping[str, Any]], columns: _Columns
) -> _Source:
    """Prepared values are text, numbers or NULL on SQLite (JSON fields arrive as their
    JSON text), so they ride in one JSON array and come out unchanged."""
    payload = json.dumps([[row["id"], *columns.values(row)] for row in chunk])
    return _Source(
        rows="json_each(%s) AS v",
        assigned=columns.assigned(lambda n: f"json_extract(v.value, '$[{n + 1}]')"),
        join=f"{table}.{db.ops.quote_name('id')} = json_extract(v.value, '$[0]')",
        params=[payload],
    )


_SourceFor = Callable[[BaseDatabaseWrapper, str, Sequence[Mapping[str, Any]], _Columns], _Source]
# (how rows travel, rows per statement) by database vendor.
_SOURCES: dict[str, tuple[_SourceFor, int]] = {
    "postgresql": (_unnest_source, 5000),
    "sqlite": (_json_each_source, 5000),
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
