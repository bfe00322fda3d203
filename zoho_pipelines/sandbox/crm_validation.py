"""Validation of record updates (PUT): one Zoho-shaped status per input record.

Values are checked against the field catalogue the way Zoho checks them (types, picklist
values, e-mail syntax, lookups that must exist, unique fields) and normalised to the form the
API renders, so a record read back after an update shows exactly what was written.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from zoho_pipelines.sandbox.crm_catalog import MODULES, USERS, FieldSpec, ModuleSpec
from zoho_pipelines.sandbox.crm_complex_values import tag_pool, tag_value
from zoho_pipelines.sandbox.crm_fieldspec import NOT_WRITABLE_TYPES
from zoho_pipelines.sandbox.crm_store import CrmStore
from zoho_pipelines.sandbox.crm_values import parse_datetime_ms
from zoho_pipelines.sandbox.errors import crm_error_body

EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
INT32 = (-(2**31), 2**31 - 1)
USERS_BY_ID = {user["id"]: user for user in USERS}
MAX_RECORDS_PER_UPDATE = 100
MAX_TAG_LENGTH = 25
"""Tag names are at most 25 characters (tags.json, Tag.name maxLength)."""


class RecordProblem(Exception):
    """Why one input record cannot be applied: carries Zoho's per-record error body."""

    def __init__(self, code: str, message: str, details: dict[str, Any]) -> None:
        super().__init__(message)
        self.body = crm_error_body(code, message, details)


def _type_error(spec: FieldSpec, path: str) -> RecordProblem:
    return RecordProblem(
        "INVALID_DATA",
        "invalid data",
        {"expected_data_type": spec.data_type, "api_name": spec.api_name, "json_path": path},
    )


