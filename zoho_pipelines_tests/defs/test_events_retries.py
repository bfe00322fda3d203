"""Event runs that fail, are retried, repeat, or overlap the daily batch, with real parts: the
sandbox as Zoho, the real sensor and refresh job on a real Dagster instance, DuckDB.

Whatever the order of failures, retries and loads, the warehouse must end equal to what Zoho
holds: a change is acknowledged only once a run applied it, and a repeat or a late batch load
never replaces a newer version with an older one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg
import pytest

from zoho_pipelines.catalog import default_catalog
from zoho_pipelines.clock import OffsetClock
from zoho_pipelines.events.model import ZohoEvent, parse_notification, parse_webhook
from zoho_pipelines.events.routing import Target
from zoho_pipelines.lake import LocalLake
from zoho_pipelines.pipeline import load_partition, sync_partition
from zoho_pipelines.sandbox.server import RunningSandbox
from zoho_pipelines.settings import load_settings
from zoho_pipelines.warehouse import open_warehouse
from zoho_pipelines.zoho.client import ZohoClient
from zoho_pipelines_tests.conftest import SANDBOX_ANCHOR
from zoho_pipelines_tests.events.processing.dagster_support import EventHome, SensorDaemon

REFRESH = "refresh_events_sensor"
LEADS = default_catalog().get("crm", "Leads")


@pytest.fixture
def zoho_sandbox(
    sandbox_factory: Callable[..., RunningSandbox], monkeypatch: pytest.MonkeyPatch
) -> RunningSandbox:
    """A private sandbox whose clock reads the day after its history: changes get a day of their own."""
    running = sandbox_factory(
        records_per_module=300,
        history_days=4,
        clock=OffsetClock.starting_at(SANDBOX_ANCHOR + timedelta(days=1)),
    )
    for name, value in running.env().items():
        monkeypatch.setenv(name, value)
    return running


@contextmanager
def zoho_client(sandbox: RunningSandbox) -> Iterator[ZohoClient]:
    with ZohoClient.from_settings(load_settings(**sandbox.env())) as client:
        yield client


def notified(sandbox: RunningSandbox, module: str, operation: str, ids: list[str]) -> list[ZohoEvent]:
    """What the Notification API delivers for a change just made in the sandbox."""
    now = sandbox.clock.now()
    payload = {
        "server_time": int(now.timestamp() * 1000),
        "module": module,
        "ids": ids,
        "operation": operation,
        "channel_id": "1000000068001",
    }
    return parse_notification(payload, received_at=now)


def warehouse_rows(home: EventHome, table: str, column: str) -> dict[str, tuple[Any, ...]]:
    warehouse = open_warehouse(home.warehouse_url)
    try:
        found = warehouse.query(f'SELECT id, _deleted, _modified_time, {column} FROM "zoho_crm"."{table}"')  # noqa: S608
    finally:
        warehouse.close()
    return {row[0]: (row[1], row[2].astimezone(UTC), row[3]) for row in found}


def truth(sandbox: RunningSandbox, module: str, record_id: str, field: str) -> tuple[Any, ...]:
    assert sandbox.state is not None
    record = sandbox.state.crm.record(module, record_id)
    return (False, datetime.fromisoformat(record["Modified_Time"]).astimezone(UTC), record[field])


def refresh_queue_empty(home: EventHome) -> Callable[[], bool]:
    queue = home.router.queue(Target.REFRESH)
    return lambda: queue.depth() == 0


def test_a_failed_event_run_and_its_retry_leave_the_warehouse_equal_to_zoho(
    event_home: EventHome,
    instance: dg.DagsterInstance,
    zoho_sandbox: RunningSandbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    state = zoho_sandbox.state
    assert state is not None
    leads = state.crm.mutate("Leads", edits=20, deletes=3)
    event_home.router.publish(
        notified(zoho_sandbox, "Leads", "update", leads["edited"])
        + notified(zoho_sandbox, "Leads", "delete", leads["deleted"])
    )
    daemon = SensorDaemon(
        instance, event_home.definitions(retry_delay_s=0, clock=zoho_sandbox.clock), REFRESH
    )

    monkeypatch.setenv("ZOHO_CLIENT_SECRET", "rotated-away")  # every run fails: Zoho refuses us
    daemon.tick()
    failed = daemon.runs()
    assert len(failed) == 2
    assert all(run.status == dg.DagsterRunStatus.FAILURE for run in failed)
    assert event_home.router.queue(Target.REFRESH).depth() == 2  # nothing acknowledged

    monkeypatch.setenv("ZOHO_CLIENT_SECRET", zoho_sandbox.env()["ZOHO_CLIENT_SECRET"])
    daemon.tick_until(refresh_queue_empty(event_home))

    retried = [run for run in daemon.runs() if run.run_id not in {run.run_id for run in failed}]
    assert len(retried) == 2
    assert all(run.status == dg.DagsterRunStatus.SUCCESS for run in retried)
    assert event_home.router.queue(Target.REFRESH).dlq_depth() == 0
    rows = warehouse_rows(event_home, "leads", "last_name")
    for record_id in leads["edited"]:
        assert rows[record_id] == truth(zoho_sandbox, "Leads", record_id, "Last_Name")
    assert all(rows[record_id][0] is True for record_id in leads["deleted"])
    assert len(rows) == 20 + 3


def test_a_second_change_seen_only_by_a_bare_webhook_reaches_the_warehouse(
    event_home: EventHome, instance: dg.DagsterInstance, zoho_sandbox: RunningSandbox
) -> None:
    assert zoho_sandbox.state is not None
    deal_id = str(zoho_sandbox.state.crm.ids("Deals")[0])
    daemon = SensorDaemon(instance, event_home.definitions(clock=zoho_sandbox.clock), REFRESH)
    bare = {"module": "Deals", "operation": "update", "id": deal_id}  # no time: a bare webhook

    with zoho_client(zoho_sandbox) as client:
        for stage in ("Negotiation/Review", "Closed Won"):
            assert client.crm.update_records("Deals", [{"id": deal_id, "Stage": stage}]).all_ok
            event_home.router.publish(parse_webhook(bare, received_at=zoho_sandbox.clock.now()))
            daemon.tick_until(refresh_queue_empty(event_home))
            assert warehouse_rows(event_home, "deals", "stage")[deal_id] == truth(
                zoho_sandbox, "Deals", deal_id, "Stage"
            )

    assert warehouse_rows(event_home, "deals", "stage")[deal_id][2] == "Closed Won"
    assert len(daemon.runs()) == 2


def test_event_refreshes_interleaved_with_batch_loads_of_older_days_end_on_the_newest_version(
    event_home: EventHome, instance: dg.DagsterInstance, zoho_sandbox: RunningSandbox
) -> None:
    state = zoho_sandbox.state
    assert state is not None
    lake = LocalLake(event_home.root / "lake")
    history = [(SANDBOX_ANCHOR - timedelta(days=offset)).date() for offset in range(3, -1, -1)]
    definitions = event_home.definitions(visibility_timeout_s=0.5, clock=zoho_sandbox.clock)
    daemon = SensorDaemon(instance, definitions, REFRESH)
    warehouse = open_warehouse(event_home.warehouse_url)
    try:
        with zoho_client(zoho_sandbox) as client:
            for day in history:  # the days' partitions, synced before the changes
                sync_partition(client, lake, LEADS, day, clock=zoho_sandbox.clock)
            older_ids = [
                str(record_id)
                for day in history
                for record_id in state.crm.modified_ids(
                    "Leads",
                    datetime.combine(day, datetime.min.time(), UTC),
                    datetime.combine(day, datetime.min.time(), UTC) + timedelta(days=1),
                )
            ]
            edited = state.crm.mutate("Leads", edits=60)["edited"]
            in_older_days = sorted(set(edited) & set(older_ids))
            assert in_older_days, "some edited leads must also sit in an older partition"

            load_partition(warehouse, lake, LEADS, history[0])  # an old day, before the event
            event_home.router.publish(notified(zoho_sandbox, "Leads", "update", edited))
            daemon.evaluate()  # the event's run is requested but not recorded: a sensor crash
            for day in history[1:]:  # the batch loads its older days meanwhile...
                load_partition(warehouse, lake, LEADS, day)
            daemon.tick_until(refresh_queue_empty(event_home))  # ...then the event is applied
            load_partition(warehouse, lake, LEADS, history[-1])  # and a rerun of an old day after it
            event_home.router.publish(notified(zoho_sandbox, "Leads", "update", edited[:10]))
            daemon.tick_until(refresh_queue_empty(event_home))  # a redelivery on top
            for day in reversed(history):  # a backfill of every old day, newest first
                load_partition(warehouse, lake, LEADS, day)
    finally:
        warehouse.close()

    rows = warehouse_rows(event_home, "leads", "last_name")
    for record_id in edited:
        assert rows[record_id] == truth(zoho_sandbox, "Leads", record_id, "Last_Name"), record_id
    assert all(run.status == dg.DagsterRunStatus.SUCCESS for run in daemon.runs())
