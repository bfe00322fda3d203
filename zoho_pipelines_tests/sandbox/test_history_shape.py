"""The generated history looks like a real org's: mass updates, midnight imports, office hours.

Read over HTTP through COQL (Modified_Time window, ordered by Modified_Time then id, as an
incremental sync reads it) and compared with what the realistic shape promises; `uniform` keeps the
old even spread. Zoho's records render Modified_Time in the org's zone (+05:30 here), so 00:00:00
UTC arrives as 05:30:00+05:30: the tests compare instants, never text.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from zoho_pipelines.clock import OffsetClock
from zoho_pipelines.sandbox.config import SandboxConfig
from zoho_pipelines.sandbox.crm_store import CrmStore
from zoho_pipelines.sandbox.server import RunningSandbox
from zoho_pipelines_tests.sandbox.helpers import api_client

DAY = date(2026, 11, 26)
RECORDS = 20_000


def modified_instants(running: RunningSandbox, module: str, start: datetime, end: datetime) -> list[int]:
    """Every live record's Modified_Time in [start, end) as epoch seconds, read through COQL pages."""
    window = f"(Modified_Time >= '{start.isoformat()}' and Modified_Time < '{end.isoformat()}')"
    instants: list[int] = []
    with api_client(running) as client:
        for offset in range(0, 100_000, 2_000):
            query = (
                f"select Modified_Time from {module} where {window} "  # noqa: S608 - literals only
                f"order by Modified_Time asc, id asc limit {offset}, 2000"
            )
            response = client.post("/crm/v8/coql", json={"select_query": query})
            if response.status_code == 204:
                break
            body = response.json()
            instants += [
                int(datetime.fromisoformat(row["Modified_Time"]).timestamp()) for row in body["data"]
            ]
            if not body["info"]["more_records"]:
                break
    return instants


def shares(instants: list[int]) -> tuple[float, float, int]:
    """(share at 00:00:00 UTC, share sharing its second with another record, largest such group)."""
    counts = Counter(instants)
    midnight = sum(1 for instant in instants if instant % 86_400 == 0) / len(instants)
    shared = sum(count for count in counts.values() if count > 1) / len(instants)
    return midnight, shared, max(counts.values())


def test_clustered_day_has_midnight_imports_and_mass_updates(
    sandbox_factory: Callable[..., RunningSandbox],
) -> None:
    config = SandboxConfig.clustered_day(DAY, records=RECORDS)
    running = sandbox_factory(
        **{k: getattr(config, k) for k in ("anchor", "history_days", "records_per_module")}
    )
    start = datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC)
    instants = modified_instants(running, "Deals", start, start + timedelta(days=1))
    truth = running.state.crm.modified_ids("Deals", start, start + timedelta(days=1))
    assert len(instants) == len(truth) > 0.9 * RECORDS
    midnight, shared, largest = shares(instants)
    assert midnight >= 0.01
    assert shared >= 0.05
    assert largest >= 1_000, "a mass update stamps about a thousand records or more with one second"
    assert instants == sorted(instants)


def test_quiet_nights_and_busy_office_hours(sandbox: RunningSandbox) -> None:
    """Local (org zone, +05:30) 01:00-05:00 sees far fewer edits than 09:00-13:00."""
    anchor = sandbox.config.anchor
    assert anchor is not None
    instants = modified_instants(sandbox, "Leads", anchor - timedelta(days=30), anchor)
    local_hours = Counter(((instant + 19_800) // 3_600) % 24 for instant in instants if instant % 86_400)
    night = sum(local_hours[hour] for hour in range(1, 5))
    office = sum(local_hours[hour] for hour in range(9, 13))
    assert office > 4 * night


def test_uniform_shape_keeps_the_even_spread(sandbox_factory: Callable[..., RunningSandbox]) -> None:
    running = sandbox_factory(records_per_module=RECORDS, history_days=1, time_shape="uniform")
    anchor = running.config.anchor
    assert anchor is not None
    instants = modified_instants(running, "Deals", anchor - timedelta(days=1), anchor)
    midnight, _, largest = shares(instants)
    assert midnight < 0.001
    assert largest < 20


def test_bench_preset_gives_the_clustered_benchmark_day() -> None:
    """100,000 Deals on one day, >= 1% at 00:00:00 UTC, >= 5% sharing a second (the store's truth)."""
    config = SandboxConfig.clustered_day(DAY)
    store = CrmStore(config, OffsetClock.starting_at(config.anchor))
    columns = store.columns["Deals"]
    seconds = columns.modified_ms[: columns.count] // 1000
    start = int(datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC).timestamp())
    assert columns.count == 100_000
    assert ((seconds >= start) & (seconds < start + 86_400)).all()
    _, inverse, counts = np.unique(seconds, return_inverse=True, return_counts=True)
    assert (seconds % 86_400 == 0).mean() >= 0.01
    assert (counts[inverse] > 1).mean() >= 0.05


@pytest.mark.parametrize(
    "overrides", [{"time_shape": "spiky"}, {"midnight_share": -0.1}, {"mass_update_size": 1}]
)
def test_shape_knobs_are_validated(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"time_shape|share|mass_update_size"):
        SandboxConfig(**overrides)


def test_history_is_seed_deterministic() -> None:
    config = SandboxConfig(anchor=datetime(2026, 11, 27, tzinfo=UTC), records_per_module=5_000)
    first, second = (CrmStore(config, OffsetClock.starting_at(config.anchor)) for _ in range(2))
    other = CrmStore(
        SandboxConfig(anchor=config.anchor, records_per_module=5_000, seed=8),
        OffsetClock.starting_at(config.anchor),
    )
    for name in ("created_ms", "modified_ms", "ids"):
        assert np.array_equal(getattr(first.columns["Deals"], name), getattr(second.columns["Deals"], name))
    assert not np.array_equal(first.columns["Deals"].modified_ms, other.columns["Deals"].modified_ms)
