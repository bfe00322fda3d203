"""Fixtures for the lake tests: a module schema, record batches, and S3 served by moto."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from moto.server import ThreadedMotoServer

from zoho_pipelines.catalog import default_catalog
from zoho_pipelines.schema import ModuleSchema, RecordNormalizer, build_module_schema
from zoho_pipelines_tests.lake.support import LEAD_FIELDS, BatchMaker


@pytest.fixture
def leads_schema() -> ModuleSchema:
    return build_module_schema(default_catalog().get("crm", "leads"), LEAD_FIELDS)


@pytest.fixture
def batches(leads_schema: ModuleSchema) -> BatchMaker:
    return BatchMaker(RecordNormalizer(leads_schema))


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    # Port 0: moto binds a free port itself (a port probed here and bound later could be taken by
    # another xdist worker in between, and moto's start() would then wait forever).
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def aws_env(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point every AWS SDK call of the test at moto, with throwaway credentials."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for variable in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(variable, raising=False)
    return moto_endpoint


@pytest.fixture
def bucket(aws_env: str, request: pytest.FixtureRequest) -> str:
    name = f"lake-{abs(hash(request.node.nodeid)) % 10**10}"
    boto3.client("s3").create_bucket(Bucket=name)
    return name


@pytest.fixture
def kms_key_id(aws_env: str) -> str:
    return boto3.client("kms").create_key(Description="lake key")["KeyMetadata"]["KeyId"]
