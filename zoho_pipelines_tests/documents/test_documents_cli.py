"""`zoho-pipelines documents` as a user runs it, in its own process, against a real sandbox.

The command reads the sandbox the test started (`--no-sandbox`, the ZOHO_* settings pointing at it),
so the test can look at the Deals afterwards: the values extracted from every document equal the
generated truth and the contracts' values are on their Deals, all in one documents run; a second
invocation downloads and writes nothing new, only records an "unchanged" attempt beside the first
"written" one; a document that fails is named and does not hold the others back.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from zoho_pipelines.defs.documents import ModuleDocuments
from zoho_pipelines.documents.model import DocumentRef
from zoho_pipelines.documents.tables import EXTRACTIONS_TABLE, WRITEBACKS_TABLE
from zoho_pipelines.sandbox.attachments import attachment_catalog
from zoho_pipelines.sandbox.documents_pdf import ContractTruth
from zoho_pipelines.sandbox.server import RunningSandbox
from zoho_pipelines.warehouse import open_warehouse
from zoho_pipelines_tests.documents.conftest import truth_fields

CLI = Path(sys.executable).with_name("zoho-pipelines")
DEALS = ModuleDocuments("Deals")
CLI_TIMEOUT_S = 240


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The command's ZOHO_PIPELINES_HOME; this process opens the Dagster instance the command keeps there."""
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home" / "dagster"))
    return tmp_path / "home"


def documents_runs() -> int:
    """How many runs of the Deals documents job the command's Dagster instance recorded."""
    with dg.DagsterInstance.get() as instance:
        return len(instance.get_run_records(dg.RunsFilter(job_name=DEALS.job_name)))


def run_documents_command(sandbox: RunningSandbox, home: Path) -> subprocess.CompletedProcess[str]:
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("ZOHO_", "LAKE_", "WAREHOUSE_", "DAGSTER_", "DOCUMENT_"))
    }
    environment.update(sandbox.env(), ZOHO_PIPELINES_HOME=str(home), COLUMNS="200")
    return subprocess.run(
        [str(CLI), "documents", "--no-sandbox"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
        check=False,
    )


def test_the_documents_command_extracts_writes_back_and_is_idempotent(
    documents_sandbox: RunningSandbox, home: Path
) -> None:
    catalog = attachment_catalog(documents_sandbox.state)
    truths = {str(item.id): item for item in catalog.attachments}
    contracts = [item for item in catalog.attachments if isinstance(item.truth, ContractTruth)]
    deals = documents_sandbox.state.crm

    def deal_values() -> dict[int, dict[str, object]]:
        fields = ["Contract_End_Date", "Amount", "Modified_Time"]
        return {item.record_id: deals.render("Deals", [item.record_index], fields)[0] for item in contracts}

    first = run_documents_command(documents_sandbox, home)
    assert first.returncode == 0, first.stdout + first.stderr
    assert f"{len(truths)} Deal documents" in first.stdout
    assert "Every document passed." in first.stdout
    assert documents_runs() == 1
    written = deal_values()
    for item in contracts:
        assert written[item.record_id]["Contract_End_Date"] == item.truth.end_date.isoformat()
        assert f"{written[item.record_id]['Amount']:.2f}" == str(item.truth.value)
    lake = home / "lake" / "zoho" / "documents" / "Deals"
    copies = {path: path.stat().st_ino for path in lake.rglob("*.pdf")}
    assert len(copies) == len(truths)

    second = run_documents_command(documents_sandbox, home)
    assert second.returncode == 0, second.stdout + second.stderr
    assert deal_values() == written  # nothing sent: Modified_Time untouched
    assert {path: path.stat().st_ino for path in lake.rglob("*.pdf")} == copies  # nothing downloaded

    with open_warehouse(f"duckdb:///{home / 'warehouse.duckdb'}") as warehouse:
        extractions = warehouse.query(
            f'SELECT "id", "kind", "extractor", "fields" FROM {EXTRACTIONS_TABLE.sql}'  # noqa: S608
        )
        attempts = warehouse.query(
            f'SELECT "document", "status" FROM {WRITEBACKS_TABLE.sql} ORDER BY "_modified_time"'  # noqa: S608
        )
    assert len(extractions) == len(truths)
    for key, kind, extractor, fields in extractions:
        expected = truths[DocumentRef.from_partition_key(key).attachment_id]
        assert (kind, extractor, json.loads(fields)) == (
            expected.kind,
            "pdf-text",
            truth_fields(expected.truth),
        )
    by_document: dict[str, list[str]] = {}
    for document, status in attempts:
        by_document.setdefault(document, []).append(status)
    assert by_document == {
        DocumentRef("Deals", str(item.record_id), str(item.id), "pdf").partition_key: ["written", "unchanged"]
        for item in contracts
    }


def test_a_failing_document_is_named_and_the_others_still_run(
    documents_sandbox: RunningSandbox, home: Path
) -> None:
    assert run_documents_command(documents_sandbox, home).returncode == 0
    contract = next(
        item
        for item in attachment_catalog(documents_sandbox.state).attachments
        if isinstance(item.truth, ContractTruth)
    )
    gone = DocumentRef("Deals", str(contract.record_id), "1", "pdf").partition_key  # on no record
    with dg.DagsterInstance.get() as instance:
        instance.add_dynamic_partitions(DEALS.partitions.name, [gone])
        keys = instance.get_dynamic_partitions(DEALS.partitions.name)
    assert keys[-1] == gone

    again = run_documents_command(documents_sandbox, home)
    assert again.returncode == 1
    assert f"1 of {len(keys)} documents failed" in again.stdout
    assert gone in again.stdout
    # The failed range run, then one run over the documents before the failed one.
    assert documents_runs() == 1 + 2
    with open_warehouse(f"duckdb:///{home / 'warehouse.duckdb'}") as warehouse:
        statuses = warehouse.query(
            f'SELECT "status", COUNT(*) FROM {WRITEBACKS_TABLE.sql} GROUP BY "status" ORDER BY "status"'  # noqa: S608
        )
    contracts = sum(
        isinstance(item.truth, ContractTruth)
        for item in attachment_catalog(documents_sandbox.state).attachments
    )
    assert statuses == [("unchanged", contracts), ("written", contracts)]
