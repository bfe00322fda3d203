"""Every field type end to end: the sandbox's Service_Contracts module (one field of each type Zoho
documents) and Tag in every default module, through the Dagster assets into DuckDB and PostgreSQL.

A value that breaks its field's type (3.7 in the integer field Seats, as a formula or integration
can produce; the sandbox's store takes it as is) must not fail the run: the row lands with the value
kept in `_unfitted`, the lake asset's metadata counts it, and the WARN check names the field.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg
import pytest

from zoho_pipelines.catalog import ModuleSpec, default_catalog
from zoho_pipelines.defs.batch import daily_partitions, module_assets
from zoho_pipelines.defs.resources import default_resources
from zoho_pipelines.lake import LocalLake, PartitionRef
from zoho_pipelines.pipeline.checks import COUNT_CHECK, ID_CHECK, UNFITTED_CHECK
from zoho_pipelines.schema import ModuleSchema
from zoho_pipelines.warehouse import open_warehouse
from zoho_pipelines_tests.pipeline.support import SandboxTruth, mismatches, table_rows
from zoho_pipelines_tests.warehouse.conftest import postgres_server, postgres_url

__all__ = ["postgres_server", "postgres_url"]

CONTRACTS = default_catalog().get("crm", "service_contracts")
DEFAULTS = [default_catalog().get("crm", module) for module in ("leads", "contacts", "accounts", "deals")]
SPECS = [CONTRACTS, *DEFAULTS]
MISTYPED_SEATS = 3.7


def _materialize(day: date) -> dg.ExecuteInProcessResult:
    """All five modules' lake and warehouse assets for `day`, in a real ephemeral instance."""
    partitions = daily_partitions()
    defs = dg.Definitions(
        assets=[asset for spec in SPECS for asset in module_assets(spec, partitions)],
        resources=default_resources(),
    )
    with dg.DagsterInstance.ephemeral() as instance:
        return defs.resolve_implicit_global_asset_job_def().execute_in_process(
            instance=instance, partition_key=day.isoformat(), raise_on_error=False
        )


def _lake_metadata(result: dg.ExecuteInProcessResult, spec: ModuleSpec) -> dict[str, object]:
    (materialization,) = result.asset_materializations_for_node("__".join(spec.lake_asset_key))
    return {name: value.value for name, value in materialization.metadata.items()}


@pytest.mark.parametrize("backend", ["duckdb", "postgresql"])
def test_every_field_type_and_tag_land_whole_and_a_mistyped_value_warns(
    backend: str,
    sandbox_factory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    sandbox = sandbox_factory()
    assert sandbox.state is not None
    crm = sandbox.state.crm
    victim_index = int(crm.live_indices("Service_Contracts")[0])
    victim = str(crm.record_id("Service_Contracts", victim_index))
    moment_ms = crm.update("Service_Contracts", victim_index, {"Seats": MISTYPED_SEATS})
    day = datetime.fromtimestamp(moment_ms / 1000, tz=UTC).date()

    monkeypatch.chdir(tmp_path)  # no stray .env from the caller's directory
    for name, value in sandbox.env().items():
        monkeypatch.setenv(name, value)
    lake_url = str(tmp_path / "lake")
    warehouse_url = (
        f"duckdb://{tmp_path / 'warehouse.duckdb'}"
        if backend == "duckdb"
        else request.getfixturevalue("postgres_url")
    )
    monkeypatch.setenv("LAKE_URL", lake_url)
    monkeypatch.setenv("WAREHOUSE_URL", warehouse_url)
    monkeypatch.setenv("ZOHO_PIPELINES_HOME", str(tmp_path / "home"))

    result = _materialize(day)
    assert result.success, "a value that fits no column must not fail the run"

    evaluations = {
        (tuple(evaluation.asset_key.path), evaluation.check_name): evaluation
        for evaluation in result.get_asset_check_evaluations()
    }
    for spec in SPECS:
        key = tuple(spec.lake_asset_key)
        assert evaluations[(key, ID_CHECK)].passed
        assert evaluations[(key, COUNT_CHECK)].passed
        unfitted = evaluations[(key, UNFITTED_CHECK)]
        assert unfitted.severity is dg.AssetCheckSeverity.WARN
        assert unfitted.passed is (spec is not CONTRACTS), spec.selector
    warning = evaluations[(tuple(CONTRACTS.lake_asset_key), UNFITTED_CHECK)]
    assert warning.metadata["unfitted_values"].value == 1
    assert warning.metadata["unfitted_by_field"].value == {"Seats": 1}
    assert warning.metadata["sample_record_ids"].value == {"Seats": [victim]}
    lake_metadata = _lake_metadata(result, CONTRACTS)
    assert lake_metadata["unfitted_values"] == 1
    assert lake_metadata["unfitted_by_field"] == {"Seats": 1}

    truth = SandboxTruth(sandbox)
    lake = LocalLake(Path(lake_url))
    with open_warehouse(warehouse_url) as warehouse:
        for spec in SPECS:
            schema = ModuleSchema.from_arrow(lake.read_schema(PartitionRef(spec.app, spec.module, day)))
            live = {key: row for key, row in table_rows(warehouse, spec).items() if not row["_deleted"]}
            assert live, f"{spec.selector}: nothing landed on {day}"
            records = truth.crm_records(spec.api_name, live)
            assert "tag" in schema.to_arrow().names
            tagged = [row["tag"] for row in live.values() if row["tag"] not in (None, "[]")]
            assert tagged, f"{spec.selector}: no record with a tag"
            assert {"name", "id", "color_code"} <= set(json.loads(tagged[0])[0])
            problems = {
                key: [
                    problem
                    for problem in mismatches(schema, records[key], row)
                    if key != victim or not problem.startswith("seats:")
                ]
                for key, row in live.items()
            }
            assert not {key: found for key, found in problems.items() if found}, spec.selector
            others = [row["_unfitted"] for key, row in live.items() if key != victim]
            assert others == [None] * len(others)

        row = table_rows(warehouse, CONTRACTS)[victim]
    assert row["seats"] is None
    assert json.loads(row["_unfitted"]) == {"Seats": MISTYPED_SEATS}
