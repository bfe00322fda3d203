"""The sandbox's Attachments related list, attachment downloads and /files, as Zoho's v8 spec has them."""

from __future__ import annotations

import io

import pypdf
import pytest

from zoho_pipelines.sandbox.attachments import ATTACHMENT_FIELDS, attachment_catalog
from zoho_pipelines.sandbox.config import SandboxConfig
from zoho_pipelines.sandbox.documents_pdf import ContractTruth
from zoho_pipelines.sandbox.server import RunningSandbox
from zoho_pipelines.sandbox.state import SandboxState
from zoho_pipelines.zoho.client import ZohoClient
from zoho_pipelines.zoho.errors import ZohoAPIError
from zoho_pipelines_tests.conftest import SANDBOX_ANCHOR


def test_list_carries_every_spec_field(documents_sandbox: RunningSandbox, zoho: ZohoClient) -> None:
    attachment = attachment_catalog(documents_sandbox.state).attachments[0]
    response = zoho.transport.request(
        "GET",
        f"/crm/v8/Deals/{attachment.record_id}/Attachments",
        params={"fields": ",".join(name for name in ATTACHMENT_FIELDS if name != "id")},
    )
    body = response.json()
    first = body["data"][0]
    assert set(first) == set(ATTACHMENT_FIELDS)
    assert first["id"] == str(attachment.id)
    assert first["$file_id"] == attachment.file_id
    assert first["Parent_Id"]["id"] == str(attachment.record_id)
    assert first["$se_module"] == "Deals"
    assert int(first["Size"]) == len(attachment_catalog(documents_sandbox.state).content(attachment))
    assert body["info"] == {"per_page": 200, "page": 1, "count": len(body["data"]), "more_records": False}


def test_fields_is_required(documents_sandbox: RunningSandbox, zoho: ZohoClient) -> None:
    attachment = attachment_catalog(documents_sandbox.state).attachments[0]
    with pytest.raises(ZohoAPIError) as raised:
        zoho.transport.request("GET", f"/crm/v8/Deals/{attachment.record_id}/Attachments")
    assert raised.value.code == "REQUIRED_PARAM_MISSING"


def test_pages_by_per_page(documents_sandbox: RunningSandbox, zoho: ZohoClient) -> None:
    catalog = attachment_catalog(documents_sandbox.state)
    record = next(
        item.record_id for item in catalog.attachments if len(catalog.for_record(item.record_id)) == 2
    )
    path = f"/crm/v8/Deals/{record}/Attachments"
    first = zoho.transport.request("GET", path, params={"fields": "File_Name", "per_page": 1}).json()
    second = zoho.transport.request(
        "GET", path, params={"fields": "File_Name", "per_page": 1, "page": 2}
    ).json()
    assert first["info"]["more_records"] is True
    assert second["info"]["more_records"] is False
    assert {first["data"][0]["id"], second["data"][0]["id"]} == {
        str(item.id) for item in catalog.for_record(record)
    }


def test_a_record_without_documents_answers_204(documents_sandbox: RunningSandbox, zoho: ZohoClient) -> None:
    catalog = attachment_catalog(documents_sandbox.state)
    bare = next(
        documents_sandbox.state.crm.record_id("Deals", index)
        for index in range(100)
        if not catalog.for_record(documents_sandbox.state.crm.record_id("Deals", index))
    )
    response = zoho.transport.request(
        "GET", f"/crm/v8/Deals/{bare}/Attachments", params={"fields": "File_Name"}
    )
    assert response.status_code == 204


def test_downloads_serve_the_generated_pdf(documents_sandbox: RunningSandbox, zoho: ZohoClient) -> None:
    catalog = attachment_catalog(documents_sandbox.state)
    contract = next(item for item in catalog.attachments if isinstance(item.truth, ContractTruth))
    by_list = zoho.transport.request("GET", f"/crm/v8/Deals/{contract.record_id}/Attachments/{contract.id}")
    by_file = zoho.transport.request("GET", "/crm/v8/files", params={"id": contract.file_id})
    assert by_list.content == by_file.content == catalog.content(contract)
    assert by_list.headers["content-type"] == "application/x-download"
    assert contract.file_name in by_list.headers["content-disposition"]
    reader = pypdf.PdfReader(io.BytesIO(by_list.content))
    assert len(reader.pages) == 2
    assert contract.truth.customer_name in reader.pages[0].extract_text()


def test_unknown_file_id_is_invalid_data(zoho: ZohoClient) -> None:
    with pytest.raises(ZohoAPIError) as raised:
        zoho.transport.request("GET", "/crm/v8/files", params={"id": "not-a-file"})
    assert (raised.value.status, raised.value.code) == (400, "INVALID_DATA")


def test_documents_are_a_function_of_the_seed() -> None:
    def catalog_of(seed: int) -> list[tuple[int, str, bytes]]:
        state = SandboxState(SandboxConfig(seed=seed, records_per_module=120, anchor=SANDBOX_ANCHOR))
        try:
            catalog = attachment_catalog(state)
            return [
                (item.record_id, item.file_name, catalog.content(item)) for item in catalog.attachments[:3]
            ]
        finally:
            state.close()

    assert catalog_of(7) == catalog_of(7)
    assert catalog_of(7) != catalog_of(8)
