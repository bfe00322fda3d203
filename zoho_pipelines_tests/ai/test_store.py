"""Enrichment objects in the lake: written once under their digest key, locally and on S3 (moto),
whoever writes first; SSE-KMS on S3; a killed writer's leftover is never read."""

from __future__ import annotations

import threading
from pathlib import Path

import boto3
import pytest

from zoho_pipelines.ai.store import LocalEnrichmentStore, S3EnrichmentStore, object_key, open_enrichment_store
from zoho_pipelines_tests.ai.records import claude_record


def test_the_first_stored_answer_wins_and_is_what_every_writer_gets(tmp_path: Path) -> None:
    store = LocalEnrichmentStore(tmp_path / "lake")
    first = claude_record("101", 50_000)
    second = {**first, "output": {**first["output"], "industry": "Different answer"}}
    results: list[dict] = []
    writers = [
        threading.Thread(target=lambda r=r: results.append(store.put_once(r))) for r in (first, second) * 4
    ]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()

    (stored,) = store.records()
    assert all(result == stored for result in results)
    assert store.get("101", first["input_digest"]) == stored
    assert [path.name for path in (tmp_path / "lake").rglob("*") if path.is_file()] == [
        f"{first['input_digest']}.json"
    ]


def test_a_killed_writers_temp_file_is_never_read(tmp_path: Path) -> None:
    store = LocalEnrichmentStore(tmp_path / "lake")
    record = claude_record("101", 50_000)
    final = tmp_path / "lake" / object_key("101", record["input_digest"])
    final.parent.mkdir(parents=True)
    (final.parent / f".{final.name}.dead.tmp").write_text("{half")  # what a SIGKILL mid-write leaves

    assert store.get("101", record["input_digest"]) is None
    assert list(store.records()) == []
    assert store.put_once(record) == record
    assert list(store.records()) == [record]


def test_on_s3_the_object_is_created_once_under_the_lake_key(bucket: str) -> None:
    key_id = boto3.client("kms").create_key()["KeyMetadata"]["Arn"]
    store = open_enrichment_store(f"s3://{bucket}/zoho-lake", kms_key_id=key_id)
    assert isinstance(store, S3EnrichmentStore)
    record = claude_record("101", 50_000)
    other = {**record, "output": {**record["output"], "industry": "Different answer"}}

    assert store.get("101", record["input_digest"]) is None
    assert store.put_once(record) == record
    assert store.put_once(other) == record  # If-None-Match: the first object stays
    assert list(store.records()) == [record]
    head = boto3.client("s3").head_object(
        Bucket=bucket, Key=f"zoho-lake/{object_key('101', record['input_digest'])}"
    )
    assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", key_id)


@pytest.mark.parametrize("url", ["relative/lake", "s3://", "http://example.com/lake"])
def test_lake_urls_the_store_cannot_use_are_refused(url: str) -> None:
    with pytest.raises(RuntimeError, match="LAKE_URL"):
        open_enrichment_store(url)
