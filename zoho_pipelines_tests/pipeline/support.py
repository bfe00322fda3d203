"""Ground truth, clients and table snapshots shared by the batch pipeline tests.

The expected row of a record is computed here from the sandbox's own rendering of it, with
plain Python (Decimal, datetime.fromisoformat, json), independently of the normaliser under
test, so a mapping bug in the pipeline cannot hide in the oracle.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from zoho_pipelines.catalog import CursorFormat, ModuleSpec, default_catalog
from zoho_pipelines.lake import Lake, LocalLake, PartitionRef
from zoho_pipelines.pipeline import PartitionSync, day_window, load_partition, sync_partition
from zoho_pipelines.sandbox.books import organizations_for
from zoho_pipelines.sandbox.books_data import BooksDataset
from zoho_pipelines.sandbox.crm_catalog import MODULES as CRM_MODULES
from zoho_pipelines.sandbox.lazy_records import Timeline
from zoho_pipelines.sandbox.projects import dataset_for
from zoho_pipelines.sandbox.projects_data import ProjectsDataset
from zoho_pipelines.sandbox.server import RunningSandbox
from zoho_pipelines.schema import (
    SYNCED_AT,
    Column,
    ColumnRole,
    ModuleSchema,
    RecordNormalizer,
    build_module_schema,
)
from zoho_pipelines.settings import load_settings
from zoho_pipelines.warehouse import MergeResult, SqlWarehouse, TableRef
from zoho_pipelines.zoho import RetryPolicy, ZohoClient

QUICK_RETRIES = RetryPolicy(max_attempts=8, initial_backoff_s=0.01, max_backoff_s=0.1, max_retry_after_s=5)
Row = dict[str, Any]


def spec_of(app: str, module: str) -> ModuleSpec:
    return default_catalog().get(app, module)


@contextmanager
def client_for(sandbox: RunningSandbox, retry_policy: RetryPolicy = QUICK_RETRIES) -> Iterator[ZohoClient]:
    """Our real client, configured only through the sandbox's environment."""
    with ZohoClient.from_settings(load_settings(**sandbox.env()), retry_policy=retry_policy) as client:
        yield client


def sync_and_load(
    client: ZohoClient, lake: Lake, warehouse: SqlWarehouse, spec: ModuleSpec, day: date
) -> tuple[PartitionSync, MergeResult]:
    synced = sync_partition(client, lake, spec, day)
    return synced, load_partition(warehouse, lake, spec, day)


def write_as_earlier_run(
    client: ZohoClient,
    lake: LocalLake,
    spec: ModuleSpec,
    day: date,
    fields: list[dict[str, Any]],
    extra_values: Callable[[Mapping[str, Any]], dict[str, Any]] = lambda record: {},
) -> None:
    """The partition an earlier run wrote when Zoho's field list was `fields`."""
    schema = build_module_schema(spec, fields)
    normalizer = RecordNormalizer(schema)
    known = set(client.crm.field_names(spec.api_name))
    names = [field["api_name"] for field in fields if field["api_name"] in known]
    synced_at = datetime.now(UTC)
    batches = (
        normalizer.records([{**record, **extra_values(record)} for record in page], synced_at=synced_at)
        for page in client.crm.iter_modified(spec.api_name, names, *day_window(day))
    )
    lake.write_partition(PartitionRef(spec.app, spec.module, day), normalizer.arrow_schema, batches)


# ---- ground truth ------------------------------------------------------------------------------


@dataclass(frozen=True)
class DayTruth:
    """What Zoho holds for one module and UTC day: live records by id, and deleted ids."""

    records: dict[str, Row]
    deleted: frozenset[str]


class SandboxTruth:
    """The sandbox's ground truth for every app, read in process (never over the API under test)."""

    def __init__(self, sandbox: RunningSandbox) -> None:
        assert sandbox.state is not None, "ground truth needs an in-process sandbox"
        self.sandbox = sandbox
        self.crm = sandbox.state.crm
        self._books: BooksDataset | None = None
        self._projects: ProjectsDataset | None = None

    @property
    def books(self) -> BooksDataset:
        if self._books is None:
            organizations = organizations_for(self.sandbox.config, self.crm)
            self._books = next(org for org in organizations if org.is_default_org).data
        return self._books

    @property
    def projects(self) -> ProjectsDataset:
        if self._projects is None:
            self._projects = dataset_for(self.sandbox.config, self.crm)
        return self._projects

    def day(self, spec: ModuleSpec, day: date) -> DayTruth:
        start, end = day_window(day)
        if spec.app == "crm":
            module = spec.api_name
            return DayTruth(
                records=self.crm_records(module, self.crm.modified_ids(module, start, end)),
                deleted=frozenset(str(i) for i in self.crm.deleted_ids(module, start, end)),
            )
        if spec.app == "books":
            data = self.books
            indices = _modified_between(data.timelines[spec.api_name], start, end)
            rows = [data.list_row(spec.api_name, index) for index in indices]
        else:
            data = self.projects
            base = self.sandbox.url
            if spec.module == "projects":
                indices = _modified_between(data.projects, start, end)
                rows = [data.render_project(index, base) for index in indices]
            else:
                indices = _modified_between(data.tasks, start, end)
                rows = [data.render_task(index, base) for index in indices]
        return DayTruth({str(row[spec.primary_key]): row for row in rows}, frozenset())

    def crm_records(self, module: str, ids: Iterable[int | str]) -> dict[str, Row]:
        """Every field of these records as the API renders them (one vectorised render)."""
        indices = [self.crm.index_of(module, int(record_id)) for record_id in ids]
        fields = [field.api_name for field in CRM_MODULES[module].fields]
        return {str(record["id"]): record for record in self.crm.render(module, indices, fields)}


