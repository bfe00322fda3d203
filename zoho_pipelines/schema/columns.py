"""From one Zoho field's metadata to the table column(s) that hold it.

Zoho describes a field by `data_type` (text, currency, lookup, ...) and `json_type` (the JSON
shape its values travel in), plus `decimal_place` for exact numbers; both types decide the column.
Most fields become one column; a lookup becomes two (`<field>_id`, `<field>_name`) so joins need no
JSON; anything nested that has no flat shape (subforms, multi-select lookups, files, tags) is kept
whole as JSON text rather than guessed at. Every table also has `_unfitted`: the values of a record
that did not fit their typed column, kept as they came (see `normalize`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import pyarrow as pa

from zoho_pipelines.schema.errors import SchemaError

# Redshift and DuckDB cap decimals at 38 digits; Zoho's currency fields hold at most 16 before
# the point, so 38 never overflows and leaves every scale Zoho allows room.
DECIMAL_PRECISION = 38
DEFAULT_DECIMAL_PLACES = 2

UTC_TIMESTAMP = pa.timestamp("us", tz="UTC")
STRING_LIST = pa.list_(pa.string())

_META_PREFIX = "zoho."

UNFITTED_COLUMN = "_unfitted"


class ColumnRole(StrEnum):
    """Where a column's values come from in a Zoho record."""

    ID = "id"  # the module's primary key field, always as text
    VALUE = "value"  # a scalar (or list of strings) converted to the column type
    LOOKUP_ID = "lookup_id"  # {"id": ..., "name": ...}["id"]
    LOOKUP_NAME = "lookup_name"  # {"id": ..., "name": ...}["name"]
    JSON = "json"  # any nested value, serialised as JSON text
    SYSTEM = "system"  # filled by the pipeline, not read from the record
    UNFITTED = "unfitted"  # {api_name: raw value} of the values no typed column could hold


@dataclass(frozen=True)
class Column:
    """One table column and the Zoho field (api_name, data_type) it is read from."""

    name: str
    type: pa.DataType
    role: ColumnRole
    source: str | None = None
    data_type: str | None = None
    removed: bool = False

    def to_arrow_field(self) -> pa.Field:
        metadata = {"role": self.role.value, "source": self.source, "data_type": self.data_type}
        if self.removed:
            metadata["removed"] = "true"
        nullable = self.role not in (ColumnRole.ID, ColumnRole.SYSTEM)
        return pa.field(
            self.name,
            self.type,
            nullable=nullable,
            metadata={f"{_META_PREFIX}{key}": value for key, value in metadata.items() if value is not None},
        )

    @classmethod
    def from_arrow_field(cls, arrow_field: pa.Field) -> Column:
        metadata = {
            key.decode(): value.decode()
            for key, value in (arrow_field.metadata or {}).items()
            if key.startswith(_META_PREFIX.encode())
        }
        try:
            role = ColumnRole(metadata[f"{_META_PREFIX}role"])
        except (KeyError, ValueError):
            raise SchemaError(f"column {arrow_field.name!r} carries no zoho.role metadata") from None
        return cls(
            name=arrow_field.name,
            type=arrow_field.type,
            role=role,
            source=metadata.get(f"{_META_PREFIX}source"),
            data_type=metadata.get(f"{_META_PREFIX}data_type"),
            removed=metadata.get(f"{_META_PREFIX}removed") == "true",
        )


# The type table, read with Zoho's Fields Metadata API documentation
# (https://www.zoho.com/crm/developer/docs/api/v8/field-meta.html): a field is decided by its
# `data_type` *and* its `json_type`, because one data_type can travel in several JSON shapes. The
# standard `Tag` field of every module says data_type "text" but json_type "jsonarray" and comes as
# [{"name", "id", "color_code"}]; Record_Image says "profileimage" but json_type "string". The
# data_type picks the column; a JSON array or object where that column expects a scalar makes the
# column JSON text instead, so the shape Zoho sends is always the shape we store.
_TEXT = frozenset(
    {
        "text",
        "textarea",
        "email",
        "phone",
        "website",
        "picklist",
        "autonumber",
        "profileimage",  # Record_Image: json_type "string" (an image id), not a file list
        "string",
        "url",
        "rrule",
    }
)
_LOOKUPS = frozenset({"lookup", "ownerlookup", "userlookup"})
_EXACT_NUMBERS = frozenset({"currency", "percent", "decimal"})
_NESTED = frozenset(
    {
        "json",
        "jsonarray",
        "jsonobject",
        "subform",
        "multiselectlookup",
        "multiuserlookup",
        "multi_module_lookup",
        "fileupload",
        "imageupload",
        "consent_lookup",
        "event_reminder",
        "alarm",
    }
)
_JSON_SHAPES = frozenset({"jsonarray", "jsonobject"})
_COMPUTED = frozenset({"formula", "rollup_summary"})


