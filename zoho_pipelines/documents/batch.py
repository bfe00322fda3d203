"""Many documents in one go: the flow's steps for each, one document's failure kept to itself.

A Dagster run over a range of document partitions (or the CLI's documents command) goes through
here, so one run pays Dagster's per-run cost once for all its documents instead of once each.
Rows are merged in one batch at the end (one warehouse transaction per table, not one per
document); a run killed before it merges leaves the lake copies, which the next run reuses, and
no rows, which the next run writes: every step is idempotent, so a re-run is the recovery.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from zoho_pipelines.documents.flow import DocumentsFlow, stored_extraction
from zoho_pipelines.documents.model import DocumentRef, Extraction
from zoho_pipelines.documents.tables import WritebackOutcome, extraction_rows, merge, writeback_rows
from zoho_pipelines.lake import Lake
from zoho_pipelines.warehouse import SqlWarehouse


@dataclass(frozen=True)
class DocumentFailure:
    """A document that could not be processed, and why (the error's type and message)."""

    ref: DocumentRef
    error: str


@dataclass
class BatchResult:
    """What a batch did: the rows it merged and the documents that failed."""

    extractions: list[Extraction] = field(default_factory=list)
    writebacks: list[WritebackOutcome] = field(default_factory=list)
    without_rules: list[DocumentRef] = field(default_factory=list)
    failures: list[DocumentFailure] = field(default_factory=list)

    def failure_summary(self) -> str:
        return "; ".join(f"{failure.ref.partition_key}: {failure.error}" for failure in self.failures)


def _failure(ref: DocumentRef, error: Exception) -> DocumentFailure:
    return DocumentFailure(ref, f"{type(error).__name__}: {error}")


def extract_documents(
    flow: DocumentsFlow, warehouse: SqlWarehouse, refs: Sequence[DocumentRef], staging: Lake | None = None
) -> BatchResult:
    """Find, fetch and extract each document; merge every extraction into the warehouse at once."""
    result = BatchResult()
    for ref in refs:
        try:
            found = flow.find(ref)
            result.extractions.append(flow.extract(flow.fetch(found.attachment), found.kind))
        except Exception as error:  # one bad file must not stop the others
            result.failures.append(_failure(ref, error))
    if result.extractions:
        merge(warehouse, extraction_rows(result.extractions), staging=staging)
    return result


def write_back_documents(
    flow: DocumentsFlow, warehouse: SqlWarehouse, refs: Sequence[DocumentRef], staging: Lake | None = None
) -> BatchResult:
    """Write each document's mapped values back (from its extraction row); merge the attempts."""
    result = BatchResult()
    for ref in refs:
        try:
            kind, fields = stored_extraction(warehouse, ref)
            outcome = flow.write_back(ref, kind, fields)
        except Exception as error:  # one bad record must not stop the others
            result.failures.append(_failure(ref, error))
            continue
        if outcome is None:
            result.without_rules.append(ref)
        else:
            result.writebacks.append(outcome)
    if result.writebacks:
        merge(warehouse, writeback_rows(result.writebacks), staging=staging)
    return result


def pending_ranges(keys: Sequence[str], done: set[str]) -> list[tuple[str, str]]:
    """The (first, last) keys of each unbroken run of not-done keys, in `keys`' order.

    Dynamic partitions are ordered as they were added, so new documents form one range at the
    end: one run for them all, while a range never spans a document that is already done.
    """
    ranges: list[tuple[str, str]] = []
    start: str | None = None
    previous = ""
    for key in keys:
        if key in done:
            if start is not None:
                ranges.append((start, previous))
            start = None
        elif start is None:
            start = key
        previous = key
    if start is not None:
        ranges.append((start, previous))
    return ranges
