"""Zoho record dicts -> Arrow RecordBatch in a module's schema, without ever stopping on a value.

Speed comes from letting Arrow walk the dicts: one `pa.array(records, type=struct)` call converts
every flat field in C, and Arrow casts then parse dates, offsets (+05:30, -0800) and decimals
column by column. Only JSON columns need Python per cell. When a column's values do not all pass
the columnar path, that column alone is redone value by value (`coerce`).

The never-fail rule: a value that does not fit its column (3.7 in an integer field, a list in a
text field, "17/05/1990" in a date field) never stops the sync and is never altered. Its typed
column is null and the record's `_unfitted` column holds {api_name: the value as Zoho sent it} as
JSON text, so the row lands, nothing is lost, and the value can be re-typed later in SQL. The
normaliser counts such values per field (`unfitted`), for run metadata and a WARN check.

What still stops a batch is a record that cannot be placed at all: no id (it could not be merged)
or no parseable modification time (it could not be partitioned). Those raise `RecordValueError`
naming module, record and field.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from zoho_pipelines.catalog import CursorFormat
from zoho_pipelines.schema.coerce import (
    LOOKUP_RAW,
    Unfit,
    coercion,
    json_text,
    to_datetime,
    to_epoch_ms,
)
from zoho_pipelines.schema.columns import UNFITTED_COLUMN, UTC_TIMESTAMP, Column, ColumnRole
from zoho_pipelines.schema.errors import RecordValueError
from zoho_pipelines.schema.module_schema import (
    DELETED,
    ID_COLUMN,
    MODIFIED_TIME,
    PARTITION,
    SYNCED_AT,
    ModuleSchema,
)

_ARROW_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError, TypeError)
_SAMPLES = 5
Unfitted = dict[int, dict[str, Any]]
"""Row position -> {api_name: raw value} of one batch's values that did not fit."""


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:37]}..."


# ---- the fast path: raw Arrow types Arrow can build from Python values, then checked casts --


def _raw_type(column: Column) -> pa.DataType:
    """What Arrow builds from the JSON value before the cast to the column type.

    Numbers are read as doubles: Arrow refuses an integer a double cannot hold exactly, and a
    safe cast from a double refuses a fraction or an overflow, so nothing is truncated on the way
    (building an integer array straight from 3.7 would silently give 3).
    """
    if column.role in (ColumnRole.LOOKUP_ID, ColumnRole.LOOKUP_NAME):
        return LOOKUP_RAW
    target = column.type
    if pa.types.is_integer(target) or pa.types.is_decimal(target):
        return pa.float64()
    if pa.types.is_date(target) or pa.types.is_timestamp(target):
        return pa.string()
    return target


def _blank_to_null(array: pa.Array) -> pa.Array:
    return pc.if_else(pc.equal(array, ""), pa.scalar(None, array.type), array)


def _to_decimal_exactly(raw: pa.Array, target: pa.Decimal128Type) -> pa.Array:
    """Doubles to decimals only where the result is what the JSON text said, else an Arrow error.

    Below 2**52 / 10**scale a double is finer than the column's last digit, so two decimals of
    that scale never share a double: a value whose cast reads back as the same double is exactly
    the shortest text that double was written as. Anything else goes value by value. The read-back
    goes through the decimal's text, because Arrow's decimal-to-double cast is not correctly
    rounded (447211.72 reads back as 447211.72000000003) and would send every page value by value.
    """
    if pc.any(pc.invert(pc.is_finite(raw))).as_py():
        raise pa.ArrowInvalid("NaN or infinity cannot be a decimal")
    largest = pc.max(pc.abs(raw)).as_py()
    if largest is not None and largest >= 2**52 / 10**target.scale:
        raise pa.ArrowInvalid("too large to check exactly in the columnar path")
    result = raw.cast(target)
    if pc.all(pc.equal(result.cast(pa.string()).cast(pa.float64()), raw)).as_py() is False:
        raise pa.ArrowInvalid("more decimal places than the column holds")
    return result