def _modified_between(timeline: Timeline, start: datetime, end: datetime) -> list[int]:
    low, high = int(start.timestamp() * 1000), int(end.timestamp() * 1000)
    mask = (timeline.modified_ms >= low) & (timeline.modified_ms < high)
    return np.flatnonzero(mask).tolist()


# ---- the independent oracle ------------------------------------------------------------------


def expected_value(column: Column, record: Mapping[str, Any]) -> Any:
    """The value `column` must hold for `record`, as the contract describes it."""
    raw = record.get(column.source or column.name)
    if column.role is ColumnRole.LOOKUP_ID:
        return None if raw is None else str(raw["id"])
    if column.role is ColumnRole.LOOKUP_NAME:
        return None if raw is None else raw.get("name")
    if column.role is ColumnRole.JSON:
        return raw
    kind = column.type
    if raw is None or (raw == "" and not pa.types.is_string(kind)):
        return None
    if pa.types.is_decimal(kind):
        return Decimal(str(raw)).quantize(Decimal(1).scaleb(-kind.scale))
    if pa.types.is_timestamp(kind):
        return datetime.fromisoformat(raw).astimezone(UTC)
    if pa.types.is_date(kind):
        return date.fromisoformat(raw)
    if pa.types.is_integer(kind):
        return int(raw)
    return raw


def expected_modified_time(schema: ModuleSchema, record: Mapping[str, Any]) -> datetime:
    raw = record[schema.cursor_field]
    if schema.cursor_format is CursorFormat.EPOCH_MS:
        return datetime.fromtimestamp(raw / 1000, tz=UTC)
    return datetime.fromisoformat(raw).astimezone(UTC)


def mismatches(schema: ModuleSchema, record: Mapping[str, Any], row: Row) -> list[str]:
    """Every column where the warehouse row differs from the record (empty when exact)."""
    problems = []
    if row["_modified_time"] != expected_modified_time(schema, record):
        problems.append(f"_modified_time {row['_modified_time']} != {record[schema.cursor_field]!r}")
    for column in schema.fields:
        expected, actual = expected_value(column, record), row[column.name]
        if column.data_type == "formula":
            # Formulas over "now" (Lead_Age_Days__c) drift between the sync and this check,
            # without Modified_Time moving, as in Zoho: only their presence can be compared.
            if (actual is None) != (expected is None):
                problems.append(f"{column.name}: {actual!r} vs {expected!r}")
            continue
        if column.role is ColumnRole.JSON and actual is not None:
            actual = json.loads(actual)
        if actual != expected or type(actual) is not type(expected):
            problems.append(f"{column.name}: {actual!r} != {expected!r}")
    return problems


# ---- reading the warehouse --------------------------------------------------------------------


def table_ref(spec: ModuleSpec) -> TableRef:
    return TableRef.for_module(spec.app, spec.module)


def table_rows(
    warehouse: SqlWarehouse, spec: ModuleSpec, where: str = "TRUE", params: tuple[Any, ...] = ()
) -> dict[str, Row]:
    """Rows of the module's table by id, timestamps in UTC so backends compare equal."""
    ref = table_ref(spec)
    columns = warehouse.table_columns(ref)
    rows = (
        {
            column: value.astimezone(UTC) if isinstance(value, datetime) else value
            for column, value in zip(columns, row, strict=True)
        }
        for row in warehouse.query(f"SELECT * FROM {ref.sql} WHERE {where}", params)  # noqa: S608
    )
    return {row["id"]: row for row in rows}


def day_rows(warehouse: SqlWarehouse, spec: ModuleSpec, day: date, *, deleted: bool) -> dict[str, Row]:
    marker = warehouse.placeholder
    return table_rows(warehouse, spec, f'"_partition" = {marker} AND "_deleted" = {marker}', (day, deleted))


def snapshot(warehouse: SqlWarehouse, spec: ModuleSpec) -> dict[str, Row]:
    """The whole table minus `_synced_at`, which only says when a row was last written."""
    return {
        key: {column: value for column, value in row.items() if column != SYNCED_AT}
        for key, row in table_rows(warehouse, spec).items()
    }


def partition_path(lake: LocalLake, spec: ModuleSpec, day: date) -> Path:
    return lake.root / PartitionRef(spec.app, spec.module, day).key


def leftovers(lake: LocalLake, spec: ModuleSpec, day: date) -> list[str]:
    """Anything in the partition's directory besides the partition file (temp files, say)."""
    path = partition_path(lake, spec, day)
    return sorted(entry.name for entry in path.parent.iterdir() if entry != path)
