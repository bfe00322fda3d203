"""The refresh against the sandbox and a real DuckDB file: rows match Zoho, deletes Zoho confirms
become tombstones (and deletes it does not are refreshed instead), repeats and out-of-order runs
change nothing; and the lake staging path (what Redshift loads from) against moto's S3 and a real
PostgreSQL: rows of any day, staged per day, merged, and the staging files removed."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from zoho_pipelines.catalog import default_catalog
from zoho_pipelines.clock import Clock
from zoho_pipelines.events.model import ZohoEvent, parse_notification
from zoho_pipelines.events.processing.batches import EventBatch, group_events
from zoho_pipelines.events.processing.refresh import RefreshError, refresh_batch
from zoho_pipelines.events.processing.staging import STAGING_PREFIX, staging_lake
from zoho_pipelines.lake import open_lake
from zoho_pipelines.sandbox.server import RunningSandbox
from zoho_pipelines.warehouse import SqlWarehouse, open_warehouse
from zoho_pipelines.warehouse.duckdb import DuckDBWarehouse
from zoho_pipelines.zoho.client import ZohoClient

LEADS = default_catalog().get("crm", "Leads")


@pytest.fixture
def warehouse(tmp_path: Path) -> Iterator[DuckDBWarehouse]:
    opened = open_warehouse(f"duckdb:///{tmp_path / 'warehouse.duckdb'}")
    assert isinstance(opened, DuckDBWarehouse)
    yield opened
    opened.close()


def batch_of(operation: str, ids: list[str], *, at: datetime) -> EventBatch:
    payload = {
        "server_time": int(at.timestamp() * 1000),
        "module": "Leads",
        "ids": ids,
        "operation": operation,
        "channel_id": "42",
    }
    events: list[ZohoEvent] = parse_notification(payload, received_at=at)
    (batch,) = group_events(events, target="refresh")
    return batch


def rows(warehouse: SqlWarehouse, ids: list[str]) -> dict[str, tuple[Any, ...]]:
    found = warehouse.query(
        'SELECT id, _deleted, _modified_time, last_name, email FROM "zoho_crm"."leads" ORDER BY id'
    )
    return {row[0]: (row[1], _utc(row[2]), *row[3:]) for row in found if row[0] in set(ids)}


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def zoho_time(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def as_zoho_holds_it(sandbox: RunningSandbox, record_id: str) -> tuple[Any, ...]:
    assert sandbox.state is not None
    record = sandbox.state.crm.record("Leads", record_id)
    return (False, zoho_time(record["Modified_Time"]), record["Last_Name"], record["Email"])


def now(sandbox: RunningSandbox) -> datetime:
    return sandbox.clock.now()


def record_calls(sandbox: RunningSandbox) -> int:
    return sum(sandbox.stats()["calls"].get("GET /crm/{version}/{module}", {}).values())


def test_changed_records_arrive_as_zoho_holds_them_now(
    small_sandbox: RunningSandbox, zoho: ZohoClient, warehouse: DuckDBWarehouse
) -> None:
    assert small_sandbox.state is not None
    changed = small_sandbox.state.crm.mutate("Leads", edits=120, creates=15)
    ids = changed["edited"] + changed["created"]

    result = refresh_batch(
        zoho.crm, warehouse, LEADS, batch_of("update", ids, at=now(small_sandbox)), clock=small_sandbox.clock
    )

    assert (result.requested, result.fetched, result.missing) == (135, 135, ())
    assert result.merge.inserted_rows == 135
    assert rows(warehouse, ids) == {
        record_id: as_zoho_holds_it(small_sandbox, record_id) for record_id in ids
    }


def test_deletes_zoho_confirms_become_tombstones_that_win_over_older_values(
    small_sandbox: RunningSandbox, zoho: ZohoClient, warehouse: DuckDBWarehouse
) -> None:
    assert small_sandbox.state is not None
    clock = small_sandbox.clock
    ids = [str(record_id) for record_id in small_sandbox.state.crm.ids("Leads")[:40]]
    refresh_batch(zoho.crm, warehouse, LEADS, batch_of("update", ids, at=now(small_sandbox)), clock=clock)
    deleted = small_sandbox.state.crm.mutate("Leads", deletes=2)["deleted"]
    deleted_at = now(small_sandbox).replace(microsecond=0)
    calls_before = record_calls(small_sandbox)

    result = refresh_batch(
        zoho.crm, warehouse, LEADS, batch_of("delete", deleted, at=deleted_at), clock=clock
    )

    assert (result.tombstones, result.still_live) == (2, ())
    assert record_calls(small_sandbox) == calls_before + 1  # confirmed by one read by id
    stored = rows(warehouse, deleted)
    assert [stored[record_id][:2] for record_id in deleted] == [(True, deleted_at)] * 2
    # The update that preceded the delete, processed late, cannot resurrect the records.
    refresh_batch(zoho.crm, warehouse, LEADS, batch_of("update", deleted, at=deleted_at), clock=clock)
    assert [rows(warehouse, deleted)[record_id][0] for record_id in deleted] == [True, True]


def test_a_confirmed_delete_dated_before_the_stored_values_still_deletes_the_row(
    small_sandbox: RunningSandbox, zoho: ZohoClient, warehouse: DuckDBWarehouse
) -> None:
    """A misdated or replayed delete webhook: Zoho's read proves the record gone, so the row goes."""
    assert small_sandbox.state is not None
    clock = small_sandbox.clock
    ids = [str(record_id) for record_id in small_sandbox.state.crm.ids("Leads")]
    refresh_batch(zoho.crm, warehouse, LEADS, batch_of("update", ids, at=now(small_sandbox)), clock=clock)
    (deleted,) = small_sandbox.state.crm.mutate("Leads", deletes=1)["deleted"]
    stored_values_time = rows(warehouse, [deleted])[deleted][1]

    early = stored_values_time - timedelta(hours=1)
    result = refresh_batch(zoho.crm, warehouse, LEADS, batch_of("delete", [deleted], at=early), clock=clock)

    assert result.tombstones == 1
    assert rows(warehouse, [deleted])[deleted][:2] == (True, stored_values_time)


