"""Document files in the lake, beside the Parquet partitions: `<lake>/zoho/documents/...`.

The key is fixed by the attachment (`DocumentRef.key`), so fetching an attachment again lands on
the same object; the object remembers the Zoho Modified_Time it was fetched at (S3 metadata, the
file's mtime locally), so an unchanged attachment (same size, same time) is not downloaded again.
Writes are atomic as in the lake itself: a temporary file renamed into place locally, one PUT
(whole object or none) on S3, with SSE-KMS when the lake has a key.
"""

from __future__ import annotations

import abc
import os
import tempfile
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import boto3
from botocore.exceptions import ClientError

from zoho_pipelines.lake import Lake, LocalLake, S3Lake

MODIFIED_METADATA = "zoho-modified-time"  # S3 user metadata: x-amz-meta-zoho-modified-time
SPOOL_MEMORY_BYTES = 8 << 20


@dataclass(frozen=True)
class ObjectVersion:
    size: int
    modified_time: datetime | None


class DocumentStore(abc.ABC):
    """Whole files under the lake's root, written atomically."""

    @abc.abstractmethod
    def uri(self, key: str) -> str: ...

    @abc.abstractmethod
    def head(self, key: str) -> ObjectVersion | None:
        """Size and recorded Zoho time of the object, None when absent."""

    @abc.abstractmethod
    def put(self, key: str, chunks: Iterable[bytes], modified_time: datetime, content_type: str) -> int:
        """Store the chunks as one object; returns its size."""

    @abc.abstractmethod
    def read(self, key: str) -> bytes: ...

    def s3_object(self, key: str) -> dict[str, str] | None:
        """{"Bucket", "Name"} for AWS services that read the object themselves (Textract), if on S3."""
        return None


class LocalDocumentStore(DocumentStore):
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / key

    def uri(self, key: str) -> str:
        return self._path(key).as_uri()

    def head(self, key: str) -> ObjectVersion | None:
        try:
            stat = self._path(key).stat()
        except FileNotFoundError:
            return None
        return ObjectVersion(stat.st_size, datetime.fromtimestamp(stat.st_mtime, UTC))

    def put(self, key: str, chunks: Iterable[bytes], modified_time: datetime, content_type: str) -> int:
        final = self._path(key)
        final.parent.mkdir(parents=True, exist_ok=True)
        # A dot-file beside the target: a killed run leaves it behind but never a half file at `key`.
        temporary = final.with_name(f".{final.name}.{uuid.uuid4().hex}.tmp")
        try:
            with temporary.open("wb") as handle:
                for chunk in chunks:
                    handle.write(chunk)
                handle.flush()
                os.fsync(handle.fileno())
            stamp = modified_time.timestamp()
            os.utime(temporary, (stamp, stamp))
            os.replace(temporary, final)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        return final.stat().st_size

    def read(self, key: str) -> bytes:
        return self._path(key).read_bytes()


class S3DocumentStore(DocumentStore):
    def __init__(self, bucket: str, prefix: str, kms_key_id: str | None, client: Any = None) -> None:
        self.bucket = bucket
        self.prefix = prefix
        self.kms_key_id = kms_key_id
        self._client = client or boto3.client("s3")

    def _key(self, key: str) -> str:
        return f"{self.prefix}{key}"

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._key(key)}"

    def s3_object(self, key: str) -> dict[str, str] | None:
        return {"Bucket": self.bucket, "Name": self._key(key)}

    def head(self, key: str) -> ObjectVersion | None:
        try:
            head = self._client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        recorded = head.get("Metadata", {}).get(MODIFIED_METADATA)
        return ObjectVersion(
            int(head["ContentLength"]), datetime.fromisoformat(recorded) if recorded else None
        )

    def put(self, key: str, chunks: Iterable[bytes], modified_time: datetime, content_type: str) -> int:
        extra: dict[str, Any] = {
            "ContentType": content_type,
            "Metadata": {MODIFIED_METADATA: modified_time.astimezone(UTC).isoformat()},
        }
        if self.kms_key_id:
            extra.update(ServerSideEncryption="aws:kms", SSEKMSKeyId=self.kms_key_id)
        with tempfile.SpooledTemporaryFile(SPOOL_MEMORY_BYTES) as spool:
            size = _spool(chunks, spool)
            self._client.upload_fileobj(spool, self.bucket, self._key(key), ExtraArgs=extra)
        return size

    def read(self, key: str) -> bytes:
        return self._client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()


def _spool(chunks: Iterable[bytes], spool: IO[bytes]) -> int:
    for chunk in chunks:
        spool.write(chunk)
    size = spool.tell()
    spool.seek(0)
    return size


def document_store(lake: Lake, *, client: Any = None) -> DocumentStore:
    """The document store at the same place as `lake` (same bucket, prefix and KMS key)."""
    if isinstance(lake, S3Lake):
        return S3DocumentStore(lake.bucket, lake.prefix, lake.kms_key_id, client)
    if isinstance(lake, LocalLake):
        return LocalDocumentStore(lake.root)
    raise TypeError(f"no document store for {type(lake).__name__}")


__all__ = ["DocumentStore", "LocalDocumentStore", "ObjectVersion", "S3DocumentStore", "document_store"]
