"""The lake in S3: spool locally, upload to a staging key, copy to the final key.

An S3 object appears whole or not at all, so the final key only ever holds a complete file; the
staging hop keeps a half-finished multipart upload away from the partition prefix and lets the
size be checked before the object is published. Staging objects live under `_staging/`, outside
every partition prefix; a crash can leave one behind, so the bucket should expire that prefix
(and incomplete multipart uploads) with a lifecycle rule. Every PUT and COPY carries SSE-KMS
when a key id is configured, so no unencrypted copy of the data ever exists in the bucket.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
from botocore.exceptions import ClientError

from zoho_pipelines.lake.base import Lake, WrittenPartition
from zoho_pipelines.lake.layout import PartitionRef, day_from_directory
from zoho_pipelines.lake.parquet import DEFAULT_ROW_GROUP_ROWS, LakeError, write_parquet

STAGING_PREFIX = "_staging/"


class S3Lake(Lake):
    def __init__(self, bucket: str, prefix: str = "", *, kms_key_id: str | None = None, client: Any = None):
        self.bucket = bucket
        self.prefix = f"{prefix.strip('/')}/" if prefix.strip("/") else ""
        self.kms_key_id = kms_key_id
        self.url = f"s3://{bucket}/{self.prefix}".rstrip("/")
        # boto3 reads credentials, region and AWS_ENDPOINT_URL (moto, LocalStack) itself.
        self._client = client or boto3.client("s3")

    @property
    def _encryption(self) -> dict[str, str]:
        if not self.kms_key_id:
            return {}
        return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": self.kms_key_id}

    def _key(self, ref: PartitionRef) -> str:
        return f"{self.prefix}{ref.key}"

    def partition_uri(self, ref: PartitionRef) -> str:
        return f"s3://{self.bucket}/{self._key(ref)}"

    def write_partition(
        self,
        ref: PartitionRef,
        schema: pa.Schema,
        batches: Iterable[pa.RecordBatch],
        *,
        row_group_rows: int = DEFAULT_ROW_GROUP_ROWS,
    ) -> WrittenPartition:
        final_key = self._key(ref)
        staging_key = f"{self.prefix}{STAGING_PREFIX}{ref.directory}/{uuid.uuid4().hex}.parquet"
        with tempfile.NamedTemporaryFile(prefix="zoho-lake-", suffix=".parquet") as spool:
            stats = write_parquet(spool.name, schema, batches, day=ref.day, row_group_rows=row_group_rows)
            size = spool.seek(0, 2)
            try:
                self._client.upload_file(spool.name, self.bucket, staging_key, ExtraArgs=self._encryption)
                uploaded = self._client.head_object(Bucket=self.bucket, Key=staging_key)["ContentLength"]
                if uploaded != size:
                    raise LakeError(f"staging upload of {ref.key} holds {uploaded} bytes, expected {size}")
                self._client.copy(
                    {"Bucket": self.bucket, "Key": staging_key},
                    self.bucket,
                    final_key,
                    ExtraArgs=self._encryption,
                )
            finally:
                self._client.delete_object(Bucket=self.bucket, Key=staging_key)
        return WrittenPartition(
            ref=ref,
            uri=self.partition_uri(ref),
            rows=stats.rows,
            tombstones=stats.tombstones,
            row_groups=stats.row_groups,
            bytes=size,
        )

    @contextmanager
    def open_partition(self, ref: PartitionRef) -> Iterator[pq.ParquetFile]:
        """Download to a local spool file first: Parquet needs seeks, and a spool keeps memory flat."""
        with tempfile.NamedTemporaryFile(prefix="zoho-lake-", suffix=".parquet") as spool:
            try:
                self._client.download_fileobj(self.bucket, self._key(ref), spool)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey"):
                    raise LakeError(f"no partition {ref.key} in {self.url}") from None
                raise
            spool.flush()
            with pq.ParquetFile(spool.name) as parquet:
                yield parquet

    def read_schema(self, ref: PartitionRef) -> pa.Schema:
        """Fetch only the Parquet footer (two ranged GETs) instead of the whole partition."""
        key = self._key(ref)
        tail = self._get_range(ref, key, "bytes=-8")
        if len(tail) != 8 or tail[4:] != b"PAR1":
            raise LakeError(f"{self.partition_uri(ref)} is not a Parquet file")
        footer = self._get_range(ref, key, f"bytes=-{int.from_bytes(tail[:4], 'little') + 8}")
        with pq.ParquetFile(pa.BufferReader(b"PAR1" + footer)) as parquet:
            return parquet.schema_arrow

    def _get_range(self, ref: PartitionRef, key: str, byte_range: str) -> bytes:
        try:
            response = self._client.get_object(Bucket=self.bucket, Key=key, Range=byte_range)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey"):
                raise LakeError(f"no partition {ref.key} in {self.url}") from None
            raise
        return response["Body"].read()

    def partition_exists(self, ref: PartitionRef) -> bool:
        try:
            self._client.head_object(Bucket=self.bucket, Key=self._key(ref))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def list_partitions(self, app: str, module: str) -> list[date]:
        module_prefix = f"{self.prefix}{PartitionRef(app, module, date.min).module_prefix}"
        paginator = self._client.get_paginator("list_objects_v2")
        days = []
        for page in paginator.paginate(Bucket=self.bucket, Prefix=module_prefix):
            for entry in page.get("Contents", []):
                directory, _, filename = entry["Key"].removeprefix(module_prefix).partition("/")
                day = day_from_directory(directory)
                if day is not None and filename == f"{module}.parquet":
                    days.append(day)
        return sorted(days)