_BOOLEAN_DOUBLES = pa.array([0.0, 1.0])


def _holds_booleans(doubles: pa.Array, records: Sequence[Mapping[str, Any]], source: str) -> bool:
    """Whether Arrow read a JSON true or false into this numeric column (as 1.0 or 0.0).

    Only the records where the column reads 0 or 1 can hold one, so only those are looked at.
    """
    suspects = pc.indices_nonzero(pc.is_in(doubles, value_set=_BOOLEAN_DOUBLES)).to_pylist()
    return any(type(records[position].get(source)) is bool for position in suspects)


def _cast(raw: pa.Array, target: pa.DataType) -> pa.Array:
    """Raw -> column type; raises an Arrow error when any value does not fit exactly."""
    if raw.type == target:
        return raw
    if pa.types.is_string(raw.type):
        raw = _blank_to_null(raw)
    if pa.types.is_floating(raw.type) and pa.types.is_decimal(target):
        return _to_decimal_exactly(raw, target)
    return raw.cast(target)  # safe: fractions, overflows and bad dates raise


class RecordNormalizer:
    """Turns batches of one module's Zoho records into RecordBatches of its Arrow schema.

    `unfitted` counts, per Zoho field, the values kept in `_unfitted` over every batch so far;
    `unfitted_samples` holds the first few record ids of each (ids only: values may be personal).
    """

    def __init__(self, schema: ModuleSchema) -> None:
        self.schema = schema
        self.arrow_schema = schema.to_arrow()
        self.unfitted: Counter[str] = Counter()
        self.unfitted_samples: dict[str, list[str]] = {}
        self._raw_fields: dict[str, pa.DataType] = {}
        for column in schema.fields:
            if column.role in (ColumnRole.VALUE, ColumnRole.LOOKUP_ID, ColumnRole.LOOKUP_NAME):
                self._raw_fields.setdefault(column.source or column.name, _raw_type(column))
        # Arrow would read a string as a list of its characters, so lists are checked separately.
        self._struct_fields = {
            source: raw for source, raw in self._raw_fields.items() if not pa.types.is_list(raw)
        }
        self._raw_struct = pa.struct(list(self._struct_fields.items()))
        # Arrow reads true as 1.0 into a double: numeric fields are checked for booleans.
        self._numeric = frozenset(
            source for source, raw in self._raw_fields.items() if pa.types.is_floating(raw)
        )

    def records(self, records: Sequence[Mapping[str, Any]], *, synced_at: datetime) -> pa.RecordBatch:
        """Normalise live records: values in column types (or kept in `_unfitted`), `_deleted` false."""
        ids = self._ids(records, self.schema.primary_key)
        modified = self._cursor(records, ids)
        raw = self._raw_columns(records)
        unfitted: Unfitted = {}
        lookups: dict[str, pa.Array] = {}
        arrays: dict[str, pa.Array] = {}
        for column in self.schema.fields:
            if column.role is ColumnRole.JSON:
                source = column.source or column.name
                arrays[column.name] = pa.array([json_text(r.get(source)) for r in records], pa.string())
            elif column.role is ColumnRole.VALUE:
                arrays[column.name] = self._value_array(column, raw, records, unfitted)
            else:
                arrays[column.name] = self._lookup_array(column, raw, records, unfitted, lookups)
        arrays[UNFITTED_COLUMN] = self._unfitted_array(len(records), unfitted, ids)
        return self._batch(ids, modified, deleted=False, synced_at=synced_at, fields=arrays)

    def tombstones(
        self,
        deleted: Sequence[Mapping[str, Any]],
        *,
        synced_at: datetime,
        id_field: str = "id",
        deleted_time_field: str = "deleted_time",
    ) -> pa.RecordBatch:
        """Tombstone rows from deletion entries (CRM's /deleted: id, deleted_time, ...).

        Only id and the system columns are set: `_modified_time` is the deletion time, so the
        warehouse can order a deletion against the record's own changes.
        """
        ids = self._ids(deleted, id_field)
        values = [entry.get(deleted_time_field) for entry in deleted]
        modified = self._timestamps(values, ids, deleted_time_field, to_datetime, pa.string())
        return self._batch(ids, modified, deleted=True, synced_at=synced_at, fields={})

    # ---- field values ------------------------------------------------------------------------

    def _raw_columns(self, records: Sequence[Mapping[str, Any]]) -> dict[str, pa.Array] | None:
        """All flat fields in one C pass; None when some value needs the per-field path."""
        if not self._struct_fields:
            return None
        try:
            struct = pa.array(records, type=self._raw_struct)
        except _ARROW_ERRORS:
            return None
        return dict(zip(self._struct_fields, struct.flatten(), strict=True))

    def _raw_array(
        self, source: str, raw: Mapping[str, pa.Array] | None, records: Sequence[Mapping[str, Any]]
    ) -> pa.Array | None:
        """The field's values in its raw Arrow type, or None when Arrow refuses some value."""
        raw_type = self._raw_fields[source]
        array = raw.get(source) if raw is not None else None
        if array is None:
            values = [record.get(source) for record in records]
            if pa.types.is_list(raw_type) and any(isinstance(value, str) for value in values):
                return None  # a string where a list belongs
            try:
                array = pa.array(values, raw_type)
            except _ARROW_ERRORS:
                return None
        if source in self._numeric and _holds_booleans(array, records, source):
            return None
        return array

    def _value_array(
        self,
        column: Column,
        raw: Mapping[str, pa.Array] | None,
        records: Sequence[Mapping[str, Any]],
        unfitted: Unfitted,
    ) -> pa.Array:
        source = column.source or column.name
        array = self._raw_array(source, raw, records)
        if array is not None:
            try:
                return _cast(array, column.type)
            except _ARROW_ERRORS:
                pass
        return self._coerce(source, column.type, records, unfitted)

    def _lookup_array(
        self,
        column: Column,
        raw: Mapping[str, pa.Array] | None,
        records: Sequence[Mapping[str, Any]],
        unfitted: Unfitted,
        lookups: dict[str, pa.Array],
    ) -> pa.Array:
        """`<lookup>_id` or `<lookup>_name`, from one struct per lookup field and batch."""
        source = column.source or column.name
        struct = lookups.get(source)
        if struct is None:
            struct = self._raw_array(source, raw, records)
            if struct is None:
                struct = self._coerce(source, LOOKUP_RAW, records, unfitted)
            lookups[source] = struct
        key = "id" if column.role is ColumnRole.LOOKUP_ID else "name"
        return struct.flatten()[LOOKUP_RAW.get_field_index(key)]

    def _coerce(
        self,
        source: str,
        arrow_type: pa.DataType,
        records: Sequence[Mapping[str, Any]],
        unfitted: Unfitted,
    ) -> pa.Array:
        """Value by value: what fits is converted, what does not is null here and kept in `unfitted`."""
        convert: Callable[[object], object] = coercion(arrow_type)
        converted: list[object] = []
        for position, record in enumerate(records):
            value = record.get(source)
            if value is None or (value == "" and not pa.types.is_string(arrow_type)):
                converted.append(None)
                continue
            try:
                converted.append(convert(value))
            except Unfit:
                converted.append(None)
                unfitted.setdefault(position, {})[source] = value
        return pa.array(converted, arrow_type)

    def _unfitted_array(self, count: int, unfitted: Unfitted, ids: pa.Array) -> pa.Array:
        if not unfitted:
            return pa.nulls(count, pa.string())
        for position, fields in unfitted.items():
            for field in fields:
                self.unfitted[field] += 1
                samples = self.unfitted_samples.setdefault(field, [])
                if len(samples) < _SAMPLES:
                    samples.append(ids[position].as_py())
        return pa.array([json_text(unfitted.get(position)) for position in range(count)], pa.string())

    # ---- id, cursor and the batch -------------------------------------------------------------

    def _fail(self, record_id: object, field: str, problem: str) -> RecordValueError:
        return RecordValueError(
            module=self.schema.qualified_name, record_id=record_id, field=field, problem=problem
        )

    def _batch(
        self,
        ids: pa.Array,
        modified: pa.Array,
        *,
        deleted: bool,
        synced_at: datetime,
        fields: Mapping[str, pa.Array],
    ) -> pa.RecordBatch:
        if synced_at.tzinfo is None:
            raise ValueError("synced_at must be timezone-aware")
        count = len(ids)
        system = {
            ID_COLUMN: ids,
            MODIFIED_TIME: modified,
            DELETED: pa.repeat(pa.scalar(deleted), count),
            SYNCED_AT: pa.repeat(pa.scalar(synced_at.astimezone(UTC), UTC_TIMESTAMP), count),
            PARTITION: modified.cast(pa.date32()),
        }
        arrays = []
        for field in self.arrow_schema:
            array = system.get(field.name, fields.get(field.name))
            arrays.append(pa.nulls(count, field.type) if array is None else array)
        return pa.RecordBatch.from_arrays(arrays, schema=self.arrow_schema)

    def _ids(self, records: Sequence[Mapping[str, Any]], key: str) -> pa.Array:
        values = [record.get(key) for record in records]
        try:
            ids = pa.array(values, pa.string())
        except _ARROW_ERRORS:
            ids = pa.array([None if value is None else self._id_text(value, key) for value in values])
        if ids.null_count or pc.any(pc.equal(ids, "")).as_py():
            position = next(index for index, value in enumerate(values) if value in (None, ""))
            raise self._fail(f"#{position} of batch", key, "has no record id")
        return ids.cast(pa.string())

    def _id_text(self, value: object, key: str) -> str:
        if isinstance(value, str | int) and not isinstance(value, bool):
            return str(value)
        raise self._fail(_short(value), key, "record id must be text or an integer")

    def _cursor(self, records: Sequence[Mapping[str, Any]], ids: pa.Array) -> pa.Array:
        field = self.schema.cursor_field
        values = [record.get(field) for record in records]
        if self.schema.cursor_format is CursorFormat.EPOCH_MS:
            return self._timestamps(values, ids, field, to_epoch_ms, pa.int64())
        return self._timestamps(values, ids, field, to_datetime, pa.string())

    def _timestamps(
        self,
        values: list[Any],
        ids: pa.Array,
        field: str,
        convert: Callable[[object], datetime],
        raw_type: pa.DataType,
    ) -> pa.Array:
        try:
            raw = pa.array(values, raw_type)
            if pa.types.is_integer(raw_type):
                moments = raw.cast(pa.timestamp("ms", tz="UTC")).cast(UTC_TIMESTAMP)
            else:
                moments = _blank_to_null(raw).cast(UTC_TIMESTAMP)
        except _ARROW_ERRORS:
            moments = self._coerce_moments(values, ids, field, convert)
        if moments.null_count:
            position = moments.is_null().index(True).as_py()
            raise self._fail(ids[position].as_py(), field, "has no modification time")
        return moments

    def _coerce_moments(
        self, values: list[Any], ids: pa.Array, field: str, convert: Callable[[object], datetime]
    ) -> pa.Array:
        moments: list[datetime | None] = []
        for position, value in enumerate(values):
            try:
                moments.append(None if value in (None, "") else convert(value))
            except Unfit as unfit:
                raise self._fail(
                    ids[position].as_py(),
                    field,
                    f"expected {unfit}, got {type(value).__name__} {_short(value)}",
                ) from None
        return pa.array(moments, UTC_TIMESTAMP)
