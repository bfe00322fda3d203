"""The Parquet lake: `<lake>/zoho/<app>/<module>/date=YYYY-MM-DD/<module>.parquet`.

`open_lake(LAKE_URL)` returns a local-folder or S3 store behind one `Lake` interface; both write
a partition atomically from a stream of RecordBatches and read it back as Arrow.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse

from zoho_pipelines.lake.base import Lake, WrittenPartition
from zoho_pipelines.lake.layout import PartitionRef
from zoho_pipelines.lake.local import LocalLake
from zoho_pipelines.lake.parquet import DEFAULT_ROW_GROUP_ROWS, LakeError
from zoho_pipelines.lake.s3 import S3Lake


def open_lake(url: str, *, kms_key_id: str | None = None) -> Lake:
    """The lake at LAKE_URL: `file:///path`, an absolute path, or `s3://bucket/prefix`."""
    parsed = urlparse(url)
    if parsed.scheme == "s3":
        if not parsed.netloc:
            raise LakeError(f"LAKE_URL {url!r} names no bucket")
        return S3Lake(parsed.netloc, unquote(parsed.path), kms_key_id=kms_key_id)
    if parsed.scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            raise LakeError(f"LAKE_URL {url!r}: file URLs must be local (file:///path)")
        return LocalLake(Path(unquote(parsed.path)))
    if not parsed.scheme and url.startswith("/"):
        return LocalLake(Path(url))
    raise LakeError(f"LAKE_URL {url!r} must be file:///path, an absolute path or s3://bucket/prefix")


__all__ = [
    "DEFAULT_ROW_GROUP_ROWS",
    "Lake",
    "LakeError",
    "LocalLake",
    "PartitionRef",
    "S3Lake",
    "WrittenPartition",
    "open_lake",
]
