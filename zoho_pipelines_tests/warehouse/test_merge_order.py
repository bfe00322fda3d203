"""Property: any set of partitions, merged in any order and any number of times, yields the same
table, and that table is what the merge rules say (checked against a small Python model)."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zoho_pipelines.lake import LocalLake
from zoho_pipelines.warehouse import RECORD_MODIFIED_TIME, SqlWarehouse, open_warehouse
from zoho_pipelines_tests.warehouse.support import Partitions, lead, table_rows

START = datetime(2024, 3, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Event:
    record_id: str
    minute: int  # minutes after START: three days of changes
    deleted: bool

    @property
    def moment(self) -> datetime:
        return START + timedelta(minutes=self.minute)


events = st.lists(
    st.builds(Event, st.sampled_from("123456"), st.integers(0, 3 * 24 * 60 - 1), st.booleans()),
    min_size=1,
    max_size=30,
    unique_by=lambda event: (event.record_id, event.minute, event.deleted),
)


def _write_partitions(partitions: Partitions, history: list[Event]) -> list[Any]:
    days: dict[date, list[Event]] = {}
    for event in history:
        days.setdefault(event.moment.date(), []).append(event)
    refs = []
    for day, day_events in sorted(days.items()):
        records = [
            lead(e.record_id, e.moment.isoformat(), f"{e.record_id}@{e.minute}")
            for e in day_events
            if not e.deleted
        ]
        deletions = [(e.record_id, e.moment.isoformat()) for e in day_events if e.deleted]
        refs.append(partitions.write(day, records, deletions))
    return refs


def expected_table(history: list[Event]) -> list[dict[str, Any]]:
    """The merge rules, stated plainly: newest values win, a deletion at least as new deletes."""
    rows = []
    for record_id in sorted({event.record_id for event in history}):
        mine = [event for event in history if event.record_id == record_id]
        newest_values = max((e for e in mine if not e.deleted), key=lambda e: e.minute, default=None)
        newest_deletion = max((e for e in mine if e.deleted), key=lambda e: e.minute, default=None)
        newest = max(mine, key=lambda e: (e.minute, e.deleted))
        rows.append(
            {
                "id": record_id,
                "last_name": newest_values and f"{record_id}@{newest_values.minute}",
                RECORD_MODIFIED_TIME: newest_values and newest_values.moment,
                "_deleted": newest_deletion is not None
                and (newest_values is None or newest_deletion.minute >= newest_values.minute),
                "_modified_time": newest.moment,
                "_partition": newest.moment.date(),
            }
        )
    return rows


def _summary(warehouse: SqlWarehouse) -> list[dict[str, Any]]:
    keys = ("id", "last_name", RECORD_MODIFIED_TIME, "_deleted", "_modified_time", "_partition")
    return [{key: row[key] for key in keys} for row in table_rows(warehouse)]


def _check_orders(
    open_fresh: Callable[[], SqlWarehouse], history: list[Event], orders: list[list[int]]
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        partitions = Partitions(LocalLake(Path(folder)))
        refs = _write_partitions(partitions, history)
        expected = expected_table(history)
        for order in orders:
            warehouse = open_fresh()
            try:
                for position in order:
                    warehouse.merge_partition(partitions.lake, refs[position % len(refs)])
                assert _summary(warehouse) == expected
            finally:
                warehouse.close()


@settings(max_examples=25, deadline=None)
@given(history=events, shuffles=st.lists(st.randoms(use_true_random=False), min_size=2, max_size=2))
def test_duckdb_tables_do_not_depend_on_merge_order(history: list[Event], shuffles: list[Any]) -> None:
    days = len({event.moment.date() for event in history})
    orders = []
    for shuffle in shuffles:
        order = list(range(days)) + [shuffle.randrange(days) for _ in range(2)]  # some merged twice
        shuffle.shuffle(order)
        orders.append(order)
    _check_orders(lambda: open_warehouse("duckdb:///:memory:"), history, orders)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(history=events, shuffle=st.randoms(use_true_random=False))
def test_postgresql_tables_do_not_depend_on_merge_order(
    postgres_url: str, history: list[Event], shuffle: Any
) -> None:
    def fresh() -> SqlWarehouse:
        with psycopg.connect(postgres_url, autocommit=True) as connection:
            connection.execute('DROP SCHEMA IF EXISTS "zoho_crm" CASCADE')
        return open_warehouse(postgres_url)

    days = len({event.moment.date() for event in history})
    forward, backward = list(range(days)), list(reversed(range(days)))
    mixed = forward + forward
    shuffle.shuffle(mixed)
    _check_orders(fresh, history, [forward, backward, mixed])
