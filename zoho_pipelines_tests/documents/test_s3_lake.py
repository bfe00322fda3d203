"""Documents in an S3 lake (moto): SSE-KMS on every object, fetched once, and read by Textract's
asynchronous analysis from where the lake put them."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.stub import ANY, Stubber

from zoho_pipelines.clock import ManualClock
from zoho_pipelines.documents.extractors.textract import TextractExtractor
from zoho_pipelines.documents.flow import DocumentsFlow
from zoho_pipelines.documents.mapping import load_mapping
from zoho_pipelines.documents.store import S3DocumentStore, document_store
from zoho_pipelines.lake import open_lake
from zoho_pipelines.zoho.client import ZohoClient
from zoho_pipelines_tests.documents.conftest import DISCOVERY_END, fixture_response


def test_documents_land_encrypted_and_textract_reads_them_from_s3(
    zoho: ZohoClient, bucket: str, kms_key_id: str, clock: ManualClock
) -> None:
    store = document_store(open_lake(f"s3://{bucket}/lake", kms_key_id=kms_key_id))
    assert isinstance(store, S3DocumentStore)
    textract: Any = boto3.client("textract", region_name="us-east-1")
    stubber = Stubber(textract)
    flow = DocumentsFlow(
        zoho, store, TextractExtractor(textract, clock=clock, sleep=lambda _: None), load_mapping(), clock
    )
    found = next(found for found in flow.discover("Deals", None, DISCOVERY_END) if found.kind == "contract")
    stored = flow.fetch(found.attachment)
    key = f"lake/zoho/documents/Deals/{found.attachment.record_id}/{found.attachment.id}.pdf"
    assert stored.uri == f"s3://{bucket}/{key}"
    head = boto3.client("s3").head_object(Bucket=bucket, Key=key)
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"].endswith(kms_key_id)
    assert head["ContentLength"] == stored.size
    assert not flow.fetch(found.attachment).downloaded

    published = fixture_response("get_document_analysis_multipage.json")
    with stubber:
        stubber.add_response(
            "start_document_analysis",
            {"JobId": "job-1"},
            {
                "DocumentLocation": {"S3Object": {"Bucket": bucket, "Name": key}},
                "FeatureTypes": ["FORMS", "TABLES"],
                "ClientRequestToken": ANY,
            },
        )
        stubber.add_response("get_document_analysis", published, {"JobId": "job-1", "MaxResults": 1000})
        extraction = flow.extract(stored, found.kind)
        stubber.assert_no_pending_responses()
    assert extraction.content.extractor == "textract"
    assert extraction.content.page_count == 2
