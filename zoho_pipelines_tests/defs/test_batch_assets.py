"""The batch assets run by Dagster against the sandbox: one day of Deals into the lake and DuckDB.

The environment is all the product gets (ZOHO_* from the sandbox, LAKE_URL, WAREHOUSE_URL), as in
a deployment; runs go through a real ephemeral Dagster instance, and the table is then compared
with the sandbox's ground truth for that day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from urllib.parse import unquote, urlparse

import dagster as dg
import pytest

from zoho_pipelines.defs.batch import daily_partitions, module_assets
from zoho_pipelines.defs.resources import LakeResource, WarehouseResource, ZohoResource
from zoho_pipelines.lake import LocalLake, open_lake
from zoho_pipelines.pipeline.checks import COUNT_CHECK, ID_CHECK, UNFITTED_CHECK
from zoho_pipelines.sandbox.server import RunningSandbox
from zoho_pipelines.warehouse import open_warehouse
from zoho_pipelines_tests.pipeline.support import (
    SandboxTruth,
    client_for,
    day_rows,
    spec_of,
    table_rows,
    write_as_earlier_run,
)

DAY = date(2026, 11, 20)
DEALS = spec_of("crm", "deals")
LAKE_KEY = dg.AssetKey(["lake", "crm", "deals"])
WAREHOUSE_KEY = dg.AssetKey(["warehouse", "crm", "deals"])


@dataclass(frozen=True)
class Deployment:
    lake_url: str
    warehouse_url: str


@pytest.fixture
def deployment(sandbox: RunningSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Deployment:
    """The product's environment pointed at the sandbox, a lake folder and a DuckDB file."""
    monkeypatch.chdir(tmp_path)  # no stray .env from the caller's directory
    for name, value in sandbox.env().items():
        monkeypatch.setenv(name, value)
    deployment = Deployment(str(tmp_path / "lake"), f"duckdb://{tmp_path / 'warehouse.duckdb'}")
    monkeypatch.setenv("LAKE_URL", deployment.lake_url)
    monkeypatch.setenv("WAREHOUSE_URL", deployment.warehouse_url)
    monkeypatch.setenv("ZOHO_PIPELINES_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("ZOHO_MODULES", raising=False)
    return deployment


def materialize_day(day: date) -> dg.ExecuteInProcessResult:
    from zoho_pipelines.definitions import defs

    job = defs.resolve_implicit_global_asset_job_def()
    with dg.DagsterInstance.ephemeral() as instance:
        return job.execute_in_process(
            instance=instance,
            partition_key=day.isoformat(),
            asset_selection=[LAKE_KEY, WAREHOUSE_KEY],
            raise_on_error=False,
        )


def metadata_of(result: dg.ExecuteInProcessResult, key: dg.AssetKey) -> dict[str, object]:
    (materialization,) = result.asset_materializations_for_node("__".join(key.path))
    return {name: value.value for name, value in materialization.metadata.items()}


def test_materializing_one_day_fills_the_table_with_exactly_that_days_records(
    sandbox: RunningSandbox, deployment: Deployment
) -> None:
    result = materialize_day(DAY)
    assert result.success

    truth = SandboxTruth(sandbox).day(DEALS, DAY)
    with open_warehouse(deployment.warehouse_url) as warehouse:
        rows = table_rows(warehouse, DEALS)
        assert set(day_rows(warehouse, DEALS, DAY, deleted=False)) == set(truth.records)
        assert set(day_rows(warehouse, DEALS, DAY, deleted=True)) == truth.deleted
    assert len(rows) == len(truth.records) + len(truth.deleted), "nothing from other days"

    lake = metadata_of(result, LAKE_KEY)
    assert lake["rows"] == lake["dagster/row_count"] == len(rows)
    assert (lake["records"], lake["deletions"]) == (len(truth.records), len(truth.deleted))
    assert lake["api_calls"] >= 2
    assert lake["api_credits"] >= 1
    path = Path(unquote(urlparse(str(lake["path"])).path))
    assert path == Path(deployment.lake_url) / "zoho/crm/deals" / f"date={DAY}" / "deals.parquet"
    assert path.is_file()
    assert lake["bytes"] == path.stat().st_size
    columns = {column.name: column.type for column in lake["dagster/column_schema"].columns}
    assert {"id", "_modified_time", "_deleted", "owner_id", "owner_name", "amount"} <= set(columns)
    assert columns["amount"] == "decimal128(38, 2)"

    checks = {evaluation.check_name: evaluation.passed for evaluation in result.get_asset_check_evaluations()}
    assert checks == {ID_CHECK: True, COUNT_CHECK: True, UNFITTED_CHECK: True}
    assert metadata_of(result, LAKE_KEY)["unfitted_values"] == 0

    table = metadata_of(result, WAREHOUSE_KEY)
    assert table["table"] == "zoho_crm.deals"
    assert table["table_rows"] == table["partition_rows"] == table["inserted_rows"] == len(rows)

    # A rerun of the same partition changes nothing but the sync time.
    rerun = materialize_day(DAY)
    assert rerun.success
    again = metadata_of(rerun, WAREHOUSE_KEY)
    assert (again["inserted_rows"], again["table_rows"]) == (0, len(rows))


def test_assets_run_directly_with_explicit_resources_that_win_over_the_environment(
    sandbox: RunningSandbox, deployment: Deployment, tmp_path: Path
) -> None:
    """`build_asset_context`, as Dagster's docs test assets; resource config beats LAKE_URL."""
    lake_url = str(tmp_path / "explicit-lake")
    warehouse_url = f"duckdb://{tmp_path / 'explicit.duckdb'}"
    resources = {
        "zoho": ZohoResource(),
        "lake": LakeResource(url=lake_url),
        "warehouse": WarehouseResource(url=warehouse_url),
    }
    lake_asset, warehouse_asset = module_assets(DEALS, daily_partitions())
    with dg.build_asset_context(partition_key=DAY.isoformat(), resources=resources) as context:
        produced = lake_asset(context)
    with dg.build_asset_context(partition_key=DAY.isoformat(), resources=resources) as context:
        loaded = warehouse_asset(context)

    truth = SandboxTruth(sandbox).day(DEALS, DAY)
    assert produced.metadata["records"] == len(truth.records)
    assert all(check.passed for check in produced.check_results)
    assert loaded.metadata["table_rows"] == len(truth.records) + len(truth.deleted)
    assert open_lake(lake_url).list_partitions("crm", "deals") == [DAY]
    assert not Path(deployment.lake_url).exists(), "LAKE_URL must not be used when config is given"


def test_a_schema_drift_fails_the_run_with_the_field_and_leaves_the_table(
    sandbox: RunningSandbox, deployment: Deployment
) -> None:
    assert materialize_day(DAY).success
    with open_warehouse(deployment.warehouse_url) as warehouse:
        before = table_rows(warehouse, DEALS)
    later = date(2026, 11, 21)
    with client_for(sandbox) as client:
        # A partition newer than the one to sync, written when Amount was a text field.
        fields = [
            {**field, "data_type": "text"} if field["api_name"] == "Amount" else field
            for field in client.crm.fields("Deals")
        ]
        write_as_earlier_run(client, LocalLake(Path(deployment.lake_url)), DEALS, later, fields)

    result = materialize_day(DAY)
    assert not result.success
    (failure,) = [event for event in result.all_events if event.is_step_failure]
    assert failure.step_key == "lake__crm__deals"
    wrapper = failure.step_failure_data.error
    assert wrapper is not None
    error = wrapper.cause
    assert error is not None
    assert error.cls_name == "SchemaDriftError"
    assert "'Amount'" in error.message
    assert "backfill" in error.message
    with open_warehouse(deployment.warehouse_url) as warehouse:
        assert table_rows(warehouse, DEALS) == before
