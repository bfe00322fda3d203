"""The Dagster layer: discovery turns new files (Attachments lists and file-upload fields) into
document partitions, the sensor asks for one run over their range, one partition materializes alone
and a range materializes as one run (extraction rows, write-back onto the sandbox's Deals)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from zoho_pipelines.clock import ManualClock
from zoho_pipelines.defs.documents import (
    DocumentsResource,
    ModuleDocuments,
    documents_for,
    partition_range_tags,
)
from zoho_pipelines.defs.events.resources import ClockResource
from zoho_pipelines.defs.resources import LakeResource, WarehouseResource, ZohoResource
from zoho_pipelines.documents.batch import pending_ranges
from zoho_pipelines.documents.model import DocumentRef
from zoho_pipelines.documents.tables import EXTRACTIONS_TABLE, WRITEBACKS_TABLE
from zoho_pipelines.sandbox.attachments import attachment_catalog, file_upload_truth
from zoho_pipelines.sandbox.documents_pdf import ContractTruth
from zoho_pipelines.sandbox.server import RunningSandbox
from zoho_pipelines.warehouse import open_warehouse
from zoho_pipelines_tests.documents.conftest import signed_document_pdfs, truth_fields

DEALS = ModuleDocuments("Deals")
DOCUMENT_PARTITIONS = DEALS.partitions


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


def module_definitions(module: str, resources: dict[str, object]) -> dg.Definitions:
    return dg.Definitions.merge(documents_for(module), dg.Definitions(resources=resources))


@pytest.fixture
def deals(resources: dict[str, object]) -> dg.Definitions:
    return module_definitions("Deals", resources)


def sensor_requests(defs: dg.Definitions, instance: dg.DagsterInstance) -> list[dg.RunRequest]:
    sensor = defs.resolve_sensor_def(f"zoho_{DEALS.slug}_documents_sensor")
    with dg.build_sensor_context(instance=instance) as context:
        result = sensor(context)
    assert isinstance(result, dg.SensorResult)
    return list(result.run_requests or [])


def materialization_metadata(result: dg.ExecuteInProcessResult) -> dict[str, dict[str, object]]:
    return {
        event.asset_key.path[-1]: {
            name: value.value
            for name, value in event.step_materialization_data.materialization.metadata.items()
        }
        for event in result.get_asset_materialization_events()
    }


def test_discovery_adds_each_document_once_and_the_sensor_runs_the_new_ones(
    documents_sandbox: RunningSandbox, instance: dg.DagsterInstance, deals: dg.Definitions
) -> None:
    expected = {
        DocumentRef("Deals", str(item.record_id), str(item.id), "pdf").partition_key
        for item in attachment_catalog(documents_sandbox.state).attachments
    }
    for _ in range(2):
        result = deals.resolve_job_def(DEALS.discovery_job_name).execute_in_process(instance=instance)
        assert result.success
        assert set(instance.get_dynamic_partitions(DOCUMENT_PARTITIONS.name)) == expected
    keys = instance.get_dynamic_partitions(DOCUMENT_PARTITIONS.name)
    assert len(keys) == len(expected)

    [request] = sensor_requests(deals, instance)
    assert request.run_key == f"{keys[0]}..{keys[-1]}"
    assert request.partition_key_range == dg.PartitionKeyRange(keys[0], keys[-1])


def test_pending_ranges_are_the_unbroken_runs_of_keys_not_done() -> None:
    keys = ["a", "b", "c", "d", "e", "f"]
    assert pending_ranges(keys, set()) == [("a", "f")]
    assert pending_ranges(keys, {"c", "f"}) == [("a", "b"), ("d", "e")]
    assert pending_ranges(keys, {"a", "b", "d", "e"}) == [("c", "c"), ("f", "f")]
    assert pending_ranges(keys, set(keys)) == []


def test_the_hourly_discovery_looks_back_past_the_last_hour(deals: dg.Definitions) -> None:
    schedule = deals.resolve_schedule_def(f"{DEALS.discovery_job_name}_hourly")
    with dg.build_schedule_context() as context:
        request = schedule(context)
    assert isinstance(request, dg.RunRequest)
    lookback = request.run_config["ops"]["discover_deals_documents"]["config"]["lookback_minutes"]
    assert lookback > 60


def test_one_document_partition_materializes(
    documents_sandbox: RunningSandbox, instance: dg.DagsterInstance, deals: dg.Definitions, tmp_path: Path
) -> None:
    contract = next(
        item
        for item in attachment_catalog(documents_sandbox.state).attachments
        if isinstance(item.truth, ContractTruth)
    )
    key = DocumentRef("Deals", str(contract.record_id), str(contract.id), "pdf").partition_key
    instance.add_dynamic_partitions(DOCUMENT_PARTITIONS.name, [key])
    result = deals.resolve_job_def(DEALS.job_name).execute_in_process(instance=instance, partition_key=key)
    assert result.success
    metadata = materialization_metadata(result)
    assert metadata["extractions"]["documents"] == 1
    assert metadata["extractions"]["pages"] == 2
    assert metadata["extractions"]["extractor"] == "pdf-text"
    assert metadata["writebacks"]["written"] == 1
    assert (tmp_path / "lake" / "zoho" / "documents" / key).is_file()
    with open_warehouse(f"duckdb:///{tmp_path / 'warehouse.duckdb'}") as warehouse:
        fields = warehouse.query(f'SELECT "fields" FROM {EXTRACTIONS_TABLE.sql}')  # noqa: S608
        status = warehouse.query(f'SELECT "document", "status" FROM {WRITEBACKS_TABLE.sql}')  # noqa: S608
    assert json.loads(fields[0][0])["end_date"] == contract.truth.end_date.isoformat()
    assert status == [(key, "written")]
    assert not sensor_requests(deals, instance)
    store = documents_sandbox.state.crm
    deal = store.render("Deals", [contract.record_index], ["Contract_End_Date"])[0]
    assert deal["Contract_End_Date"] == contract.truth.end_date.isoformat()


def test_a_range_of_document_partitions_is_one_run(
    documents_sandbox: RunningSandbox, instance: dg.DagsterInstance, deals: dg.Definitions
) -> None:
    assert deals.resolve_job_def(DEALS.discovery_job_name).execute_in_process(instance=instance).success
    keys = instance.get_dynamic_partitions(DOCUMENT_PARTITIONS.name)
    catalog = attachment_catalog(documents_sandbox.state)
    contracts = [item for item in catalog.attachments if isinstance(item.truth, ContractTruth)]
    result = deals.resolve_job_def(DEALS.job_name).execute_in_process(
        instance=instance, tags=partition_range_tags(keys[0], keys[-1])
    )
    assert result.success
    assert set(instance.get_materialized_partitions(DEALS.extractions_key)) == set(keys)
    assert set(instance.get_materialized_partitions(DEALS.writebacks_key)) == set(keys)
    metadata = materialization_metadata(result)
    assert metadata["extractions"]["documents"] == len(keys)
    assert metadata["extractions"]["pages"] == 2 * len(contracts) + (len(keys) - len(contracts))
    assert metadata["writebacks"]["written"] == len(contracts)
    assert metadata["writebacks"]["without_rules"] == len(keys) - len(contracts)
    store = documents_sandbox.state.crm
    for contract in contracts:
        deal = store.render("Deals", [contract.record_index], ["Contract_End_Date"])[0]
        assert deal["Contract_End_Date"] == contract.truth.end_date.isoformat()
    assert not sensor_requests(deals, instance)


def test_discovery_and_extraction_cover_file_upload_fields(
    documents_sandbox: RunningSandbox,
    instance: dg.DagsterInstance,
    resources: dict[str, object],
    tmp_path: Path,
) -> None:
    """Service_Contracts' Signed_Documents (a file-upload field; the module has no attachments in
    the sandbox) become partitions and extractions like any attachment."""
    names = ModuleDocuments("Service_Contracts")
    defs = module_definitions("Service_Contracts", resources)
    assert defs.resolve_job_def(names.discovery_job_name).execute_in_process(instance=instance).success
    keys = instance.get_dynamic_partitions(names.partitions.name)
    store = documents_sandbox.state.crm
    uploaded = signed_document_pdfs(documents_sandbox)
    assert uploaded
    assert set(keys) == {ref.partition_key for ref in uploaded}

    result = defs.resolve_job_def(names.job_name).execute_in_process(
        instance=instance, tags=partition_range_tags(keys[0], keys[-1])
    )
    assert result.success
    metadata = materialization_metadata(result)
    assert metadata["extractions"]["documents"] == len(keys)
    assert metadata["writebacks"]["without_rules"] == len(keys)  # mapping.toml writes back to Deals only
    with open_warehouse(f"duckdb:///{tmp_path / 'warehouse.duckdb'}") as warehouse:
        rows = warehouse.query(f'SELECT "attachment_id", "fields" FROM {EXTRACTIONS_TABLE.sql}')  # noqa: S608
    anchor = store.anchor.date()
    assert {file_id: json.loads(fields) for file_id, fields in rows} == {
        ref.attachment_id: truth_fields(file_upload_truth(ref.attachment_id, anchor)) for ref in uploaded
    }
