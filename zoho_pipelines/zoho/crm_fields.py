"""Splitting a field list into Zoho's 50-fields-per-call groups, and merging the groups by id.

Zoho refuses more than 50 fields in one records call (and one COQL select), and custom modules
routinely have more. The first group always carries Modified_Time, because its pages drive the
window cursor; the other groups are fetched for exactly the ids of each first-group page.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

MAX_FIELDS_PER_CALL = 50
CURSOR_FIELD = "Modified_Time"


def field_groups(fields: Iterable[str], lead: Sequence[str] = (CURSOR_FIELD,)) -> list[list[str]]:
    """Groups of at most 50 fields; `lead` fields open the first group. `id` always comes back."""
    ordered = list(dict.fromkeys([*lead, *(name for name in fields if name != "id")]))
    return [ordered[i : i + MAX_FIELDS_PER_CALL] for i in range(0, len(ordered), MAX_FIELDS_PER_CALL)]


def merge_by_id(base: list[dict[str, Any]], extra: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """`base` records with the fields of their `extra` counterparts added (base order kept)."""
    extra_by_id = {str(record["id"]): record for record in extra}
    return [{**record, **extra_by_id.get(str(record["id"]), {})} for record in base]
