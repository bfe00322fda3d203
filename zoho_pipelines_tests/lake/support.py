"""Lead records and batches for the lake tests, built through the real normaliser."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pyarrow as pa

from zoho_pipelines.schema import RecordNormalizer

DAY = date(2024, 3, 5)
SYNCED_AT = datetime(2024, 3, 6, 1, 0, tzinfo=UTC)
LEAD_FIELDS = [
    {"api_name": "Last_Name", "data_type": "text"},
    {"api_name": "Owner", "data_type": "ownerlookup"},
    {"api_name": "Annual_Revenue", "data_type": "currency", "decimal_place": 2},
    {"api_name": "Tag_List", "data_type": "multiselectpicklist"},
    {"api_name": "Modified_Time", "data_type": "datetime"},
]


@dataclass
class BatchMaker:
    """Builds lead batches for DAY with distinct ids, through the real normaliser."""

    normalizer: RecordNormalizer
    issued: int = 0

    def records(self, count: int, *, label: str = "v1") -> pa.RecordBatch:
        start, self.issued = self.issued, self.issued + count
        return self.normalizer.records(
            [_lead(index, label) for index in range(start, start + count)], synced_at=SYNCED_AT
        )

    def tombstones(self, ids: list[str]) -> pa.RecordBatch:
        entries = [{"id": record_id, "deleted_time": "2024-03-05T23:00:00Z"} for record_id in ids]
        return self.normalizer.tombstones(entries, synced_at=SYNCED_AT)


def _lead(index: int, label: str) -> dict[str, Any]:
    moment = datetime(2024, 3, 5, tzinfo=UTC) + timedelta(seconds=index % 86_400)
    return {
        "id": str(5_000_000 + index),
        "Last_Name": f"{label}-{index}",
        "Owner": {"id": "42", "name": "Ann Owner"},
        "Annual_Revenue": index + 0.25,
        "Tag_List": ["hot", label],
        "Modified_Time": moment.isoformat(),
    }
