"""`zoho_ai.enrichments` in DuckDB and PostgreSQL: one row per enrichment, merged by key, so a
rerun changes nothing and a new enrichment is added beside the old ones."""

from __future__ import annotations

from pathlib import Path

from zoho_pipelines.ai.store import PREFIX, LocalEnrichmentStore
from zoho_pipelines.ai.warehouse import enrichment_id, load_enrichments
from zoho_pipelines.clock import ManualClock
from zoho_pipelines.lake import LocalLake
from zoho_pipelines.warehouse import SqlWarehouse, open_warehouse
from zoho_pipelines_tests.ai.records import ENRICHED_AT, claude_record


def test_enrichments_are_merged_by_key(warehouse: SqlWarehouse, tmp_path: Path) -> None:
    store = LocalEnrichmentStore(tmp_path / "lake")
    first = store.put_once(claude_record("101", 50_000, input_tokens=700, output_tokens=200))
    clock = ManualClock(ENRICHED_AT)

    loaded = load_enrichments(store, warehouse, staging=None, clock=clock)
    again = load_enrichments(store, warehouse, staging=None, clock=clock)
    second = store.put_once(claude_record("102", 80_000, input_tokens=900, output_tokens=250))
    more = load_enrichments(store, warehouse, staging=None, clock=clock)

    assert (loaded.inserted_rows, again.inserted_rows, more.inserted_rows) == (1, 0, 1)
    rows = warehouse.query(
        "SELECT id, deal_id, source, model_id, prompt_version, input_digest, input_tokens, output_tokens, "
        "latency_ms, size_band, risks, fit_score FROM zoho_ai.enrichments ORDER BY deal_id"
    )
    assert [row[:10] for row in rows] == [
        (
            enrichment_id(record),
            record["deal_id"],
            "claude",
            record["model_id"],
            "deal-enrichment/1",
            record["input_digest"],
            record["input_tokens"],
            record["output_tokens"],
            1500,
            "201-1000",
        )
        for record in (first, second)
    ]
    assert [list(row[10]) for row in rows] == [["Tight timeline."], ["Tight timeline."]]
    assert [row[11] for row in rows] == [6.5, 6.5]


def test_an_empty_lake_makes_an_empty_table(warehouse: SqlWarehouse, tmp_path: Path) -> None:
    store = LocalEnrichmentStore(tmp_path / "lake")
    result = load_enrichments(store, warehouse, staging=None, clock=ManualClock(ENRICHED_AT))
    assert result.staged_rows == 0
    assert warehouse.query("SELECT count(*) FROM zoho_ai.enrichments") == [(0,)]


def test_through_a_staging_lake_as_for_redshift(tmp_path: Path) -> None:
    """The path a warehouse that loads only from the lake takes: Parquet partitions, then merges."""
    store = LocalEnrichmentStore(tmp_path / "lake")
    record = store.put_once(claude_record("101", 50_000))
    with open_warehouse(f"duckdb://{tmp_path / 'warehouse.duckdb'}") as warehouse:
        result = load_enrichments(
            store, warehouse, staging=LocalLake(tmp_path / "staging"), clock=ManualClock(ENRICHED_AT)
        )
        rows = warehouse.query("SELECT id, source, input_tokens FROM zoho_ai.enrichments")
    assert result.inserted_rows == 1
    assert rows == [(enrichment_id(record), "claude", record["input_tokens"])]


def test_a_loaded_enrichment_is_not_read_again(warehouse: SqlWarehouse, tmp_path: Path) -> None:
    """Objects never change, so each run reads only the new ones: an object already in the table
    is skipped by its name (here made unreadable, which a read would trip over)."""
    store = LocalEnrichmentStore(tmp_path / "lake")
    store.put_once(claude_record("101", 50_000))
    clock = ManualClock(ENRICHED_AT)
    load_enrichments(store, warehouse, staging=None, clock=clock)
    [loaded_object] = (tmp_path / "lake" / PREFIX).glob("deal_id=101/*.json")
    loaded_object.write_text("not json", encoding="utf-8")
    newer = store.put_once(claude_record("102", 80_000))

    result = load_enrichments(store, warehouse, staging=None, clock=clock)

    assert (result.staged_rows, result.inserted_rows) == (1, 1)
    ids = warehouse.query("SELECT id FROM zoho_ai.enrichments ORDER BY id")
    assert ids[-1] == (enrichment_id(newer),)
    assert len(ids) == 2
