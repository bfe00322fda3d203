"""Enrichment results in the lake: one JSON object per enrichment, written once, never replaced.

`<lake>/zoho/ai/enrichments/deal_id=<deal id>/<input digest>.json`. The key is the enrichment's
input digest, so a retried step finds its earlier result (and reuses it instead of asking the
model again, which could answer differently) and overlapping writers converge on one object:
- locally, the object is written to a hidden temp file in its folder, fsynced, and published by
  `os.link`, which fails if the name exists; a killed writer leaves only a hidden temp file,
  which no reader lists;
- on S3, `PutObject` with `If-None-Match: *` creates the object only if the key is free
  (https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html), with SSE-KMS
  when LAKE_KMS_KEY_ID is set, so no unencrypted copy ever exists.

JSON rather than Parquet because the writer is the onboarding Lambda, whose bundle carries no
pyarrow; the Dagster asset turns the objects into table rows (`zoho_pipelines.ai.warehouse`).
This module parses LAKE_URL itself for the same reason (`zoho_pipelines.lake` imports pyarrow).
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Container, Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlparse

from zoho_pipelines.settings import Settings

PREFIX = "zoho/ai/enrichments"
_ALREADY_WRITTEN = frozenset({"PreconditionFailed", "ConditionalRequestConflict"})
_MISSING = frozenset({"NoSuchKey", "404"})


class StoreError(RuntimeError):
    """The lake URL cannot hold enrichments."""


def object_key(deal_id: str, digest: str) -> str:
    if not deal_id.isdigit() or len(digest) != 64:
        raise ValueError("an enrichment is keyed by a numeric deal id and a SHA-256 digest")
    return f"{PREFIX}/deal_id={deal_id}/{digest}.json"


def enrichment_key(deal_id: str, digest: str) -> str:
    """An enrichment's id in `zoho_ai.enrichments`."""
    return f"{deal_id}-{digest}"


def _key_of(object_name: str) -> str:
    """`enrichment_key` of an object's name (`.../deal_id=<id>/<digest>.json`), read from the name
    alone so that a loader can skip what it has without reading the object."""
    folder, _, file_name = object_name.rpartition("/")
    return enrichment_key(folder.rpartition("deal_id=")[2], file_name.removesuffix(".json"))


class EnrichmentStore(Protocol):
    url: str

    def get(self, deal_id: str, digest: str) -> dict[str, Any] | None: ...

    def put_once(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """Store `record` unless its key holds one already; returns the stored one either way."""
        ...

    def records(self, skip: Container[str] = frozenset()) -> Iterator[dict[str, Any]]:
        """Every enrichment but those whose `enrichment_key` is in `skip`, which are not read."""
        ...


def _encoded(record: Mapping[str, Any]) -> bytes:
    return json.dumps(record, sort_keys=True, separators=(",", ":")).encode()


class LocalEnrichmentStore:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.url = self.root.as_uri()

    def get(self, deal_id: str, digest: str) -> dict[str, Any] | None:
        path = self.root / object_key(deal_id, digest)
        try:
            return json.loads(path.read_bytes())
        except FileNotFoundError:
            return None

    def put_once(self, record: Mapping[str, Any]) -> dict[str, Any]:
        final = self.root / object_key(str(record["deal_id"]), str(record["input_digest"]))
        final.parent.mkdir(parents=True, exist_ok=True)
        temporary = final.with_name(f".{final.name}.{uuid.uuid4().hex}.tmp")
        temporary.write_bytes(_encoded(record))
        try:
            with temporary.open("rb") as written:
                os.fsync(written.fileno())
            os.link(temporary, final)
        except FileExistsError:
            return json.loads(final.read_bytes())
        finally:
            temporary.unlink(missing_ok=True)
        return dict(record)

    def records(self, skip: Container[str] = frozenset()) -> Iterator[dict[str, Any]]:
        for path in sorted((self.root / PREFIX).glob("deal_id=*/*.json")):
            if not path.name.startswith(".") and _key_of(path.relative_to(self.root).as_posix()) not in skip:
                yield json.loads(path.read_bytes())


class S3EnrichmentStore:
    def __init__(
        self, bucket: str, prefix: str, *, kms_key_id: str | None = None, client: Any = None
    ) -> None:
        self.bucket = bucket
        self.prefix = f"{prefix.strip('/')}/" if prefix.strip("/") else ""
        self.url = f"s3://{bucket}/{self.prefix}".rstrip("/")
        self._kms_key_id = kms_key_id
        if client is None:
            import boto3

            client = boto3.client("s3")
        self._client = client

    def get(self, deal_id: str, digest: str) -> dict[str, Any] | None:
        return self._read(self.prefix + object_key(deal_id, digest))

    def put_once(self, record: Mapping[str, Any]) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        key = self.prefix + object_key(str(record["deal_id"]), str(record["input_digest"]))
        encryption = (
            {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": self._kms_key_id} if self._kms_key_id else {}
        )
        try:
            self._client.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=_encoded(record),
                ContentType="application/json",
                IfNoneMatch="*",
                **encryption,
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") not in _ALREADY_WRITTEN:
                raise
            existing = self._read(key)
            if existing is None:
                raise StoreError(f"s3://{self.bucket}/{key} exists but cannot be read") from None
            return existing
        return dict(record)

    def records(self, skip: Container[str] = frozenset()) -> Iterator[dict[str, Any]]:
        pages = self._client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=f"{self.prefix}{PREFIX}/"
        )
        for page in pages:
            for entry in page.get("Contents", []):
                if _key_of(entry["Key"]) in skip:
                    continue
                record = self._read(entry["Key"])
                if record is not None:
                    yield record

    def _read(self, key: str) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        try:
            body = self._client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in _MISSING:
                return None
            raise
        return json.loads(body)


def enrichment_store_from_settings(settings: Settings) -> EnrichmentStore:
    """The store in the lake at LAKE_URL, SSE-KMS with LAKE_KMS_KEY_ID."""
    return open_enrichment_store(settings.resolved_lake_url, kms_key_id=settings.lake_kms_key_id)


def open_enrichment_store(
    url: str, *, kms_key_id: str | None = None, s3_client: Any = None
) -> EnrichmentStore:
    """The store under LAKE_URL: `file:///path`, an absolute path, or `s3://bucket/prefix`."""
    parsed = urlparse(url)
    if parsed.scheme == "s3" and parsed.netloc:
        return S3EnrichmentStore(parsed.netloc, unquote(parsed.path), kms_key_id=kms_key_id, client=s3_client)
    if parsed.scheme == "file" and parsed.netloc in ("", "localhost"):
        return LocalEnrichmentStore(Path(unquote(parsed.path)))
    if not parsed.scheme and url.startswith("/"):
        return LocalEnrichmentStore(Path(url))
    raise StoreError(f"LAKE_URL {url!r} must be file:///path, an absolute path or s3://bucket/prefix")
