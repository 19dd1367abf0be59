"""The writers: rows from the simulation into the database, in buffered rounds, bypassing the ORM.

``_Writer`` buffers the rows of several services and inserts them table by
table once about ``FLUSH_ROWS`` are waiting, reserving pull request ids first
so reviews and commits can name them. ``_CopyWriter`` does it on PostgreSQL
with ``COPY ... FROM STDIN`` from a thread of its own, its indexes and
constraints set aside during the load; ``_SqliteWriter`` with ``executemany``.
``open_writer`` picks the one for the connection.
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Callable
from typing import Any

from django.db import connection, models
from psycopg import sql

from metrics.demo.clock import timestamp_text
from metrics.demo.rows import COLUMNS, ROWS_OF, _Rows
from metrics.models import PullRequest
from metrics.sql import column

# Rows buffered before a PostgreSQL flush (all tables together).
FLUSH_ROWS = 100_000


def _fixed_columns(model: type[models.Model]) -> tuple[list[str], tuple]:
    """The columns the simulation leaves out (besides the id), with their defaults.

    Read from the model, so a new column with a default needs no change here;
    one without a default stops the seeder with a clear message.
    """
    names: list[str] = []
    values: list[Any] = []
    for f in model._meta.concrete_fields:
        if f.primary_key or f.generated or f.attname in COLUMNS[model]:
            continue  # generated columns are the database's to fill
        if not f.has_default() and not f.null:
            raise ValueError(f"{model.__name__}.{f.name} has no default: metrics.demo must fill it in.")
        value = f.get_default() if f.has_default() else None
        names.append(column(f))
        values.append(json.dumps(value) if isinstance(f, models.JSONField) else value)
    return names, tuple(values)


class _Writer:
    """Buffers rows over several services and inserts them table by table, bypassing the ORM.

    Use it as a context manager: rows written inside are all inserted when the
    block ends without an error. Pull request ids are reserved before the rows
    are inserted (``reserve_ids``), so reviews and commits can name them in the
    same round.
    """

    when: Callable[[int | None], str | None]

    def __init__(self) -> None:
        self.pending = _Rows()
        self.statements = {}
        for model in COLUMNS:
            column_of = {f.attname: column(f) for f in model._meta.concrete_fields}
            columns = [column_of[name] for name in COLUMNS[model]]
            if model is PullRequest:
                columns.insert(0, column(model._meta.pk))
            fixed_names, fixed_values = _fixed_columns(model)
            self.statements[model] = (model._meta.db_table, [*columns, *fixed_names], fixed_values)

    def __enter__(self) -> _Writer:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        if exc_type is None:
            self.flush()

    def reserve_ids(self, count: int) -> list[int]:
        raise NotImplementedError

    def insert(self, table: str, columns: list[str], rows: list[tuple]) -> None:
        raise NotImplementedError

    def write(self, rows: _Rows) -> None:
        ids = self.reserve_ids(len(rows.pull_requests)) if rows.pull_requests else []
        pending = self.pending
        pending.pull_requests.extend((pk, *row) for pk, row in zip(ids, rows.pull_requests, strict=True))
        pending.reviews.extend((ids[row[0]], *row[1:]) for row in rows.reviews)
        pending.commits.extend((ids[row[0]], *row[1:]) for row in rows.commits)
        pending.deployments.extend(
            row if row.changes is None else row._replace(changes=json.dumps(row.changes)) for row in rows.deployments
        )
        pending.incidents.extend(rows.incidents)
        pending.pipeline_runs.extend(rows.pipeline_runs)
        if len(pending) >= FLUSH_ROWS:
            self.flush()

    def flush(self) -> None:
        for model, attr in ROWS_OF.items():
            rows = getattr(self.pending, attr)
            if rows:
                table, columns, fixed = self.statements[model]
                self.insert(table, columns, [row + fixed for row in rows])
                rows.clear()


class _CopyWriter(_Writer):
    """PostgreSQL: COPY from a thread of its own, into tables whose secondary indexes and constraints wait.

    - Pull request ids are drawn from the table's own sequence: ``nextval``
      never hands an id out twice, so this is safe next to concurrent writers,
      and the sequence needs no reset afterwards.
    - Simulating is pure Python and COPY mostly waits on the server (without
      holding the GIL), so a writer thread lets the two overlap.
    - Foreign keys checked row by row (deferred to the commit, tens of millions
      of checks for the large organisation), unique constraints and secondary
      indexes updated row by row cost more than building them once at the end:
      they are dropped before the load and created again after it, from their
      own definitions, in the same transaction (which ``seed`` opens), so a
      failure leaves them as they were. The tables are locked meanwhile.
    """

    QUEUED = 4  # batches of one service waiting for the writer thread

    def __init__(self) -> None:
        super().__init__()
        self.when = timestamp_text("+00")
        connection.ensure_connection()
        self.pg = connection.connection
        with self.pg.cursor() as cursor:
            cursor.execute("SELECT pg_get_serial_sequence(%s, %s)", [PullRequest._meta.db_table, "id"])
            self.sequence = cursor.fetchone()[0]
        self.queue: queue.Queue[_Rows | None] = queue.Queue(maxsize=self.QUEUED)
        self.thread = threading.Thread(target=self._drain, name="metrics-demo-copy", daemon=True)
        self.failure: BaseException | None = None
        self.restore: list[sql.Composable] = []

    def __enter__(self) -> _CopyWriter:
        self.restore = self._detach()
        self.thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        self._put(None)
        self.thread.join()
        if exc_type is not None:
            return  # the transaction rolls back, constraints and indexes with it
        if self.failure is not None:
            raise self.failure
        with self.pg.cursor() as cursor:
            # Index builds sort; give them room (for this transaction only).
            cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
            for statement in self.restore:
                cursor.execute(statement)
            for model in COLUMNS:
                cursor.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(model._meta.db_table)))
            # Django declares every foreign key DEFERRABLE INITIALLY DEFERRED.
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")

    def write(self, rows: _Rows) -> None:
        self._put(rows)

    def _put(self, rows: _Rows | None) -> None:
        while self.thread.is_alive():
            try:
                self.queue.put(rows, timeout=1)
                return
            except queue.Full:
                continue
        if self.failure is not None and rows is not None:
            raise self.failure

    def _drain(self) -> None:
        try:
            while (rows := self.queue.get()) is not None:
                super().write(rows)
            self.flush()
        except BaseException as exc:  # handed to the main thread
            self.failure = exc

    def _detach(self) -> list[sql.Composable]:
        """Drop the secondary indexes, unique constraints and foreign keys of the demo's tables.

        Returns the statements that create them again: indexes, then unique
        constraints, then foreign keys. Primary keys stay, and so does any
        unique constraint a foreign key elsewhere relies on.
        """
        tables = [model._meta.db_table for model in COLUMNS]
        with self.pg.cursor() as cursor:
            # A table with foreign key checks still queued (the catalog and the
            # repositories, inserted in this transaction) cannot be altered:
            # run those checks now; __exit__ defers constraints again.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(
                """
                SELECT c.conrelid::regclass::text, c.conname, c.contype, pg_get_constraintdef(c.oid)
                FROM pg_constraint c
                WHERE c.conrelid = ANY(%s::regclass[])
                  AND (c.contype = 'f' OR (c.contype = 'u' AND NOT EXISTS (
                      SELECT 1 FROM pg_constraint f WHERE f.contype = 'f' AND f.conindid = c.conindid)))
                ORDER BY c.contype DESC, c.conname
                """,
                [tables],
            )
            constraints = cursor.fetchall()
            cursor.execute(
                """
                SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
                FROM pg_index i
                WHERE i.indrelid = ANY(%s::regclass[]) AND NOT i.indisprimary
                  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
                ORDER BY 1
                """,
                [tables],
            )
            indexes = cursor.fetchall()
            # regclass text is already quoted (and schema-qualified when needed).
            for table, name, _, _ in constraints:
                cursor.execute(
                    sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(sql.SQL(table), sql.Identifier(name))
                )
            for index, _ in indexes:
                cursor.execute(sql.SQL("DROP INDEX {}").format(sql.SQL(index)))
        restore: list[sql.Composable] = [sql.SQL(definition) for _, definition in indexes]
        # contype DESC: unique constraints ('u') before foreign keys ('f').
        for table, name, _, definition in constraints:
            statement = sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}")
            restore.append(statement.format(sql.SQL(table), sql.Identifier(name), sql.SQL(definition)))
        return restore

    def reserve_ids(self, count: int) -> list[int]:
        with self.pg.cursor() as cursor:
            cursor.execute("SELECT nextval(%s::regclass) FROM generate_series(1, %s)", [self.sequence, count])
            return [row[0] for row in cursor]

    def insert(self, table: str, columns: list[str], rows: list[tuple]) -> None:
        statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
        )
        with self.pg.cursor() as cursor, cursor.copy(statement) as copy:
            write = copy.write_row
            for row in rows:
                write(row)


class _SqliteWriter(_Writer):
    """SQLite: executemany; pull request ids counted on from the highest one in use.

    SQLite lets one connection write at a time, and the seeder runs in a
    transaction that has already written, so no one else can take these ids
    before it commits. Times are stored the way Django stores them there:
    UTC text without an offset.
    """

    def __init__(self) -> None:
        super().__init__()
        self.when = timestamp_text("")
        table = PullRequest._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")  # noqa: S608 - a model's table name
            highest = cursor.fetchone()[0]
            cursor.execute("SELECT COALESCE(MAX(seq), 0) FROM sqlite_sequence WHERE name = %s", [table])
            # AUTOINCREMENT never reuses ids of deleted rows; neither do we.
            self.next_id = max(highest, cursor.fetchone()[0]) + 1

    def reserve_ids(self, count: int) -> list[int]:
        ids = list(range(self.next_id, self.next_id + count))
        self.next_id += count
        return ids

    def insert(self, table: str, columns: list[str], rows: list[tuple]) -> None:
        placeholders = ", ".join(["%s"] * len(columns))
        with connection.cursor() as cursor:
            cursor.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})", rows)  # noqa: S608


def open_writer() -> _Writer:
    if connection.vendor == "postgresql":
        return _CopyWriter()
    if connection.vendor == "sqlite":
        return _SqliteWriter()
    raise NotImplementedError(f"The demo writes to PostgreSQL or SQLite, not {connection.vendor}.")
