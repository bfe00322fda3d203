"""Zoho record dicts -> Arrow RecordBatch in a module's schema.

Speed comes from letting Arrow walk the dicts: one `pa.array(records, type=struct)` call converts
every flat field in C, and Arrow casts then parse dates, offsets (+05:30, -0800) and decimals
column by column. Only JSON columns need Python per cell. When a value does not fit, the failing
column alone is redone cell by cell, which either coerces the harmless cases Zoho produces (a
number in a text field, "" for an empty date, "12.50" for a currency) or raises
`RecordValueError` naming module, record id and field.

Value policy, in one place:
- "" in a non-text field is null (Books renders empty dates and amounts that way);
- decimals are rounded half-even to the field's decimal_place (Zoho stores that scale);
- a datetime without a UTC offset is refused: guessing the org's time zone would shift data;
- a record without id or modification time is refused: it could be neither merged nor
  partitioned.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from zoho_pipelines.catalog import CursorFormat
from zoho_pipelines.schema.columns import STRING_LIST, UTC_TIMESTAMP, Column, ColumnRole
from zoho_pipelines.schema.errors import RecordValueError
from zoho_pipelines.schema.module_schema import (
    DELETED,
    ID_COLUMN,
    MODIFIED_TIME,
    PARTITION,
    SYNCED_AT,
    ModuleSchema,
)

_LOOKUP_RAW = pa.struct([("id", pa.string()), ("name", pa.string())])
_INT32_RANGE = range(-(2**31), 2**31)
_ARROW_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError, TypeError)


class _Unfit(Exception):
    """A value does not fit; the message says what was expected."""


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:37]}..."


# ---- per-cell coercions (the slow path, used only for a column Arrow refused) ----------------


def _to_text(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return str(value)
    raise _Unfit("text")


def _to_int(value: object) -> int:
    if isinstance(value, bool):
        raise _Unfit("an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, float | Decimal) and value == int(value):
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            raise _Unfit("an integer") from None
    raise _Unfit("an integer")


def _to_int32(value: object) -> int:
    number = _to_int(value)
    if number not in _INT32_RANGE:
        raise _Unfit("a 32-bit integer")
    return number


def _to_bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise _Unfit("a boolean")


def _to_float(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        raise _Unfit("a number")
    try:
        return float(value)
    except ValueError:
        raise _Unfit("a number") from None


def _decimal_coercion(arrow_type: pa.Decimal128Type) -> Callable[[object], Decimal]:
    quantum = Decimal(1).scaleb(-arrow_type.scale)
    limit = Decimal(10) ** (arrow_type.precision - arrow_type.scale)

    def to_decimal(value: object) -> Decimal:
        if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
            raise _Unfit("a decimal number")
        try:
            number = Decimal(str(value).strip()).quantize(quantum, rounding=ROUND_HALF_EVEN)
        except InvalidOperation:
            raise _Unfit("a decimal number") from None
        if not number.is_finite() or abs(number) >= limit:
            raise _Unfit(f"a decimal number below 10^{arrow_type.precision - arrow_type.scale}")
        return number

    return to_decimal


def _to_date(value: object) -> date:
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise _Unfit("a date (YYYY-MM-DD)")


def _to_datetime(value: object) -> datetime:
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise _Unfit("an ISO 8601 date-time") from None
        if moment.tzinfo is None:
            raise _Unfit("a date-time with a UTC offset")
        return moment.astimezone(UTC)
    raise _Unfit("an ISO 8601 date-time")


def _to_epoch_ms(value: object) -> datetime:
    milliseconds = _to_int(value)
    return datetime.fromtimestamp(milliseconds / 1000, tz=UTC)


def _to_string_list(value: object) -> list[str]:
    if isinstance(value, list | tuple):
        return [_to_text(item) for item in value if item is not None]
    raise _Unfit("a list of strings")


def _to_lookup(value: object) -> dict[str, str | None]:
    if isinstance(value, Mapping):
        key, name = value.get("id"), value.get("name")
        return {
            "id": None if key is None else _to_text(key),
            "name": None if name is None else _to_text(name),
        }
    if isinstance(value, str | int) and not isinstance(value, bool):
        return {"id": str(value), "name": None}
    raise _Unfit('a lookup {"id": ..., "name": ...}')


def _coercion(arrow_type: pa.DataType) -> Callable[[object], object]:
    if pa.types.is_string(arrow_type):
        return _to_text
    if pa.types.is_int32(arrow_type):
        return _to_int32
    if pa.types.is_integer(arrow_type):
        return _to_int
    if pa.types.is_boolean(arrow_type):
        return _to_bool
    if pa.types.is_floating(arrow_type):
        return _to_float
    if pa.types.is_decimal(arrow_type):
        return _decimal_coercion(arrow_type)
    if pa.types.is_date(arrow_type):
        return _to_date
    if pa.types.is_timestamp(arrow_type):
        return _to_datetime
    if arrow_type == STRING_LIST:
        return _to_string_list
    if arrow_type == _LOOKUP_RAW:
        return _to_lookup
    raise TypeError(f"no coercion for {arrow_type}")


# ---- the fast path: raw Arrow types Arrow can build from Python values, then casts ----------


def _raw_type(column: Column) -> pa.DataType:
    """What Arrow builds from the JSON value before the cast to the column type."""
    if column.role in (ColumnRole.LOOKUP_ID, ColumnRole.LOOKUP_NAME):
        return _LOOKUP_RAW
    target = column.type
    if pa.types.is_integer(target):
        return pa.int64()
    if pa.types.is_decimal(target):
        return pa.float64()
    if pa.types.is_date(target) or pa.types.is_timestamp(target):
        return pa.string()
    return target


def _blank_to_null(array: pa.Array) -> pa.Array:
    return pc.if_else(pc.equal(array, ""), pa.scalar(None, array.type), array)


def _cast(raw: pa.Array, target: pa.DataType) -> pa.Array:
    """Raw -> column type; raises an Arrow error when any value does not fit."""
    if raw.type == target:
        return raw
    if pa.types.is_string(raw.type):
        raw = _blank_to_null(raw)
    if pa.types.is_floating(raw.type) and pc.any(pc.invert(pc.is_finite(raw))).as_py():
        raise pa.ArrowInvalid("NaN or infinity cannot be a decimal")
    return raw.cast(target)


class RecordNormalizer:
    """Turns batches of one module's Zoho records into RecordBatches of its Arrow schema."""

    def __init__(self, schema: ModuleSchema) -> None:
        self.schema = schema
        self.arrow_schema = schema.to_arrow()
        self._raw_fields: dict[str, pa.DataType] = {}
        for column in schema.fields:
            if column.role is not ColumnRole.JSON and column.source:
                self._raw_fields.setdefault(column.source, _raw_type(column))
        # Arrow would read a string as a list of its characters, so lists are checked separately.
        self._struct_fields = {
            source: raw for source, raw in self._raw_fields.items() if not pa.types.is_list(raw)
        }
        self._raw_struct = pa.struct(list(self._struct_fields.items()))

    def records(self, records: Sequence[Mapping[str, Any]], *, synced_at: datetime) -> pa.RecordBatch:
        """Normalise live records: values in column types, `_deleted` false."""
        ids = self._ids(records, self.schema.primary_key)
        raw = self._raw_columns(records)
        arrays: dict[str, pa.Array] = {}
        for column in self.schema.fields:
            arrays[column.name] = self._field_array(column, raw, records, ids)
        modified = self._cursor(records, ids)
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
        modified = self._timestamps(values, ids, deleted_time_field, _to_datetime, pa.string())
        return self._batch(ids, modified, deleted=True, synced_at=synced_at, fields={})

    # ---- pieces ----------------------------------------------------------------------------

    def _fail(self, record_id: object, field: str, problem: str) -> RecordValueError:
        return RecordValueError(
            module=self.schema.qualified_name, record_id=record_id, field=field, problem=problem
        )

    def _unfit(self, record_id: object, field: str, unfit: _Unfit, value: object) -> RecordValueError:
        return self._fail(record_id, field, f"expected {unfit}, got {type(value).__name__} {_short(value)}")

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

    def _raw_columns(self, records: Sequence[Mapping[str, Any]]) -> dict[str, pa.Array] | None:
        """All flat fields in one C pass; None when some value needs the per-field path."""
        if not self._struct_fields:
            return None
        try:
            struct = pa.array(records, type=self._raw_struct)
        except _ARROW_ERRORS:
            return None
        return dict(zip(self._struct_fields, struct.flatten(), strict=True))

    def _field_array(
        self,
        column: Column,
        raw: Mapping[str, pa.Array] | None,
        records: Sequence[Mapping[str, Any]],
        ids: pa.Array,
    ) -> pa.Array:
        source = column.source or column.name
        if column.role is ColumnRole.JSON:
            return pa.array(
                [_json_text(record.get(source)) for record in records],
                pa.string(),
            )
        raw_type = self._raw_fields[source]
        array = raw.get(source) if raw is not None else None
        if array is None:
            values = [record.get(source) for record in records]
            try:
                if pa.types.is_list(raw_type) and any(isinstance(value, str) for value in values):
                    raise TypeError("a string where a list belongs")
                array = pa.array(values, raw_type)
            except _ARROW_ERRORS:
                if raw_type != _LOOKUP_RAW:
                    return self._coerce(values, column.type, ids, source)
                array = self._coerce(values, raw_type, ids, source)
        if raw_type == _LOOKUP_RAW:
            key = "id" if column.role is ColumnRole.LOOKUP_ID else "name"
            return array.flatten()[_LOOKUP_RAW.get_field_index(key)]
        try:
            return _cast(array, column.type)
        except _ARROW_ERRORS:
            values = [record.get(source) for record in records]
            return self._coerce(values, column.type, ids, source)

    def _coerce(self, values: list[Any], arrow_type: pa.DataType, ids: pa.Array, field: str) -> pa.Array:
        convert = _coercion(arrow_type)
        converted: list[object] = []
        for position, value in enumerate(values):
            if value is None or (value == "" and not pa.types.is_string(arrow_type)):
                converted.append(None)
                continue
            try:
                converted.append(convert(value))
            except _Unfit as unfit:
                raise self._fail(
                    ids[position].as_py(),
                    field,
                    f"expected {unfit}, got {type(value).__name__} {_short(value)}",
                ) from None
        return pa.array(converted, arrow_type)

    def _cursor(self, records: Sequence[Mapping[str, Any]], ids: pa.Array) -> pa.Array:
        field = self.schema.cursor_field
        values = [record.get(field) for record in records]
        if self.schema.cursor_format is CursorFormat.EPOCH_MS:
            return self._timestamps(values, ids, field, _to_epoch_ms, pa.int64())
        return self._timestamps(values, ids, field, _to_datetime, pa.string())

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
            except _Unfit as unfit:
                raise self._fail(
                    ids[position].as_py(),
                    field,
                    f"expected {unfit}, got {type(value).__name__} {_short(value)}",
                ) from None
        return pa.array(moments, UTC_TIMESTAMP)


def _json_text(value: object) -> str | None:
    if value is None:
        return None
    return orjson.dumps(value, default=str).decode()