def _text(spec: FieldSpec, value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise _type_error(spec, path)
    if len(value) > spec.max_length:
        raise RecordProblem(
            "INVALID_DATA",
            "invalid data",
            {"maximum_length": str(spec.max_length), "api_name": spec.api_name, "json_path": path},
        )
    return value


def _lookup(store: CrmStore, spec: FieldSpec, value: Any, path: str) -> dict[str, Any]:
    raw = value.get("id") if isinstance(value, dict) else value
    if not str(raw).isdigit() or spec.lookup_module is None:
        raise _type_error(spec, path)
    target = spec.lookup_module
    index = store.index_of(target, int(raw))
    if index is None or not store.is_live(target, index):
        raise RecordProblem(
            "INVALID_DATA",
            "the id given seems to be invalid",
            {"api_name": spec.api_name, "json_path": path, "id": str(raw)},
        )
    name = store.render(target, [index], [MODULES[target].display_field])[0][MODULES[target].display_field]
    return {"name": name, "id": str(raw)}


def _tags(module: str, spec: FieldSpec, value: Any, path: str) -> list[dict[str, Any]]:
    """Tag values as records then carry them: [{"name", "id", "color_code"}] (known tags keep theirs).

    A body may name tags as {"name": ...} objects or plain strings; a new name becomes a new tag
    without a colour, as one created through the API is.
    """
    if not isinstance(value, list):
        raise _type_error(spec, path)
    known = {tag["name"]: tag for tag in tag_pool(module)}
    out: dict[str, dict[str, Any]] = {}
    for item in value:
        name = item.get("name") if isinstance(item, dict) else item
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_TAG_LENGTH:
            raise RecordProblem(
                "INVALID_DATA", "invalid data", {"api_name": spec.api_name, "json_path": path}
            )
        out.setdefault(name, known.get(name) or tag_value(module, name, None))
    return list(out.values())


def normalise(store: CrmStore, spec: FieldSpec, value: Any, path: str, module: str = "") -> Any:
    """The value as the API will render it, or RecordProblem."""
    if value is None:
        if spec.mandatory:
            raise RecordProblem(
                "MANDATORY_NOT_FOUND",
                "required field not found",
                {"api_name": spec.api_name, "json_path": path},
            )
        return None
    data_type = spec.data_type
    if data_type in NOT_WRITABLE_TYPES:
        # Written through their own APIs (files, photos, linking modules, subform rows), not here.
        raise RecordProblem("INVALID_DATA", "invalid data", {"api_name": spec.api_name, "json_path": path})
    if spec.json_type == "jsonarray" and data_type == "text":
        return _tags(module, spec, value, path)
    if data_type in ("text", "textarea", "phone", "website"):
        return _text(spec, value, path)
    if data_type == "email":
        if not isinstance(value, str) or not EMAIL.fullmatch(value):
            raise _type_error(spec, path)
        return _text(spec, value, path)
    if data_type == "picklist":
        if not isinstance(value, str) or value not in spec.picklist:
            raise RecordProblem(
                "INVALID_DATA", "invalid data", {"api_name": spec.api_name, "json_path": path}
            )
        return value
    if data_type == "multiselectpicklist":
        if not isinstance(value, list) or not all(isinstance(v, str) and v in spec.picklist for v in value):
            raise RecordProblem(
                "INVALID_DATA", "invalid data", {"api_name": spec.api_name, "json_path": path}
            )
        return list(dict.fromkeys(value))
    if data_type == "integer":
        if isinstance(value, bool) or not isinstance(value, int) or not INT32[0] <= value <= INT32[1]:
            raise _type_error(spec, path)
        return value
    if data_type == "bigint":
        if isinstance(value, bool) or not (
            isinstance(value, int) or (isinstance(value, str) and value.isdigit())
        ):
            raise _type_error(spec, path)
        return str(value)
    if data_type in ("double", "currency", "percent"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _type_error(spec, path)
        return round(float(value), spec.decimal_place if spec.decimal_place is not None else 2)
    if data_type == "boolean":
        if not isinstance(value, bool):
            raise _type_error(spec, path)
        return value
    if data_type == "date":
        if not isinstance(value, str) or not DATE.fullmatch(value):
            raise _type_error(spec, path)
        try:
            return date.fromisoformat(value).isoformat()
        except ValueError:
            raise _type_error(spec, path) from None
    if data_type == "datetime":
        try:
            return store.times.format_ms(parse_datetime_ms(value))
        except (TypeError, ValueError, AttributeError):
            raise _type_error(spec, path) from None
    if data_type == "lookup":
        return _lookup(store, spec, value, path)
    if data_type in ("ownerlookup", "userlookup"):
        user = USERS_BY_ID.get(str(value.get("id") if isinstance(value, dict) else value))
        if user is None:
            raise RecordProblem(
                "INVALID_DATA", "invalid data", {"api_name": spec.api_name, "json_path": path}
            )
        return user
    raise _type_error(spec, path)


def validate_record(
    store: CrmStore, module: ModuleSpec, record: Any, position: int, path_id: str | None, seen: set[int]
) -> tuple[int, dict[str, Any]]:
    """(row index, normalised values) for one input record, or RecordProblem."""
    base = f"$.data[{position}]"
    if not isinstance(record, dict):
        raise RecordProblem("INVALID_DATA", "invalid data", {"json_path": base})
    raw_id = path_id if path_id is not None else record.get("id")
    if raw_id in (None, ""):
        raise RecordProblem(
            "MANDATORY_NOT_FOUND", "required field not found", {"api_name": "id", "json_path": f"{base}.id"}
        )
    index = store.index_of(module.api_name, int(raw_id)) if str(raw_id).isdigit() else None
    if index is None or not store.is_live(module.api_name, index):
        raise RecordProblem(
            "INVALID_DATA", "the id given seems to be invalid", {"api_name": "id", "json_path": f"{base}.id"}
        )
    if index in seen:
        raise RecordProblem(
            "DUPLICATE_DATA",
            "duplicate data",
            {"api_name": "id", "json_path": f"{base}.id", "id": str(raw_id)},
        )
    values: dict[str, Any] = {}
    for name, value in record.items():
        if name == "id" or name.startswith("$"):
            continue
        spec = module.by_name.get(name)
        path = f"{base}.{name}"
        if spec is None or spec.read_only:
            raise RecordProblem("INVALID_DATA", "invalid data", {"api_name": name, "json_path": path})
        values[name] = normalise(store, spec, value, path, module.api_name)
        if spec.unique and values[name] is not None:
            duplicate = store.find_duplicate(module.api_name, name, values[name], exclude=index)
            if duplicate is not None:
                raise RecordProblem(
                    "DUPLICATE_DATA",
                    "duplicate data",
                    {
                        "api_name": name,
                        "json_path": path,
                        "duplicate_record": {
                            "module": {"api_name": module.api_name, "id": module.module_id},
                            "id": str(store.record_id(module.api_name, duplicate)),
                        },
                    },
                )
    seen.add(index)
    return index, values
