"""Fixtures for the documents tests: a small sandbox with documents, a client, a lake, a warehouse."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from zoho_pipelines.clock import ManualClock
from zoho_pipelines.documents.extractors.pdf_text import PdfTextExtractor
from zoho_pipelines.documents.flow import DocumentsFlow
from zoho_pipelines.documents.mapping import load_mapping
from zoho_pipelines.documents.model import DocumentRef
from zoho_pipelines.documents.store import LocalDocumentStore
from zoho_pipelines.sandbox.documents_pdf import ContractTruth, InvoiceTruth
from zoho_pipelines.sandbox.server import RunningSandbox
from zoho_pipelines.settings import load_settings
from zoho_pipelines.warehouse import SqlWarehouse, open_warehouse
from zoho_pipelines.zoho.client import ZohoClient
from zoho_pipelines_tests.cdk.conftest import app_module  # noqa: F401 (and cdk/ on sys.path for zoho_infra)
from zoho_pipelines_tests.lake.conftest import aws_env, bucket, kms_key_id, moto_endpoint  # noqa: F401

FIXTURES = Path(__file__).parent / "fixtures"
DOCUMENT_RECORDS = 120
"""Deals in the documents sandbox: enough for every seed-chosen Deal, few enough to list quickly."""


def fixture_response(name: str) -> dict[str, Any]:
    """A published Textract response, without the HTTP envelope botocore adds itself."""
    response = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    response.pop("ResponseMetadata", None)
    return response


@pytest.fixture
def documents_sandbox(sandbox_factory: Callable[..., RunningSandbox]) -> RunningSandbox:
    return sandbox_factory(records_per_module=DOCUMENT_RECORDS)


@pytest.fixture
def zoho_env(documents_sandbox: RunningSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The environment pointing the product at the documents sandbox, with a private home."""
    for name, value in documents_sandbox.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("ZOHO_PIPELINES_HOME", str(tmp_path / "home"))
    for name in ("LAKE_URL", "WAREHOUSE_URL", "DOCUMENT_EXTRACTOR", "LAKE_KMS_KEY_ID"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "home"


@pytest.fixture
def zoho(zoho_env: Path) -> Iterator[ZohoClient]:
    with ZohoClient.from_settings(load_settings()) as client:
        yield client


@pytest.fixture
def clock(documents_sandbox: RunningSandbox) -> ManualClock:
    return ManualClock(documents_sandbox.clock.now() + timedelta(hours=1))


@pytest.fixture
def flow(zoho: ZohoClient, tmp_path: Path, clock: ManualClock) -> DocumentsFlow:
    return DocumentsFlow(
        zoho, LocalDocumentStore(tmp_path / "lake"), PdfTextExtractor(), load_mapping(), clock
    )


@pytest.fixture
def warehouse(tmp_path: Path, zoho_env: Path) -> Iterator[SqlWarehouse]:
    with open_warehouse(f"duckdb:///{tmp_path / 'warehouse.duckdb'}") as connection:
        yield connection


DISCOVERY_END = datetime(2100, 1, 1, tzinfo=UTC)


def truth_fields(truth: ContractTruth | InvoiceTruth) -> dict[str, str]:
    """The named values mapping.toml must read from the generated document, as the flow renders them."""
    if isinstance(truth, ContractTruth):
        return {
            "contract_number": truth.contract_number,
            "customer_name": truth.customer_name,
            "start_date": truth.start_date.isoformat(),
            "end_date": truth.end_date.isoformat(),
            "value": str(truth.value),
        }
    return {
        "number": truth.number,
        "date": truth.invoice_date.isoformat(),
        "total": str(truth.total),
        "vendor": truth.vendor,
    }


def signed_document_pdfs(sandbox: RunningSandbox) -> set[DocumentRef]:
    """The PDFs in the sandbox's Service_Contracts Signed_Documents (a file-upload field), read
    from the sandbox's own state: what discovery must find there."""
    store = sandbox.state.crm
    return {
        DocumentRef(
            "Service_Contracts", str(store.record_id("Service_Contracts", index)), item["File_Id__s"], "pdf"
        )
        for index in range(store.columns["Service_Contracts"].initial_count)
        if store.is_live("Service_Contracts", index)
        for item in store.render("Service_Contracts", [index], ["Signed_Documents"])[0]["Signed_Documents"]
        or []
        if item["File_Name__s"].endswith(".pdf")
    }
