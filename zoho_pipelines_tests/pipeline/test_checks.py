"""The lake asset's checks read the written file back: they fail when it disagrees with Zoho, and
warn when values were kept in `_unfitted`."""

from __future__ import annotations

from datetime import UTC, date, datetime

from zoho_pipelines.lake import LocalLake, PartitionRef
from zoho_pipelines.pipeline.checks import (
    COUNT_CHECK,
    ID_CHECK,
    UNFITTED_CHECK,
    Severity,
    check_partition,
    check_unfitted,
)
from zoho_pipelines.sandbox.server import RunningSandbox
from zoho_pipelines.schema import UNFITTED_COLUMN, RecordNormalizer, build_module_schema
from zoho_pipelines_tests.pipeline.support import SandboxTruth, client_for, spec_of

DAY = date(2026, 11, 18)
DEALS = spec_of("crm", "deals")


def test_a_duplicated_batch_fails_both_checks(sandbox: RunningSandbox, lake: LocalLake) -> None:
    truth = SandboxTruth(sandbox).day(DEALS, DAY)
    records = list(truth.records.values())
    with client_for(sandbox) as client:
        normalizer = RecordNormalizer(build_module_schema(DEALS, client.crm.fields("Deals")))
    synced_at = datetime.now(UTC)
    ref = PartitionRef("crm", "deals", DAY)
    batch = normalizer.records(records, synced_at=synced_at)
    tombstones = normalizer.tombstones(
        [{"id": record_id, "deleted_time": f"{DAY}T10:00:00+00:00"} for record_id in truth.deleted],
        synced_at=synced_at,
    )
    # What a paging bug (the first page fetched twice) would write.
    lake.write_partition(ref, normalizer.arrow_schema, [batch, batch.slice(0, 5), tombstones])

    outcomes = {
        outcome.name: outcome
        for outcome in check_partition(lake, ref, records=len(records), deletions=len(truth.deleted))
    }
    assert not outcomes[ID_CHECK].passed
    assert outcomes[ID_CHECK].metadata["duplicate_ids"] == 5
    assert not outcomes[COUNT_CHECK].passed
    assert outcomes[COUNT_CHECK].metadata["partition_records"] == len(records) + 5

    lake.write_partition(ref, normalizer.arrow_schema, [batch, tombstones])
    rewritten = check_partition(lake, ref, records=len(records), deletions=len(truth.deleted))
    assert all(outcome.passed for outcome in rewritten)


def test_values_kept_in_unfitted_pass_the_counts_and_warn_per_field(
    sandbox: RunningSandbox, lake: LocalLake
) -> None:
    truth = SandboxTruth(sandbox).day(DEALS, DAY)
    records = list(truth.records.values())
    with client_for(sandbox) as client:
        normalizer = RecordNormalizer(build_module_schema(DEALS, client.crm.fields("Deals")))
    mistyped = {
        records[0]["id"]: {"Amount": "lots", "Contract_Length_Months__c": 12.5},
        records[1]["id"]: {"Amount": [1, 2]},
    }
    edited = [{**record, **mistyped.get(record["id"], {})} for record in records]
    ref = PartitionRef("crm", "deals", DAY)
    lake.write_partition(
        ref, normalizer.arrow_schema, [normalizer.records(edited, synced_at=datetime.now(UTC))]
    )

    outcomes = {
        outcome.name: outcome for outcome in check_partition(lake, ref, records=len(records), deletions=0)
    }
    assert outcomes[ID_CHECK].passed
    assert outcomes[COUNT_CHECK].passed, "kept values are rows like any other"
    warning = outcomes[UNFITTED_CHECK]
    assert not warning.passed
    assert warning.severity is Severity.WARN
    assert warning.metadata["unfitted_values"] == 3
    assert warning.metadata["unfitted_by_field"] == {"Amount": 2, "Contract_Length_Months__c": 1}
    assert sorted(warning.metadata["sample_record_ids"]["Amount"]) == sorted(str(key) for key in mistyped)
    assert "lots" not in warning.description, "values may be personal data: names and counts only"
    assert dict(normalizer.unfitted) == warning.metadata["unfitted_by_field"]


def test_a_partition_from_before_unfitted_existed_passes(sandbox: RunningSandbox, lake: LocalLake) -> None:
    records = list(SandboxTruth(sandbox).day(DEALS, DAY).records.values())
    with client_for(sandbox) as client:
        normalizer = RecordNormalizer(build_module_schema(DEALS, client.crm.fields("Deals")))
    batch = normalizer.records(records, synced_at=datetime.now(UTC))
    old = batch.drop_columns([UNFITTED_COLUMN])
    ref = PartitionRef("crm", "deals", DAY)
    lake.write_partition(ref, old.schema, [old])
    outcome = check_unfitted(lake, ref)
    assert outcome.passed
    assert outcome.metadata["unfitted_values"] == 0
