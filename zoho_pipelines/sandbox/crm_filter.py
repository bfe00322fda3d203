"""Predicates over CRM records, shared by COQL (WHERE) and Bulk Read (criteria).

Both front ends build the same small tree (conditions joined by and/or); evaluation renders only
the columns a condition names, for the candidate rows still in play, and compares typed values
(numbers as numbers, date-times as instants, lookups by id), the way Zoho compares them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from zoho_pipelines.sandbox.crm_catalog import FieldSpec, ModuleSpec
from zoho_pipelines.sandbox.crm_store import CrmStore
from zoho_pipelines.sandbox.crm_values import parse_datetime_ms

NUMERIC = {"integer", "double", "percent", "currency", "bigint"}
TEXTUAL = {"text", "textarea", "email", "phone", "website", "autonumber", "picklist"}
ORDERED_OPS = {"<", "<=", ">", ">=", "between", "not between"}
TEXT_OPS = {"like", "not like", "starts_with", "ends_with", "contains", "not_contains"}
ID_FIELD = FieldSpec("id", "bigint", "Record Id", read_only=True)


class FilterValueError(ValueError):
    """A literal that does not fit the field's data type."""

    def __init__(self, spec: FieldSpec, value: Any) -> None:
        super().__init__(f"{value!r} is not a valid {spec.data_type} for {spec.api_name}")
        self.spec = spec
        self.value = value


class FilterOperatorError(ValueError):
    """An operator the field's data type does not support."""

    def __init__(self, spec: FieldSpec, operator: str) -> None:
        super().__init__(f"{operator} is not supported for {spec.api_name} ({spec.data_type})")
        self.spec = spec
        self.operator = operator


@dataclass(frozen=True)
class Condition:
    spec: FieldSpec
    operator: str  # = != < <= > >= in, not in, between, not between, is null, is not null, like, not like...
    values: tuple[Any, ...] = ()


@dataclass(frozen=True)
class Group:
    operator: str  # and | or
    children: tuple[Condition | Group, ...]


Predicate = Condition | Group


def field_spec(module: ModuleSpec, api_name: str) -> FieldSpec | None:
    return ID_FIELD if api_name == "id" else module.by_name.get(api_name)


def comparable(spec: FieldSpec, value: Any) -> Any:
    """A value (a literal or a rendered field value) in the form comparisons use; None stays None."""
    if value is None:
        return None
    data_type = spec.formula_return or spec.data_type
    try:
        if isinstance(value, dict):
            value = value.get("id")
        if spec.api_name == "id" or data_type in ("lookup", "ownerlookup", "userlookup"):
            return int(value)
        if data_type in NUMERIC:
            if isinstance(value, bool):
                raise TypeError("a boolean is not a number")
            return float(value)
        if data_type == "boolean":
            if isinstance(value, bool):
                return value
            if str(value).lower() in ("true", "false"):
                return str(value).lower() == "true"
            raise TypeError("not a boolean")
        if data_type == "datetime":
            return parse_datetime_ms(str(value))
        if data_type == "date":
            text = str(value)
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
                raise TypeError("not a date")
            return text
        if data_type == "multiselectpicklist" and isinstance(value, list):
            return tuple(value)
        return str(value)
    except (TypeError, ValueError):
        raise FilterValueError(spec, value) from None


