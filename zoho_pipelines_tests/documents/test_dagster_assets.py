"""The Dagster layer: discovery turns new attachments into document partitions, the sensor asks for
one run over their range, one partition materializes alone and a range materializes as one run
(extraction rows, write-back onto the sandbox's Deals)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from zoho_pipelines.clock import ManualClock
from zoho_pipelines.defs.documents import (
    DOCUMENT_PARTITIONS,
    DocumentsResource,
    deal_document_extractions,
    deal_document_writebacks,
    deal_documents_sensor,
    discovery_job,
    discovery_schedule,
    partition_range_tags,
)
from zoho_pipelines.defs.events.resources import ClockResource
from zoho_pipelines.defs.resources import LakeResource, WarehouseResource, ZohoResource
from zoho_pipelines.documents.batch import pending_ranges
from zoho_pipelines.documents.model import DocumentRef
from zoho_pipelines.documents.tables import EXTRACTIONS_TABLE, WRITEBACKS_TABLE
from zoho_pipelines.sandbox.attachments import attachment_catalog
from zoho_pipelines.sandbox.documents_pdf import ContractTruth
from zoho_pipelines.sandbox.server import RunningSandbox
from zoho_pipelines.warehouse import open_warehouse


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as test_instance:
        yield test_instance


@pytest.fixture
def resources(zoho_env: Path, tmp_path: Path, clock: ManualClock) -> dict[str, object]:
    return {
        "zoho": ZohoResource(),
        "lake": LakeResource(url=str(tmp_path / "lake")),
        "warehouse": WarehouseResource(url=f"duckdb:///{tmp_path / 'warehouse.duckdb'}"),
        "documents": DocumentsResource(),
        "documents_clock": ClockResource.using(clock),
    }


def test_discovery_adds_each_document_once_and_the_sensor_runs_the_new_ones(
    documents_sandbox: RunningSandbox, instance: dg.DagsterInstance, resources: dict[str, object]
) -> None:
    expected = {
        DocumentRef("Deals", str(item.record_id), str(item.id), "pdf").partition_key
        for item in attachment_catalog(documents_sandbox.state).attachments
    }
    for _ in range(2):
        result = discovery_job.execute_in_process(instance=instance, resources=resources)
        assert result.success
        assert set(instance.get_dynamic_partitions(DOCUMENT_PARTITIONS.name)) == expected
    assert len(instance.get_dynamic_partitions(DOCUMENT_PARTITIONS.name)) == len(expected)

    keys = instance.get_dynamic_partitions(DOCUMENT_PARTITIONS.name)
    with dg.build_sensor_context(instance=instance) as context:
        requested = deal_documents_sensor(context)
    assert isinstance(requested, dg.SensorResult)
    [request] = requested.run_requests or []
    assert request.run_key == f"{keys[0]}..{keys[-1]}"
    assert request.partition_key_range == dg.PartitionKeyRange(keys[0], keys[-1])


def test_pending_ranges_are_the_unbroken_runs_of_keys_not_done() -> None:
    keys = ["a", "b", "c", "d", "e", "f"]
    assert pending_ranges(keys, set()) == [("a", "f")]
    assert pending_ranges(keys, {"c", "f"}) == [("a", "b"), ("d", "e")]
    assert pending_ranges(keys, {"a", "b", "d", "e"}) == [("c", "c"), ("f", "f")]
    assert pending_ranges(keys, set(keys)) == []


def test_the_hourly_discovery_looks_back_past_the_last_hour() -> None:
    with dg.build_schedule_context() as context:
        request = discovery_schedule(context)
    assert isinstance(request, dg.RunRequest)
    lookback = request.run_config["ops"]["discover_deal_documents"]["config"]["lookback_minutes"]
    assert lookback > 60


def test_one_document_partition_materializes(
    documents_sandbox: RunningSandbox,
    instance: dg.DagsterInstance,
    resources: dict[str, object],
    tmp_path: Path,
) -> None:
    contract = next(
        item
        for item in attachment_catalog(documents_sandbox.state).attachments
        if isinstance(item.truth, ContractTruth)
    )
    key = DocumentRef("Deals", str(contract.record_id), str(contract.id), "pdf").partition_key
    instance.add_dynamic_partitions(DOCUMENT_PARTITIONS.name, [key])
    result = dg.materialize(
        [deal_document_extractions, deal_document_writebacks],
        partition_key=key,
        instance=instance,
        resources=resources,
    )
    assert result.success
    metadata = {
        event.asset_key.path[-1]: event.step_materialization_data.materialization.metadata
        for event in result.get_asset_materialization_events()
    }
    assert metadata["extractions"]["documents"].value == 1
    assert metadata["extractions"]["pages"].value == 2
    assert metadata["extractions"]["extractor"].value == "pdf-text"
    assert metadata["writebacks"]["written"].value == 1
    assert (tmp_path / "lake" / "zoho" / "documents" / key).is_file()
    with open_warehouse(f"duckdb:///{tmp_path / 'warehouse.duckdb'}") as warehouse:
        fields = warehouse.query(f'SELECT "fields" FROM {EXTRACTIONS_TABLE.sql}')  # noqa: S608
        status = warehouse.query(f'SELECT "document", "status" FROM {WRITEBACKS_TABLE.sql}')  # noqa: S608
    assert json.loads(fields[0][0])["end_date"] == contract.truth.end_date.isoformat()
    assert status == [(key, "written")]
    with dg.build_sensor_context(instance=instance) as context:
        after = deal_documents_sensor(context)
    assert isinstance(after, dg.SensorResult)
    assert not after.run_requests
    store = documents_sandbox.state.crm
    deal = store.render("Deals", [contract.record_index], ["Contract_End_Date"])[0]
    assert deal["Contract_End_Date"] == contract.truth.end_date.isoformat()


def test_a_range_of_document_partitions_is_one_run(
    documents_sandbox: RunningSandbox,
    instance: dg.DagsterInstance,
    resources: dict[str, object],
    tmp_path: Path,
) -> None:
    assert discovery_job.execute_in_process(instance=instance, resources=resources).success
    keys = instance.get_dynamic_partitions(DOCUMENT_PARTITIONS.name)
    catalog = attachment_catalog(documents_sandbox.state)
    contracts = [item for item in catalog.attachments if isinstance(item.truth, ContractTruth)]
    result = dg.materialize(
        [deal_document_extractions, deal_document_writebacks],
        instance=instance,
        resources=resources,
        tags=partition_range_tags(keys[0], keys[-1]),
    )
    assert result.success
    assert set(instance.get_materialized_partitions(deal_document_extractions.key)) == set(keys)
    assert set(instance.get_materialized_partitions(deal_document_writebacks.key)) == set(keys)
    metadata = {
        event.asset_key.path[-1]: event.step_materialization_data.materialization.metadata
        for event in result.get_asset_materialization_events()
    }
    assert metadata["extractions"]["documents"].value == len(keys)
    assert metadata["extractions"]["pages"].value == 2 * len(contracts) + (len(keys) - len(contracts))
    assert metadata["writebacks"]["written"].value == len(contracts)
    assert metadata["writebacks"]["without_rules"].value == len(keys) - len(contracts)
    store = documents_sandbox.state.crm
    for contract in contracts:
        deal = store.render("Deals", [contract.record_index], ["Contract_End_Date"])[0]
        assert deal["Contract_End_Date"] == contract.truth.end_date.isoformat()
    with dg.build_sensor_context(instance=instance) as context:
        after = deal_documents_sensor(context)
    assert isinstance(after, dg.SensorResult)
    assert not after.run_requests