def test_a_delete_of_a_record_zoho_still_holds_refreshes_it_instead_of_a_tombstone(
    small_sandbox: RunningSandbox, zoho: ZohoClient, warehouse: DuckDBWarehouse
) -> None:
    assert small_sandbox.state is not None
    live = [str(record_id) for record_id in small_sandbox.state.crm.ids("Leads")[5:7]]
    next_year = now(small_sandbox) + timedelta(days=365)  # a forged or misdated delete event

    result = refresh_batch(
        zoho.crm, warehouse, LEADS, batch_of("delete", live, at=next_year), clock=small_sandbox.clock
    )

    assert (result.tombstones, result.still_live) == (0, tuple(live))
    assert rows(warehouse, live) == {
        record_id: as_zoho_holds_it(small_sandbox, record_id) for record_id in live
    }
    # And the record's next change still reaches the table: nothing outranks it from the future.
    assert zoho.crm.update_records("Leads", [{"id": live[0], "Last_Name": "Still Here"}]).all_ok
    refresh_batch(
        zoho.crm,
        warehouse,
        LEADS,
        batch_of("update", live[:1], at=now(small_sandbox)),
        clock=small_sandbox.clock,
    )
    assert rows(warehouse, live[:1])[live[0]] == as_zoho_holds_it(small_sandbox, live[0])
    assert rows(warehouse, live[:1])[live[0]][2] == "Still Here"


def test_a_repeated_refresh_leaves_the_table_as_it_was(
    small_sandbox: RunningSandbox, zoho: ZohoClient, warehouse: DuckDBWarehouse
) -> None:
    assert small_sandbox.state is not None
    ids = small_sandbox.state.crm.mutate("Leads", edits=10)["edited"]
    batch = batch_of("update", ids, at=now(small_sandbox))
    refresh_batch(zoho.crm, warehouse, LEADS, batch, clock=small_sandbox.clock)
    snapshot = warehouse.query('SELECT * EXCLUDE (_synced_at) FROM "zoho_crm"."leads" ORDER BY id')

    refresh_batch(zoho.crm, warehouse, LEADS, batch, clock=small_sandbox.clock)

    assert warehouse.query('SELECT * EXCLUDE (_synced_at) FROM "zoho_crm"."leads" ORDER BY id') == snapshot


def test_ids_zoho_no_longer_has_are_reported_missing(
    small_sandbox: RunningSandbox, zoho: ZohoClient, warehouse: DuckDBWarehouse
) -> None:
    assert small_sandbox.state is not None
    live = str(small_sandbox.state.crm.ids("Leads")[0])

    result = refresh_batch(
        zoho.crm,
        warehouse,
        LEADS,
        batch_of("update", [live, "5725867999999999999"], at=now(small_sandbox)),
        clock=small_sandbox.clock,
    )

    assert (result.fetched, result.missing) == (1, ("5725867999999999999",))


