"""Per-value conversions for the values Arrow's columnar path refused, and the one fit rule.

A column takes a value only when it can hold it exactly: an integer column takes 3 or "3" but
not 3.7, a decimal(38, 2) column takes 12.5 but not 1999.999, a UTC timestamp takes a date-time
with an offset but not one without. Anything else raises `Unfit`, and the normaliser keeps the
value as it came in `_unfitted` instead of rounding, truncating or guessing (see `normalize`).
The harmless renderings Zoho produces are accepted: a number or boolean in a text field (its
JSON text), a number as a string ("42", "12.50"), and "" for an empty non-text value (null).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from decimal import Context, Decimal, InvalidOperation

import orjson
import pyarrow as pa

from zoho_pipelines.schema.columns import STRING_LIST

LOOKUP_RAW = pa.struct([("id", pa.string()), ("name", pa.string())])
"""What a lookup object ({"id", "name", ...}) is read into before its two columns are split."""

# Wide enough for any decimal(38, s) value: the default context's 28 digits would raise.
_EXACT = Context(prec=80)


class Unfit(Exception):
    """A value does not fit its column; the message says what the column takes."""


def json_text(value: object) -> str | None:
    """`value` as JSON text, exactly: orjson for speed, the standard library past 64-bit integers."""
    if value is None:
        return None
    try:
        return orjson.dumps(value, default=str).decode()
    except TypeError:  # orjson refuses integers beyond 64 bits; json keeps them exact
        return json.dumps(value, default=str, ensure_ascii=False, separators=(",", ":"))


def _number(value: object, expected: str) -> Decimal:
    """A JSON number (or its text) as the exact decimal it was written as; floats by their repr."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        raise Unfit(expected)
    try:
        number = Decimal(value.strip()) if isinstance(value, str) else Decimal(repr(value))
    except InvalidOperation:
        raise Unfit(expected) from None
    if not number.is_finite():
        raise Unfit(expected)
    return number


def to_text(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return str(value)
    raise Unfit("text")


def integer_coercion(arrow_type: pa.DataType) -> Callable[[object], int]:
    """Exact integers within the column's range; 3.0 is 3, 3.7 does not fit."""
    bits = arrow_type.bit_width
    low, high = -(2 ** (bits - 1)), 2 ** (bits - 1)
    expected = f"a {bits}-bit integer"

    def to_int(value: object) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            number: int | Decimal = value
        else:
            number = _number(value, expected)
            if number != number.to_integral_value():
                raise Unfit(f"{expected} (no fraction)")
        if not low <= number < high:
            raise Unfit(expected)
        return int(number)

    return to_int


def to_float(value: object) -> float:
    """Doubles as written; an integer too large for a double's 53 bits does not fit."""
    number = _number(value, "a number")
    result = float(number)
    if Decimal(repr(result)) != number and Decimal(result) != number:
        raise Unfit("a number a double holds exactly")
    return result


def decimal_coercion(arrow_type: pa.Decimal128Type) -> Callable[[object], Decimal]:
    """Exact decimals: at most the field's decimal places, below 10^(precision - scale)."""
    quantum = Decimal(1).scaleb(-arrow_type.scale)
    limit = Decimal(10) ** (arrow_type.precision - arrow_type.scale)
    expected = f"a decimal number with at most {arrow_type.scale} decimal places"

    def to_decimal(value: object) -> Decimal:
        number = _number(value, expected)
        quantized = number.quantize(quantum, context=_EXACT) if abs(number) < limit else None
        if quantized is None or quantized != number:
            raise Unfit(f"{expected}, below 10^{arrow_type.precision - arrow_type.scale}")
        return quantized

    return to_decimal


def to_bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise Unfit("a boolean")


def to_date(value: object) -> date:
    if isinstance(value, str) and len(value.strip()) == 10:
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise Unfit("a date (YYYY-MM-DD)")


def to_datetime(value: object) -> datetime:
    """ISO 8601 with an offset; without one the org's time zone would be a guess."""
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise Unfit("an ISO 8601 date-time") from None
        if moment.tzinfo is None:
            raise Unfit("a date-time with a UTC offset")
        return moment.astimezone(UTC)
    raise Unfit("an ISO 8601 date-time")


def to_epoch_ms(value: object) -> datetime:
    milliseconds = integer_coercion(pa.int64())(value)
    return datetime.fromtimestamp(milliseconds / 1000, tz=UTC)


def to_string_list(value: object) -> list[str]:
    if isinstance(value, list | tuple):
        return [to_text(item) for item in value if item is not None]
    raise Unfit("a list of strings")


def to_lookup(value: object) -> dict[str, str | None]:
    """{"id", "name", ...} (other keys, such as an owner's email, belong to the user record)."""
    if isinstance(value, Mapping):
        key, name = value.get("id"), value.get("name")
        return {
            "id": None if key is None else to_text(key),
            "name": None if name is None else to_text(name),
        }
    if isinstance(value, str | int) and not isinstance(value, bool):
        return {"id": str(value), "name": None}
    raise Unfit('a lookup {"id": ..., "name": ...}')


def coercion(arrow_type: pa.DataType) -> Callable[[object], object]:
    """The per-value conversion into `arrow_type`; each raises `Unfit` for what it cannot hold."""
    if pa.types.is_string(arrow_type):
        return to_text
    if pa.types.is_integer(arrow_type):
        return integer_coercion(arrow_type)
    if pa.types.is_boolean(arrow_type):
        return to_bool
    if pa.types.is_floating(arrow_type):
        return to_float
    if pa.types.is_decimal(arrow_type):
        return decimal_coercion(arrow_type)
    if pa.types.is_date(arrow_type):
        return to_date
    if pa.types.is_timestamp(arrow_type):
        return to_datetime
    if arrow_type == STRING_LIST:
        return to_string_list
    if arrow_type == LOOKUP_RAW:
        return to_lookup
    raise TypeError(f"no coercion for {arrow_type}")
