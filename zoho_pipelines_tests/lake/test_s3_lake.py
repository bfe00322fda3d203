"""The lake in S3 (moto's server over loopback): staging hop, SSE-KMS, read-back, listing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import boto3
import pyarrow as pa
import pytest

from zoho_pipelines.lake import LakeError, PartitionRef, S3Lake, open_lake
from zoho_pipelines.schema import ModuleSchema
from zoho_pipelines_tests.lake.support import DAY, BatchMaker

REF = PartitionRef("crm", "leads", DAY)


def _keys(bucket: str) -> list[str]:
    listing = boto3.client("s3").list_objects_v2(Bucket=bucket)
    return sorted(entry["Key"] for entry in listing.get("Contents", []))


def test_partition_is_published_at_its_key_and_reads_back(
    bucket: str, leads_schema: ModuleSchema, batches: BatchMaker
) -> None:
    lake = open_lake(f"s3://{bucket}/prod/lake")
    records, tombstones = batches.records(50), batches.tombstones(["1", "2"])
    written = lake.write_partition(REF, leads_schema.to_arrow(), [records, tombstones], row_group_rows=20)

    key = "prod/lake/zoho/crm/leads/date=2024-03-05/leads.parquet"
    assert written.uri == f"s3://{bucket}/{key}"
    assert (written.rows, written.tombstones, written.row_groups) == (52, 2, 3)
    assert _keys(bucket) == [key]  # the staging object is gone
    assert lake.read_partition(REF).equals(pa.Table.from_batches([records, tombstones]))
    assert ModuleSchema.from_arrow(lake.read_schema(REF)) == leads_schema
    assert lake.partition_exists(REF)
    assert not lake.partition_exists(PartitionRef("crm", "leads", date(2024, 3, 6)))
    assert lake.list_partitions("crm", "leads") == [DAY]


def test_objects_are_encrypted_with_the_configured_kms_key(
    bucket: str, kms_key_id: str, leads_schema: ModuleSchema, batches: BatchMaker
) -> None:
    lake = S3Lake(bucket, kms_key_id=kms_key_id)
    lake.write_partition(REF, leads_schema.to_arrow(), [batches.records(5)])

    head = boto3.client("s3").head_object(Bucket=bucket, Key=REF.key)
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"].endswith(kms_key_id)


def test_a_failed_write_keeps_the_previous_object_and_leaves_nothing_staged(
    bucket: str, leads_schema: ModuleSchema, batches: BatchMaker
) -> None:
    lake = S3Lake(bucket, "lake")
    lake.write_partition(REF, leads_schema.to_arrow(), [batches.records(3, label="old")])

    def broken() -> Iterator[pa.RecordBatch]:
        yield batches.records(100, label="new")
        raise TimeoutError("Zoho stopped answering")

    with pytest.raises(TimeoutError):
        lake.write_partition(REF, leads_schema.to_arrow(), broken(), row_group_rows=10)

    assert _keys(bucket) == [f"lake/{REF.key}"]
    assert lake.read_partition(REF).column("last_name").to_pylist() == ["old-0", "old-1", "old-2"]


def test_listing_ignores_staging_objects_and_foreign_keys(
    bucket: str, leads_schema: ModuleSchema, batches: BatchMaker
) -> None:
    lake = S3Lake(bucket)
    for day in (date(2024, 3, 7), DAY):
        lake.write_partition(PartitionRef("crm", "leads", day), leads_schema.to_arrow(), [])
    client = boto3.client("s3")
    client.put_object(Bucket=bucket, Key="_staging/zoho/crm/leads/date=2024-03-09/x.parquet", Body=b"x")
    client.put_object(Bucket=bucket, Key="zoho/crm/leads/date=2024-03-08/other.parquet", Body=b"x")
    client.put_object(Bucket=bucket, Key="zoho/crm/leads/readme.txt", Body=b"x")

    assert lake.list_partitions("crm", "leads") == [DAY, date(2024, 3, 7)]
    with pytest.raises(LakeError, match="no partition"):
        lake.read_partition(PartitionRef("crm", "leads", date(2024, 3, 8)))
    with pytest.raises(LakeError, match="no partition"):
        lake.read_schema(PartitionRef("crm", "leads", date(2024, 3, 8)))
