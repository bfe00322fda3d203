"""PostgreSQL (psycopg 3): COPY into a temp stage, then INSERT ... ON CONFLICT, one transaction.

Batches become CSV in Arrow's C writer and stream through COPY, so a million rows never exist as
Python tuples. Lists (multi-select picklists) have no CSV form in Arrow; they are rendered as
PostgreSQL array literals ({"a","b"}) with vectorised string kernels first.
"""

from __future__ import annotations

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


def _csv_ready(batch: pa.RecordBatch) -> pa.RecordBatch:
    columns = [
        _array_literal(column) if pa.types.is_list(column.type) else column for column in batch.columns
    ]
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)


class PostgresWarehouse(ArrowLoadingWarehouse):
    dialect = SqlDialect.POSTGRESQL

    def __init__(self, url: str) -> None:
        try:
            self._connection = psycopg.connect(url, autocommit=True)
        except psycopg.Error as exc:
            # psycopg's message carries host and user, never the password.
            raise WarehouseError(f"cannot connect to PostgreSQL: {exc}") from None

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        with self._connection.transaction():
            yield

    def _execute(self, statement: str, params: Sequence[Any] = ()) -> None:
        self._connection.execute(statement, params or None)

    def query(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._connection.execute(statement, params or None).fetchall()

    def _load_stage(self, schema: pa.Schema, batches: Iterable[pa.RecordBatch]) -> None:
        columns = [(field.name, self._sql_type(field.type)) for field in schema]
        self._execute(sql.create_temp_table(sql.STAGE, columns))
        names = ", ".join(sql.quote(field.name) for field in schema)
        with self._connection.cursor().copy(
            f"COPY {sql.quote(sql.STAGE)} ({names}) FROM STDIN (FORMAT csv)"
        ) as copy:
            for batch in batches:
                if batch.num_rows:
                    buffer = io.BytesIO()
                    pa_csv.write_csv(_csv_ready(batch), buffer, _CSV_OPTIONS)
                    copy.write(buffer.getbuffer())

    def close(self) -> None:
        self._connection.close()