def like_pattern(pattern: str) -> re.Pattern[str]:
    """SQL LIKE (% and _) as a case-insensitive regular expression."""
    parts = [".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern]
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


def _text_test(operator: str, literal: str) -> Callable[[Any], bool]:
    if operator in ("like", "not like"):
        regex = like_pattern(literal)
        return lambda value: regex.fullmatch(value) is not None
    lowered = literal.lower()
    if operator == "starts_with":
        return lambda value: value.lower().startswith(lowered)
    if operator == "ends_with":
        return lambda value: value.lower().endswith(lowered)
    return lambda value: lowered in value.lower()


def _scalar_test(condition: Condition) -> Callable[[Any], bool]:
    """A test over one comparable, non-null value."""
    operator, spec = condition.operator, condition.spec
    data_type = spec.formula_return or spec.data_type
    if operator in ORDERED_OPS and data_type not in (*NUMERIC, "date", "datetime") and spec.api_name != "id":
        raise FilterOperatorError(spec, operator)
    if operator in TEXT_OPS and data_type not in TEXTUAL:
        raise FilterOperatorError(spec, operator)
    literals = [comparable(spec, value) for value in condition.values]
    if data_type == "multiselectpicklist":
        wanted = {str(value) for value in condition.values}
        if operator in ("=", "in"):
            return lambda value: bool(wanted & set(value))
        if operator in ("!=", "not in"):
            return lambda value: not wanted & set(value)
        raise FilterOperatorError(spec, operator)
    if operator in TEXT_OPS:
        test = _text_test(operator, str(condition.values[0]))
        return (lambda value: not test(value)) if operator.startswith("not") else test
    simple: dict[str, Callable[[Any], bool]] = {
        "=": lambda value: value == literals[0],
        "!=": lambda value: value != literals[0],
        "<": lambda value: value < literals[0],
        "<=": lambda value: value <= literals[0],
        ">": lambda value: value > literals[0],
        ">=": lambda value: value >= literals[0],
        "between": lambda value: literals[0] <= value <= literals[1],
        "not between": lambda value: not literals[0] <= value <= literals[1],
    }
    if operator in ("in", "not in"):
        members = set(literals)
        return (lambda value: value in members) if operator == "in" else (lambda value: value not in members)
    if operator not in simple:
        raise FilterOperatorError(spec, operator)
    return simple[operator]


def validate(predicate: Predicate) -> None:
    """Raise FilterValueError / FilterOperatorError now, before any rows are rendered."""
    if isinstance(predicate, Group):
        for child in predicate.children:
            validate(child)
    elif predicate.operator not in ("is null", "is not null"):
        _scalar_test(predicate)


STORED_COLUMNS = frozenset({"id", "Created_Time", "Modified_Time"})
_VECTOR_TESTS: dict[str, Callable[[np.ndarray, list[Any]], np.ndarray]] = {
    "=": lambda values, literals: values == literals[0],
    "!=": lambda values, literals: values != literals[0],
    "<": lambda values, literals: values < literals[0],
    "<=": lambda values, literals: values <= literals[0],
    ">": lambda values, literals: values > literals[0],
    ">=": lambda values, literals: values >= literals[0],
    "between": lambda values, literals: (values >= literals[0]) & (values <= literals[1]),
    "not between": lambda values, literals: (values < literals[0]) | (values > literals[1]),
    "in": lambda values, literals: np.isin(values, literals),
    "not in": lambda values, literals: ~np.isin(values, literals),
}


def stored_values(store: CrmStore, module: str, api_name: str, rows: np.ndarray) -> np.ndarray:
    """Ids and creation/modification instants (epoch ms) straight from the store's arrays.

    These are the columns every incremental query filters and sorts on (`Modified_Time >= ...
    order by Modified_Time, id`); comparing them as arrays, instead of rendering and parsing a
    value per row, keeps a COQL call's cost in the rows it returns rather than the module's size.
    """
    columns = store.columns[module]
    if api_name == "id":
        return columns.ids[rows]
    return (columns.created_ms if api_name == "Created_Time" else columns.modified_ms)[rows]


def _column(store: CrmStore, module: str, spec: FieldSpec, rows: np.ndarray) -> list[Any]:
    if spec.api_name in STORED_COLUMNS:
        return stored_values(store, module, spec.api_name, rows).tolist()
    values = store.render_columns(module, rows, [spec.api_name])[spec.api_name]
    return [comparable(spec, value) for value in values]


def evaluate(store: CrmStore, module: str, predicate: Predicate, rows: np.ndarray) -> np.ndarray:
    """The subset of `rows` (ascending) that satisfies the predicate."""
    if isinstance(predicate, Group):
        if predicate.operator == "and":
            for child in predicate.children:
                rows = evaluate(store, module, child, rows)
            return rows
        kept = [evaluate(store, module, child, rows) for child in predicate.children]
        return np.unique(np.concatenate(kept)) if kept else rows[:0]
    if predicate.spec.api_name in STORED_COLUMNS and predicate.operator in _VECTOR_TESTS:
        _scalar_test(predicate)  # the same operator and literal checks as the row-by-row path
        literals = [comparable(predicate.spec, value) for value in predicate.values]
        values = stored_values(store, module, predicate.spec.api_name, rows)
        return rows[_VECTOR_TESTS[predicate.operator](values, literals)] if len(rows) else rows
    values = _column(store, module, predicate.spec, rows)
    if predicate.operator in ("is null", "is not null"):
        want_null = predicate.operator == "is null"
        mask = [(value is None or value == ()) == want_null for value in values]
    else:
        test = _scalar_test(predicate)
        mask = [value is not None and test(value) for value in values]
    return rows[np.array(mask, dtype=bool)] if len(rows) else rows
