"""PostgreSQL (psycopg 3): COPY into a temp stage, then INSERT ... ON CONFLICT, one transaction.

Batches become CSV in Arrow's C writer and stream through COPY, so a million rows never exist as
Python tuples. Lists (multi-select picklists) have no CSV form in Arrow; they are rendered as
PostgreSQL array literals ({"a","b"}) with vectorised string kernels first.

Overlapping runs: after loading its private stage, a merge takes a transaction-scoped advisory
lock for its table (`pg_advisory_xact_lock`, keyed by a hash of the table's name), so writers of
one table take turns from the read of the table to the commit, and DDL (CREATE SCHEMA, CREATE
TABLE, ADD COLUMN) never races: columns are read after the lock, and a schema is created under a
second lock of its own, since two new tables can share it. Readers are never blocked.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from zoho_pipelines.schema import SqlDialect
from zoho_pipelines.warehouse import sql
from zoho_pipelines.warehouse.base import ArrowLoadingWarehouse, WarehouseError
from zoho_pipelines.warehouse.credentials import scrub, split_url
from zoho_pipelines.warehouse.sql import TableRef

_CSV_OPTIONS = pa_csv.WriteOptions(include_header=False, batch_size=16_384)


def _array_literal(lists: pa.Array) -> pa.Array:
    """list<string> -> '{"a","b \\"c\\""}' text, null lists stay null, null items become NULL."""
    if isinstance(lists, pa.ChunkedArray):
        lists = lists.combine_chunks()
    items = pc.list_flatten(lists)
    escaped = pc.replace_substring(pc.replace_substring(items, "\\", "\\\\"), '"', '\\"')
    quoted = pc.fill_null(pc.binary_join_element_wise('"', escaped, '"', ""), "NULL")
    lengths = pc.fill_null(pc.list_value_length(lists), 0).cast(pa.int32())
    offsets = pa.concat_arrays([pa.array([0], pa.int32()), pc.cumulative_sum(lengths)])
    rebuilt = pa.ListArray.from_arrays(offsets, quoted, mask=lists.is_null())
    return pc.binary_join_element_wise("{", pc.binary_join(rebuilt, ","), "}", "")


def advisory_key(kind: str, name: str) -> int:
    """A stable signed 64-bit lock key for `name` (the same in every process and release)."""
    digest = hashlib.sha256(f"zoho_pipelines.{kind}:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _csv_ready(batch: pa.RecordBatch) -> pa.RecordBatch:
    columns = [
        _array_literal(column) if pa.types.is_list(column.type) else column for column in batch.columns
    ]
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)


class PostgresWarehouse(ArrowLoadingWarehouse):
    dialect = SqlDialect.POSTGRESQL
    max_identifier_bytes = 63  # NAMEDATALEN - 1: PostgreSQL cuts longer names silently

    def __init__(self, url: str, *, password: str | None = None) -> None:
        """`password` (WAREHOUSE_PASSWORD or its secret) replaces any password in `url`."""
        parts = split_url(url)
        secret = password or parts.password
        credentials = {"user": parts.user, "password": secret}
        try:
            self._connection = psycopg.connect(
                parts.without_credentials(),
                autocommit=True,
                **{key: value for key, value in credentials.items() if value},
            )
        except psycopg.Error as exc:
            # libpq's message carries host and user; the password is masked should it ever appear.
            raise WarehouseError(f"cannot connect to PostgreSQL: {scrub(str(exc), secret)}") from None

    @contextmanager
    def _transaction(self, purpose: str = "") -> Iterator[None]:
        with self._connection.transaction():
            yield

    def _execute(self, statement: str, params: Sequence[Any] = ()) -> None:
        self._connection.execute(statement, params or None)

    def query(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._connection.execute(statement, params or None).fetchall()

    def _lock_table(self, table: TableRef) -> None:
        self._execute("SELECT pg_advisory_xact_lock(%s)", (advisory_key("table", str(table)),))

    def _lock_schema(self, table: TableRef) -> None:
        self._execute("SELECT pg_advisory_xact_lock(%s)", (advisory_key("schema", table.schema),))

    def _load_stage(self, schema: pa.Schema, batches: Iterable[pa.RecordBatch]) -> None:
        names = self.column_names(schema.names)
        columns = [(name, self._sql_type(field.type)) for name, field in zip(names, schema, strict=True)]
        self._execute(sql.create_temp_table(sql.STAGE, columns))
        listed = ", ".join(sql.quote(name) for name in names)
        with self._connection.cursor().copy(
            f"COPY {sql.quote(sql.STAGE)} ({listed}) FROM STDIN (FORMAT csv)"
        ) as copy:
            for batch in batches:
                if batch.num_rows:
                    buffer = io.BytesIO()
                    pa_csv.write_csv(_csv_ready(batch), buffer, _CSV_OPTIONS)
                    copy.write(buffer.getbuffer())

    def close(self) -> None:
        self._connection.close()
