"""The AIEnrichment Lambda's S3 grant covers the keys its store really writes.

The Lambda's LAKE_URL is the lake's (`s3://<bucket>/zoho`), and the store puts its objects under
that prefix (`zoho/` + `zoho/ai/enrichments/...`), as the lake puts its partitions; a grant on
`zoho/ai/enrichments/*` would refuse every read and write of the deployed step.
"""

from __future__ import annotations

import fnmatch
import re

import boto3
from aws_cdk import App, Stack
from aws_cdk import aws_kms as kms
from zoho_infra.contract import ENRICHMENT_OBJECTS
from zoho_infra.onboarding import ENRICHMENT_PREFIX, _enrichment_environment

from zoho_pipelines.ai.store import object_key, open_enrichment_store

BUCKET = "zoho-pipelines-lake-123456789012-us-east-1"
KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000"


def _written_key() -> str:
    stack = Stack(App(), "Review")
    environment = _enrichment_environment(BUCKET, kms.Key.from_key_arn(stack, "LakeKey", KEY_ARN), None)
    client = boto3.client("s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    store = open_enrichment_store(environment["LAKE_URL"], s3_client=client)
    return store.prefix + object_key("4876876000000123456", "a" * 64)  # type: ignore[attr-defined]


def test_the_object_grant_and_list_condition_cover_the_written_key() -> None:
    key = _written_key()
    assert fnmatch.fnmatchcase(key, f"{ENRICHMENT_PREFIX}*"), (key, ENRICHMENT_PREFIX)


def test_the_contract_names_the_written_prefix_and_no_other() -> None:
    key = _written_key()
    granted = f"{BUCKET}/{key.rsplit('/', 2)[0]}/*"  # the grant, as a template renders its resource
    assert re.search(ENRICHMENT_OBJECTS, granted)
    assert not re.search(ENRICHMENT_OBJECTS, f"{BUCKET}/zoho/ai/enrichments/*")
