"""The batch code location as Dagster loads it: asset keys, groups, kinds, partitions, checks, schedule."""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg
import pytest

from zoho_pipelines.defs.batch import APP_TAG, ZOHO_POOL, batch_definitions, daily_sync_job_name
from zoho_pipelines.defs.resources import default_resources
from zoho_pipelines.pipeline.checks import COUNT_CHECK, ID_CHECK, UNFITTED_CHECK

DEFAULT_MODULES = ("leads", "contacts", "accounts", "deals")


def code_location() -> dg.Definitions:
    """What `zoho_pipelines.definitions` builds, rebuilt under the test's environment."""
    return dg.Definitions.merge(batch_definitions(), dg.Definitions(resources=default_resources()))


def test_the_code_location_loads_with_the_default_crm_modules() -> None:
    from zoho_pipelines.definitions import defs

    graph = defs.resolve_asset_graph()
    # Other parts of the product (events, the AI enrichments) may add assets of their own; the
    # batch layers of the Zoho apps are these.
    keys = {
        key.to_user_string()
        for key in graph.get_all_asset_keys()
        if key.path[0] in ("lake", "warehouse") and key.path[1] in ("crm", "books", "projects")
    }
    assert keys == {f"{layer}/crm/{module}" for layer in ("lake", "warehouse") for module in DEFAULT_MODULES}
    for module in DEFAULT_MODULES:
        warehouse = graph.get(dg.AssetKey(["warehouse", "crm", module]))
        assert warehouse.parent_keys == {dg.AssetKey(["lake", "crm", module])}, "lineage lake -> warehouse"
    assert set(defs.resources) >= {"zoho", "lake", "warehouse"}
    job = defs.resolve_job_def(daily_sync_job_name("crm"))
    assert job.tags[APP_TAG] == "crm"  # the run tag the production run queue limits per app
    assert defs.resolve_schedule_def("zoho_crm_daily_schedule").job_name == daily_sync_job_name("crm")


def test_zoho_modules_selects_apps_and_modules_with_their_groups_kinds_and_partitions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ZOHO_MODULES", "crm:deals,crm:Vendors,books:invoices,projects:tasks")
    monkeypatch.setenv("WAREHOUSE_URL", "postgresql://warehouse.internal/analytics")
    monkeypatch.setenv("ZOHO_PARTITIONS_START", "2026-01-01")
    defs = code_location()
    graph = defs.resolve_asset_graph()
    expected = {"crm": ("deals", "vendors"), "books": ("invoices",), "projects": ("tasks",)}
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert keys == {
        f"{layer}/{app}/{module}"
        for app, modules in expected.items()
        for module in modules
        for layer in ("lake", "warehouse")
    }
    for app, modules in expected.items():
        for module in modules:
            lake, warehouse = (
                graph.get(dg.AssetKey([layer, app, module])) for layer in ("lake", "warehouse")
            )
            assert lake.group_name == warehouse.group_name == f"zoho_{app}"
            assert lake.kinds == {"zoho", "parquet"}
            assert warehouse.kinds == {"postgres", "table"}
            for node in (lake, warehouse):
                partitions = node.partitions_def
                assert isinstance(partitions, dg.DailyPartitionsDefinition)
                assert partitions.timezone == "UTC"
                assert partitions.get_first_partition_key() == "2026-01-01"
            checks = {key.name for key in lake.check_keys}
            assert checks == {ID_CHECK, COUNT_CHECK, UNFITTED_CHECK}
            lake_def = defs.resolve_assets_def(dg.AssetKey(["lake", app, module]))
            assert lake_def.op.pool == ZOHO_POOL, "Zoho calls are bounded by a Dagster pool"
            assert lake.description
            assert warehouse.description


@pytest.mark.parametrize(("resync", "expected_days"), [(None, 3), ("0", 1), ("4", 5)])
def test_the_schedule_asks_for_yesterday_and_the_resync_window(
    monkeypatch: pytest.MonkeyPatch, resync: str | None, expected_days: int
) -> None:
    if resync is None:
        monkeypatch.delenv("ZOHO_RESYNC_DAYS", raising=False)
    else:
        monkeypatch.setenv("ZOHO_RESYNC_DAYS", resync)
    defs = code_location()
    schedule = defs.resolve_schedule_def("zoho_crm_daily_schedule")
    assert schedule.execution_timezone == "UTC"
    context = dg.build_schedule_context(
        scheduled_execution_time=datetime(2026, 11, 28, 2, 0, tzinfo=UTC),
        repository_def=defs.get_repository_def(),
    )
    requests = schedule.evaluate_tick(context).run_requests
    assert requests is not None
    days = [request.partition_key for request in requests]
    assert days == [f"2026-11-{27 - offset}" for offset in range(expected_days)]
    assert len({request.run_key for request in requests}) == len(requests)
    # Tomorrow's tick asks for overlapping days again, under new run keys (a late-change re-sync).
    tomorrow = dg.build_schedule_context(
        scheduled_execution_time=datetime(2026, 11, 29, 2, 0, tzinfo=UTC),
        repository_def=defs.get_repository_def(),
    )
    later = schedule.evaluate_tick(tomorrow).run_requests or []
    assert not {request.run_key for request in later} & {request.run_key for request in requests}
