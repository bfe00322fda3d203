"""A private, short-lived lake for one run's rows (event refreshes, document extractions and
write-backs, the enrichment loader), for warehouses that load only from the lake (Redshift's COPY
reads S3, nothing else).

The run writes its rows there as ordinary daily partitions (`merge_rows` puts each row under its
own modification day, as the lake requires), the warehouse merges them, and the whole staging
root is removed afterwards, whether the merge worked or not: the rows are in the warehouse (or
the run failed and will be retried from Zoho), so a staged copy is only clutter, and on S3 a
cost. `<lake>/_event_staging/<run id>/` lies outside every module's partition prefix, so nothing
that lists the lake's partitions ever sees it.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

from zoho_pipelines.lake import Lake, LocalLake, S3Lake, open_lake
from zoho_pipelines.warehouse import ArrowLoadingWarehouse, SqlWarehouse

STAGING_PREFIX = "_event_staging"
_DELETE_BATCH = 1_000  # S3 DeleteObjects' limit


def staging_root(lake_url: str, run_id: str) -> str:
    return f"{lake_url.rstrip('/')}/{STAGING_PREFIX}/{run_id}"


@contextmanager
def staging_lake(
    lake_url: str, run_id: str, *, kms_key_id: str | None = None, s3_client: Any = None
) -> Iterator[Lake]:
    """The run's staging lake under `lake_url`, removed (every object in it) on exit."""
    lake = open_lake(staging_root(lake_url, run_id), kms_key_id=kms_key_id)
    try:
        yield lake
    finally:
        remove_lake(lake, s3_client=s3_client)


def staging_for(
    warehouse: SqlWarehouse, lake_url: str, run_id: str, *, kms_key_id: str | None = None
) -> AbstractContextManager[Lake | None]:
    """What a run merging rows of its own needs: nothing for a warehouse that loads Arrow itself,
    else (Redshift loads only from S3) the run's staging lake, removed on exit."""
    if isinstance(warehouse, ArrowLoadingWarehouse):
        return nullcontext(None)
    return staging_lake(lake_url, run_id, kms_key_id=kms_key_id)


def remove_lake(lake: Lake, *, s3_client: Any = None) -> int:
    """Delete everything under the lake's root; returns how many files (objects) went."""
    if isinstance(lake, LocalLake):
        count = sum(1 for path in lake.root.rglob("*") if path.is_file())
        shutil.rmtree(lake.root, ignore_errors=True)
        return count
    if isinstance(lake, S3Lake):
        return _remove_prefix(lake.bucket, lake.prefix, s3_client)
    raise TypeError(f"cannot remove a {type(lake).__name__}")


def _remove_prefix(bucket: str, prefix: str, client: Any) -> int:
    if not prefix:
        raise ValueError("refusing to empty a whole bucket: a staging lake always has a prefix")
    if client is None:
        import boto3

        client = boto3.client("s3")
    keys = [
        entry["Key"]
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for entry in page.get("Contents", [])
    ]
    for start in range(0, len(keys), _DELETE_BATCH):
        chunk = keys[start : start + _DELETE_BATCH]
        client.delete_objects(
            Bucket=bucket, Delete={"Objects": [{"Key": key} for key in chunk], "Quiet": True}
        )
    return len(keys)
