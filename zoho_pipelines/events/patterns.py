"""EventBridge event patterns, evaluated locally.

The routes are written once as EventBridge patterns; AWS evaluates them in the cloud and this
module evaluates them on a laptop, so both must agree. Only the subset the routes need is
supported, and anything else is refused by `validate_pattern` rather than silently mis-matched:
exact values, prefix, suffix, equals-ignore-case, anything-but (values or a prefix), exists and
numeric ranges. As in EventBridge, a filter list matches when any filter matches, an event array
matches when any element matches, and a missing field matches only `{"exists": false}`.
Standard library only.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from typing import Any


class PatternError(ValueError):
    """A pattern uses something this matcher (and so the local router) does not support."""


_MISSING = object()
_NUMERIC_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    "=": operator.eq,
    ">=": operator.ge,
    ">": operator.gt,
}
_FILTERS = frozenset({"prefix", "suffix", "equals-ignore-case", "anything-but", "exists", "numeric"})


def matches(pattern: Mapping[str, Any], event: Mapping[str, Any]) -> bool:
    """True when `event` (an EventBridge envelope) matches `pattern`."""
    for key, expected in pattern.items():
        value = event.get(key, _MISSING) if isinstance(event, Mapping) else _MISSING
        if isinstance(expected, Mapping):
            if not matches(expected, value if isinstance(value, Mapping) else {}):
                return False
        elif not _matches_filters(expected, value):
            return False
    return True


def validate_pattern(pattern: Mapping[str, Any]) -> None:
    """Raise PatternError unless every part of `pattern` is in the supported subset."""
    if not isinstance(pattern, Mapping) or not pattern:
        raise PatternError("a pattern is a non-empty object")
    for key, expected in pattern.items():
        if key.startswith("$"):
            raise PatternError(f"{key} is not supported")
        if isinstance(expected, Mapping):
            validate_pattern(expected)
        elif isinstance(expected, list) and expected:
            for item in expected:
                _validate_filter(item)
        else:
            raise PatternError(f"{key}: expected a nested object or a non-empty list")


def _matches_filters(filters: Sequence[Any], value: Any) -> bool:
    for item in filters:
        if isinstance(item, Mapping) and "exists" in item:
            # Presence is a property of the field, not of its elements (an empty array exists).
            if (value is not _MISSING) == item["exists"]:
                return True
        elif isinstance(value, list):
            if any(_matches_filter(item, element) for element in value):
                return True
        elif _matches_filter(item, value):
            return True
    return False


def _matches_filter(item: Any, value: Any) -> bool:
    if not isinstance(item, Mapping):
        return value is not _MISSING and _same_value(item, value)
    ((name, argument),) = item.items()
    if value is _MISSING:
        return False
    if name == "prefix":
        return isinstance(value, str) and value.startswith(argument)
    if name == "suffix":
        return isinstance(value, str) and value.endswith(argument)
    if name == "equals-ignore-case":
        return isinstance(value, str) and value.casefold() == argument.casefold()
    if name == "numeric":
        return _is_number(value) and all(
            _NUMERIC_OPERATORS[argument[index]](value, argument[index + 1])
            for index in range(0, len(argument), 2)
        )
    # anything-but: a value, a list of values, or a nested prefix filter.
    if isinstance(argument, Mapping):
        return not _matches_filter(argument, value)
    excluded = argument if isinstance(argument, list) else [argument]
    return not any(_same_value(candidate, value) for candidate in excluded)


def _same_value(expected: Any, value: Any) -> bool:
    """JSON equality: true is not 1, and 1 equals 1.0."""
    if isinstance(expected, bool) or isinstance(value, bool):
        return type(expected) is type(value) and expected == value
    if _is_number(expected) and _is_number(value):
        return float(expected) == float(value)
    return type(expected) is type(value) and expected == value


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _validate_filter(item: Any) -> None:
    if item is None or isinstance(item, str | bool) or _is_number(item):
        return
    if not isinstance(item, Mapping) or len(item) != 1:
        raise PatternError("a filter is a value or an object with exactly one operator")
    ((name, argument),) = item.items()
    if name not in _FILTERS:
        raise PatternError(f"filter {name!r} is not supported")
    if name in {"prefix", "suffix", "equals-ignore-case"} and not isinstance(argument, str):
        raise PatternError(f"{name} takes a string")
    if name == "exists" and not isinstance(argument, bool):
        raise PatternError("exists takes true or false")
    if name == "numeric":
        _validate_numeric(argument)
    if name == "anything-but":
        if isinstance(argument, Mapping):
            if set(argument) != {"prefix"} or not isinstance(argument["prefix"], str):
                raise PatternError("anything-but takes values or {'prefix': ...}")
        elif isinstance(argument, list):
            if not argument or not all(isinstance(v, str) or _is_number(v) for v in argument):
                raise PatternError("anything-but takes a non-empty list of strings or numbers")
        elif not (isinstance(argument, str) or _is_number(argument)):
            raise PatternError("anything-but takes a string or a number")


def _validate_numeric(argument: Any) -> None:
    if not isinstance(argument, list) or len(argument) not in (2, 4):
        raise PatternError("numeric takes [op, value] or [op, value, op, value]")
    for index in range(0, len(argument), 2):
        if argument[index] not in _NUMERIC_OPERATORS or not _is_number(argument[index + 1]):
            raise PatternError("numeric takes operators <, <=, =, >=, > with numbers")