def test_other_apps_are_refused_with_the_reason(
    small_sandbox: RunningSandbox, zoho: ZohoClient, warehouse: DuckDBWarehouse
) -> None:
    invoices = default_catalog().get("books", "invoices")
    with pytest.raises(RefreshError, match="CRM only"):
        refresh_batch(zoho.crm, warehouse, invoices, batch_of("update", ["1"], at=now(small_sandbox)))


# ---- the staging path: a warehouse that loads only from the lake (Redshift) ----------------------


def ids_over_several_days(sandbox: RunningSandbox, clock: Clock) -> list[str]:
    """Leads last modified on at least three different UTC days, none of them the clock's today."""
    assert sandbox.state is not None
    by_day: dict[object, str] = {}
    for record_id in sandbox.state.crm.ids("Leads")[:300]:
        day = zoho_time(sandbox.state.crm.record("Leads", record_id)["Modified_Time"]).date()
        by_day.setdefault(day, str(record_id))
    days = sorted(day for day in by_day if day != clock.now().date())
    assert len(days) >= 3
    return [by_day[day] for day in days]


@pytest.fixture
def s3_lake_url(aws_env: str) -> str:
    bucket = f"lake-{uuid.uuid4().hex[:12]}"
    boto3.client("s3").create_bucket(Bucket=bucket)
    return f"s3://{bucket}/prod"


def s3_keys(lake_url: str) -> list[str]:
    bucket = lake_url.removeprefix("s3://").split("/", 1)[0]
    listed = boto3.client("s3").list_objects_v2(Bucket=bucket)
    return sorted(entry["Key"] for entry in listed.get("Contents", []))


def test_staged_rows_of_any_day_reach_the_warehouse_and_the_staging_files_go(
    small_sandbox: RunningSandbox, zoho: ZohoClient, postgres_url: str, s3_lake_url: str
) -> None:
    clock = small_sandbox.clock
    ids = ids_over_several_days(small_sandbox, clock)
    assert small_sandbox.state is not None
    deleted = small_sandbox.state.crm.mutate("Leads", deletes=1)["deleted"]
    warehouse = open_warehouse(postgres_url)
    try:
        with staging_lake(s3_lake_url, "run-0001") as staging:
            updated = refresh_batch(
                zoho.crm,
                warehouse,
                LEADS,
                batch_of("update", ids, at=clock.now()),
                staging=staging,
                clock=clock,
            )
            removed = refresh_batch(
                zoho.crm,
                warehouse,
                LEADS,
                batch_of("delete", deleted, at=clock.now()),
                staging=staging,
                clock=clock,
            )
            staged = s3_keys(s3_lake_url)
        assert (updated.merge.inserted_rows, removed.tombstones) == (len(ids), 1)
        stored = rows(warehouse, ids + deleted)
    finally:
        warehouse.close()

    assert {record_id: stored[record_id] for record_id in ids} == {
        record_id: as_zoho_holds_it(small_sandbox, record_id) for record_id in ids
    }
    assert stored[deleted[0]][0] is True
    # One partition per modification day was staged under the run's prefix, and all of it is gone.
    staged_days = {key.split("date=")[1].split("/")[0] for key in staged if "date=" in key}
    assert len(staged_days) >= 4
    assert all(key.startswith(f"prod/{STAGING_PREFIX}/run-0001/") for key in staged)
    assert s3_keys(s3_lake_url) == []


def test_a_local_staging_lake_is_removed_even_when_the_merge_fails(tmp_path: Path) -> None:
    lake_url = (tmp_path / "lake").as_uri()
    run_root = tmp_path / "lake" / STAGING_PREFIX / "run-0002"

    def stage_then_fail() -> None:
        with staging_lake(lake_url, "run-0002") as staging:
            assert staging.url == open_lake(run_root.as_uri()).url
            (run_root / "zoho").mkdir(parents=True)
            (run_root / "zoho" / "part.parquet").write_bytes(b"PAR1")
            raise RuntimeError("merge failed")

    with pytest.raises(RuntimeError, match="merge failed"):
        stage_then_fail()
    assert not run_root.exists()
    assert (tmp_path / "lake").exists()  # only the run's own staging root goes
