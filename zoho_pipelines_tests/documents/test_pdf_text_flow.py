"""The offline flow against the real sandbox over HTTP: the extracted values are the generated ones,
the lake copy is fetched once, and the write-back lands on the Deal once."""

from __future__ import annotations

import json
from datetime import timedelta

from zoho_pipelines.clock import ManualClock
from zoho_pipelines.documents.flow import (
    DocumentsFlow,
    save_extraction,
    save_writeback,
    stored_extraction,
)
from zoho_pipelines.documents.model import DocumentRef
from zoho_pipelines.documents.tables import EXTRACTIONS_TABLE, WRITEBACKS_TABLE
from zoho_pipelines.sandbox.attachments import attachment_catalog, file_upload_truth
from zoho_pipelines.sandbox.server import RunningSandbox
from zoho_pipelines.warehouse import SqlWarehouse
from zoho_pipelines_tests.documents.conftest import DISCOVERY_END, signed_document_pdfs, truth_fields


def test_extracted_values_equal_the_generated_truth(
    documents_sandbox: RunningSandbox, flow: DocumentsFlow, warehouse: SqlWarehouse
) -> None:
    catalog = attachment_catalog(documents_sandbox.state)
    discovered = list(flow.discover("Deals", None, DISCOVERY_END))
    assert sorted(found.attachment.id for found in discovered) == sorted(
        str(item.id) for item in catalog.attachments
    )
    truths = {str(item.id): item for item in catalog.attachments}
    for found in discovered:
        expected = truths[found.attachment.id]
        extraction = flow.extract(flow.fetch(found.attachment), found.kind)
        assert found.kind == expected.kind
        assert extraction.fields == truth_fields(expected.truth)
        assert extraction.content.extractor == "pdf-text"
        assert extraction.content.page_count == (2 if expected.kind == "contract" else 1)
        save_extraction(warehouse, extraction)
    rows = warehouse.query(
        f'SELECT "id", "kind", "extractor", "fields", "confidence" FROM {EXTRACTIONS_TABLE.sql}'  # noqa: S608
    )
    assert len(rows) == len(catalog.attachments)
    for key, kind, extractor, fields, confidence in rows:
        ref = DocumentRef.from_partition_key(key)
        assert (kind, extractor, confidence) == (truths[ref.attachment_id].kind, "pdf-text", 1.0)
        assert json.loads(fields) == truth_fields(truths[ref.attachment_id].truth)


def test_the_lake_copy_is_keyed_by_attachment_and_fetched_once(
    documents_sandbox: RunningSandbox, flow: DocumentsFlow
) -> None:
    attachment = next(iter(flow.discover("Deals", None, DISCOVERY_END))).attachment
    first = flow.fetch(attachment)
    again = flow.fetch(attachment)
    assert first.downloaded
    assert not again.downloaded
    assert first.uri == again.uri
    assert first.uri.endswith(f"/zoho/documents/Deals/{attachment.record_id}/{attachment.id}.pdf")
    catalog = attachment_catalog(documents_sandbox.state)
    stored = flow.store.read(first.ref.key)
    assert stored == catalog.content(
        next(item for item in catalog.attachments if str(item.id) == attachment.id)
    )
    assert first.size == len(stored)


def test_write_back_is_idempotent_and_visible_on_the_deal(
    documents_sandbox: RunningSandbox, flow: DocumentsFlow, warehouse: SqlWarehouse, clock: ManualClock
) -> None:
    store = documents_sandbox.state.crm
    contracts = [found for found in flow.discover("Deals", None, DISCOVERY_END) if found.kind == "contract"]
    for found in contracts:
        save_extraction(warehouse, flow.extract(flow.fetch(found.attachment), found.kind))
    first = []
    for found in contracts:
        kind, fields = stored_extraction(warehouse, found.ref)
        outcome = flow.write_back(found.ref, kind, fields)
        assert outcome is not None
        save_writeback(warehouse, outcome)
        first.append(outcome)
    assert {outcome.status for outcome in first} == {"written"}
    truths = {str(item.id): item.truth for item in attachment_catalog(documents_sandbox.state).attachments}
    for found in contracts:
        index = store.index_of("Deals", int(found.attachment.record_id))
        deal = store.render("Deals", [index], ["Contract_End_Date", "Amount"])[0]
        truth = truths[found.attachment.id]
        assert deal["Contract_End_Date"] == truth.end_date.isoformat()
        assert f"{deal['Amount']:.2f}" == str(truth.value)
    modified = {
        found.ref: store.render(
            "Deals", [store.index_of("Deals", int(found.ref.record_id))], ["Modified_Time"]
        )[0]["Modified_Time"]
        for found in contracts
    }

    written_at = clock.now()
    clock.advance(timedelta(minutes=5))
    again = []
    for found in contracts:
        kind, fields = stored_extraction(warehouse, found.ref)
        outcome = flow.write_back(found.ref, kind, fields)
        assert outcome is not None
        assert (outcome.status, outcome.written_fields) == ("unchanged", ())
        save_writeback(warehouse, outcome)
        again.append(outcome)
    for ref, before in modified.items():
        after = store.render("Deals", [store.index_of("Deals", int(ref.record_id))], ["Modified_Time"])[0][
            "Modified_Time"
        ]
        assert after == before

    # The history keeps when each value was written; a replayed attempt adds no row.
    for outcome in [*first, *again]:
        save_writeback(warehouse, outcome)
    history = warehouse.query(
        f'SELECT "document", "status", "written_fields", "_modified_time" FROM {WRITEBACKS_TABLE.sql} '  # noqa: S608
        'ORDER BY "document", "_modified_time"'
    )
    assert [(key, status, json.loads(written), at) for key, status, written, at in history] == [
        row
        for found in sorted(contracts, key=lambda found: found.ref.partition_key)
        for row in (
            (found.ref.partition_key, "written", ["Amount", "Contract_End_Date"], written_at),
            (found.ref.partition_key, "unchanged", [], clock.now()),
        )
    ]


def test_a_contract_missing_its_value_is_failed_with_a_reason(flow: DocumentsFlow) -> None:
    found = next(found for found in flow.discover("Deals", None, DISCOVERY_END) if found.kind == "contract")
    outcome = flow.write_back(found.ref, "contract", {"end_date": "2030-01-31"})
    assert outcome is not None
    assert outcome.status == "failed"
    assert outcome.reason == "not found in the document: value"


def test_discovery_includes_the_files_in_file_upload_fields(
    documents_sandbox: RunningSandbox, flow: DocumentsFlow
) -> None:
    store = documents_sandbox.state.crm
    assert flow.file_upload_fields("Service_Contracts") == ("Signed_Documents",)
    assert flow.file_upload_fields("Deals") == ()
    discovered = list(flow.discover("Service_Contracts", None, DISCOVERY_END))
    expected = signed_document_pdfs(documents_sandbox)
    assert expected
    assert {found.ref for found in discovered} == expected  # docx, xlsx, csv left out
    assert len(discovered) == len(expected)
    anchor = store.anchor.date()
    for found in discovered[:5]:
        assert flow.find(found.ref) == found  # a file-upload document key resolves, as a partition's run does
        stored = flow.fetch(found.attachment)
        assert stored.ref.key == (
            f"zoho/documents/Service_Contracts/{found.attachment.record_id}/{found.attachment.id}.pdf"
        )
        assert not flow.fetch(found.attachment).downloaded
        extraction = flow.extract(stored, found.kind)
        assert extraction.fields == truth_fields(file_upload_truth(found.attachment.id, anchor))
