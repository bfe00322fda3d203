"""The lake asset's checks read the written file back: they fail when it disagrees with Zoho."""

from __future__ import annotations

from datetime import UTC, date, datetime

from zoho_pipelines.lake import LocalLake, PartitionRef
from zoho_pipelines.pipeline.checks import COUNT_CHECK, ID_CHECK, check_partition
from zoho_pipelines.sandbox.server import RunningSandbox
from zoho_pipelines.schema import RecordNormalizer, build_module_schema
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