def _decimal(metadata: Mapping[str, Any]) -> pa.DataType:
    places = metadata.get("decimal_place")
    scale = DEFAULT_DECIMAL_PLACES if places is None else int(places)
    if not 0 <= scale <= DECIMAL_PRECISION:
        raise SchemaError(f"field {metadata.get('api_name')!r}: decimal_place {places} out of range")
    return pa.decimal128(DECIMAL_PRECISION, scale)


def _effective_data_type(metadata: Mapping[str, Any]) -> str:
    """The data_type that decides the column; formulas and rollups are typed by what they return.

    Zoho gives a formula's result type in `formula.return_type` and a rollup summary's in
    `rollup_summary.return_type` (both "double", "currency", "string", "boolean", "date",
    "datetime", ...); without one, the field's json_type is the best description left.
    """
    data_type = str(metadata.get("data_type") or "").lower()
    if data_type in _COMPUTED:
        details = metadata.get(data_type) or metadata.get("formula") or {}
        returned = details.get("return_type") if isinstance(details, Mapping) else None
        if returned:
            return str(returned).lower()
        json_type = _json_type(metadata) or "string"
        return {"string": "text", "integer": "bigint"}.get(json_type, json_type)
    return data_type


def _json_type(metadata: Mapping[str, Any]) -> str:
    return str(metadata.get("json_type") or "").lower()


def _scalar_type(data_type: str, metadata: Mapping[str, Any]) -> pa.DataType | None:
    """The Arrow type of a single-column field, or None when it is kept as JSON text."""
    if data_type in _NESTED:
        return None
    if data_type == "multiselectpicklist":
        return STRING_LIST  # ["a", "b"]: json_type jsonarray of strings, a native list column
    if _json_type(metadata) in _JSON_SHAPES:
        return None  # a scalar data_type sent as an array or object (Tag): kept whole
    if data_type in _TEXT:
        return pa.string()
    if data_type == "integer":
        return pa.int32()  # Zoho's Number field: at most 9 digits
    if data_type in ("bigint", "long"):
        return pa.int64()  # Long Integer: 18 digits, sent as a JSON string (beyond 2**53)
    if data_type in _EXACT_NUMBERS:
        return _decimal(metadata)
    if data_type == "double":
        # Zoho's "Decimal" field type reports data_type double with decimal_place: keep it exact.
        return pa.float64() if metadata.get("decimal_place") is None else _decimal(metadata)
    if data_type == "boolean":
        return pa.bool_()
    if data_type == "date":
        return pa.date32()
    if data_type == "datetime":
        return UTC_TIMESTAMP
    json_type = _json_type(metadata)
    if json_type in ("string", "integer", "double", "boolean"):
        return _scalar_type({"string": "text", "integer": "bigint"}.get(json_type, json_type), metadata)
    return None  # an unknown shape is kept whole rather than guessed at


def columns_for_field(metadata: Mapping[str, Any]) -> tuple[Column, ...]:
    """The column(s) one Zoho field becomes; names are the api_name in lower case."""
    api_name = metadata.get("api_name")
    if not api_name or not isinstance(api_name, str):
        raise SchemaError(f"field metadata without an api_name: {dict(metadata)!r:.200}")
    declared = str(metadata.get("data_type") or "").lower() or None
    data_type = _effective_data_type(metadata)
    name = api_name.lower()
    if data_type in _LOOKUPS and _json_type(metadata) in ("", "jsonobject"):
        return (
            Column(f"{name}_id", pa.string(), ColumnRole.LOOKUP_ID, api_name, declared),
            Column(f"{name}_name", pa.string(), ColumnRole.LOOKUP_NAME, api_name, declared),
        )
    arrow_type = _scalar_type(data_type, metadata)
    if arrow_type is None:
        return (Column(name, pa.string(), ColumnRole.JSON, api_name, declared),)
    return (Column(name, arrow_type, ColumnRole.VALUE, api_name, declared),)


def unfitted_column() -> Column:
    """The per-record JSON object of values that did not fit their columns (null when all fit).

    Nullable, unlike the system columns, and absent from partitions written before it existed
    (the warehouse adds it like any new column).
    """
    return Column(UNFITTED_COLUMN, pa.string(), ColumnRole.UNFITTED)
