"""SQL that the ORM does not write well."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connection, models


def column(field: models.Field[Any, Any]) -> str:
    """A concrete field's column (typed ``str | None``: None is for fields without one)."""
    assert field.column is not None
    return field.column


def _concrete_field(model: type[models.Model], name: str) -> models.Field[Any, Any]:
    field = model._meta.get_field(name)
    assert isinstance(field, models.Field)  # not a relation's reverse side, which has no column
    return field


def update_rows(model: type[models.Model], changes: list[tuple[int, dict]], batch: int = 1000) -> None:
    """Write each row's new values: one ``UPDATE ... FROM (VALUES ...)`` per batch of rows.

    bulk_update's per-row CASE expressions grow quadratically, and an UPDATE per row
    (or per distinct set of values) costs a round trip each; this is one statement
    per thousand rows on PostgreSQL and SQLite alike.
    """
    if not changes:
        return
    names = list(changes[0][1])
    fields = [_concrete_field(model, name) for name in names]
    table = connection.ops.quote_name(model._meta.db_table)
    if connection.vendor == "postgresql":  # VALUES columns need their types; SQLite has none to give
        cell = "({})".format(", ".join(f"%s::{f.cast_db_type(connection)}" for f in [model._meta.pk, *fields]))
    else:
        cell = "({})".format(", ".join(["%s"] * (len(fields) + 1)))
    assignments = ", ".join(
        f"{connection.ops.quote_name(column(field))} = v.column{number}" for number, field in enumerate(fields, start=2)
    )
    pk_column = connection.ops.quote_name(column(model._meta.pk))
    with connection.cursor() as cursor:
        for start in range(0, len(changes), batch):
            rows = changes[start : start + batch]
            params = [
                prepared
                for pk, values in rows
                for prepared in (
                    pk,
                    *(f.get_db_prep_save(values[name], connection) for f, name in zip(fields, names, strict=True)),
                )
            ]
            cursor.execute(
                f"UPDATE {table} SET {assignments} FROM (VALUES {', '.join([cell] * len(rows))}) AS v "  # noqa: S608 - names from the model, values as parameters
                f"WHERE {table}.{pk_column} = v.column1",
                params,
            )


@models.ForeignKey.register_lookup
class AnyOf(models.Lookup):
    """``service__any=ids``: the rows whose foreign key is one of ``ids``.

    ``__in`` binds one parameter per id, and psycopg formats each in Python: 2,000 ids (an
    organisation's services) cost ~35 ms a query before PostgreSQL sees it. On PostgreSQL
    this binds the ids as one array, ``= ANY(%s)``; elsewhere it is the same IN list.
    """

    lookup_name = "any"
    prepare_rhs = False

    def as_sql(self, compiler, connection) -> tuple[str, list]:  # type: ignore[override]  # params a list: Django takes any sequence
        lhs, params = self.process_lhs(compiler, connection)
        ids = list(self.rhs)
        if not ids:
            raise EmptyResultSet
        if connection.vendor == "postgresql":
            return f"{lhs} = ANY(%s)", [*params, ids]
        return f"{lhs} IN ({', '.join(['%s'] * len(ids))})", [*params, *ids]


class JSONWithout(models.Func):
    """A JSON object column without its members ``keys``, in one read of the column.

    A ``->`` per member kept reads the whole value once each, on PostgreSQL decompressing it each time: a group's
    week row of rollups is 12 kB compressed, and its seven shown distributions cost a quarter's read 6.5 ms that
    way, 4 ms as the object less the four others (``-``). SQLite removes them with ``json_remove``.
    """

    output_field = models.JSONField()

    def __init__(self, column: str, keys: Sequence[str]) -> None:
        super().__init__(models.F(column))
        self.keys = list(keys)

    def as_sql(self, compiler, connection, **extra_context) -> tuple[str, list]:  # type: ignore[override]  # params a list: Django takes any sequence
        sql, params = compiler.compile(self.get_source_expressions()[0])
        if not self.keys:
            return sql, list(params)
        if connection.vendor == "postgresql":
            return f"({sql} - %s::text[])", [*params, self.keys]
        paths = ", ".join(["%s"] * len(self.keys))
        return f"json_remove({sql}, {paths})", [*params, *(f'$."{key}"' for key in self.keys)]
