"""`zoho_ai.enrichments`: the lake's enrichment objects as warehouse rows, merged by key.

One row per enrichment (`id` = deal id and input digest), with what produced it (source, model
id, prompt version), what it was given (the input digest and the allow-listed facts, as JSON),
what it answered (the profile, brief, risks and next steps, and the whole output as JSON) and
what it cost (input and output tokens, latency). Objects are written once and never change, so
the merge (the warehouse's own, `merge_rows`: in one transaction on DuckDB and PostgreSQL, through
a staging lake on Redshift) inserts new enrichments and leaves loaded ones as they are; a rerun
or an overlapping run ends in the same table.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import pyarrow as pa

from zoho_pipelines.ai.store import EnrichmentStore, enrichment_key
from zoho_pipelines.clock import Clock
from zoho_pipelines.events.processing.refresh import merge_rows
from zoho_pipelines.lake import Lake
from zoho_pipelines.schema import (
    DELETED,
    ID_COLUMN,
    MODIFIED_TIME,
    PARTITION,
    STRING_LIST,
    SYNCED_AT,
    UTC_TIMESTAMP,
)
from zoho_pipelines.warehouse import MergeResult, SqlWarehouse, TableRef
from zoho_pipelines.warehouse.sql import quote

APP, MODULE = "ai", "enrichments"
ENRICHMENTS_SCHEMA = pa.schema(
    [
        pa.field(ID_COLUMN, pa.string(), nullable=False),
        pa.field(MODIFIED_TIME, UTC_TIMESTAMP, nullable=False),
        pa.field(DELETED, pa.bool_(), nullable=False),
        pa.field(SYNCED_AT, UTC_TIMESTAMP, nullable=False),
        pa.field(PARTITION, pa.date32(), nullable=False),
        pa.field("deal_id", pa.string()),
        pa.field("account_id", pa.string()),
        pa.field("source", pa.string()),
        pa.field("model_id", pa.string()),
        pa.field("prompt_version", pa.string()),
        pa.field("input_digest", pa.string()),
        pa.field("input", pa.string()),
        pa.field("output", pa.string()),
        pa.field("industry", pa.string()),
        pa.field("size_band", pa.string()),
        pa.field("region", pa.string()),
        pa.field("onboarding_brief", pa.string()),
        pa.field("risks", STRING_LIST),
        pa.field("next_steps", STRING_LIST),
        pa.field("fit_score", pa.float64()),
        pa.field("input_tokens", pa.int64()),
        pa.field("output_tokens", pa.int64()),
        pa.field("latency_ms", pa.int64()),
        pa.field("enriched_at", UTC_TIMESTAMP),
    ],
    metadata={"zoho.app": APP, "zoho.module": MODULE},
)


def enrichment_id(record: Mapping[str, Any]) -> str:
    return enrichment_key(str(record["deal_id"]), str(record["input_digest"]))


def enrichment_rows(records: Iterable[Mapping[str, Any]], *, synced_at: datetime) -> pa.RecordBatch:
    rows = []
    for record in records:
        enriched_at = datetime.fromisoformat(record["enriched_at"])
        output = record["output"]
        rows.append(
            {
                ID_COLUMN: enrichment_id(record),
                MODIFIED_TIME: enriched_at,
                DELETED: False,
                SYNCED_AT: synced_at,
                PARTITION: enriched_at.date(),
                **{name: record[name] for name in ("deal_id", "account_id", "source", "model_id")},
                **{name: record[name] for name in ("prompt_version", "input_digest", "fit_score")},
                "input": json.dumps(record["input"], sort_keys=True),
                "output": json.dumps(output, sort_keys=True),
                **{name: output[name] for name in ("industry", "size_band", "region", "onboarding_brief")},
                "risks": list(output["risks"]),
                "next_steps": list(output["next_steps"]),
                **{name: int(record[name]) for name in ("input_tokens", "output_tokens", "latency_ms")},
                "enriched_at": enriched_at,
            }
        )
    return pa.RecordBatch.from_pylist(rows, schema=ENRICHMENTS_SCHEMA)


def load_enrichments(
    store: EnrichmentStore, warehouse: SqlWarehouse, *, staging: Lake | None, clock: Clock
) -> MergeResult:
    """Merge the lake's enrichments that `zoho_ai.enrichments` lacks into it.

    Objects never change once written, so one already loaded is skipped by its name, unread: a run
    costs one listing plus a read per new enrichment, not a read of every enrichment ever made.
    """
    batch = enrichment_rows(store.records(skip=loaded_ids(warehouse)), synced_at=clock.now())
    return merge_rows(warehouse, ENRICHMENTS_SCHEMA, [batch], staging=staging)


def loaded_ids(warehouse: SqlWarehouse) -> frozenset[str]:
    table = TableRef.for_module(APP, MODULE)
    if not warehouse.table_columns(table):
        return frozenset()
    statement = f"SELECT {quote(ID_COLUMN)} FROM {table.sql}"  # noqa: S608 (identifiers, quoted)
    return frozenset(row[0] for row in warehouse.query(statement))
