"""`zoho-pipelines documents`: the documents flow end to end on the embedded defaults.

Starts the sandbox (whose Deals carry generated contract and invoice PDFs), runs the discovery
job over every Deal (one Dagster partition per attachment), materializes each document partition
(lake copy, extraction into DuckDB, write-back onto the Deal), then prints what was read, what
was written and how many pages an extractor read: the number Textract would bill. Runs are
recorded in the same Dagster instance as the main demo's.
"""

from __future__ import annotations

import json
import os
import warnings
from contextlib import closing

import dagster as dg
from rich.console import Console
from rich.table import Table

from zoho_pipelines.clock import SYSTEM_CLOCK, Clock
from zoho_pipelines.sandbox.server import SandboxConfig, start_sandbox
from zoho_pipelines.settings import load_settings
from zoho_pipelines.warehouse import SqlWarehouse, open_warehouse

QUIET_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
SHOWN_FIELDS = ("end_date", "value", "number", "total")


def run_documents_demo(
    *, records: int, port: int, console: Console | None = None, clock: Clock = SYSTEM_CLOCK
) -> int:
    """Run the documents demo; returns a process exit code (0 when every document's run passed)."""
    console = console or Console(width=max(Console().width, 100))
    settings = load_settings()
    home = settings.home.resolve()
    dagster_home = home / "dagster"
    dagster_home.mkdir(parents=True, exist_ok=True)
    if not (dagster_home / "dagster.yaml").exists():
        (dagster_home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
    config = SandboxConfig(port=port, records_per_module=records, anchor=clock.now().replace(microsecond=0))
    with start_sandbox(config, subprocess=True) as sandbox:
        os.environ.update(
            {
                **sandbox.env(),
                "DAGSTER_HOME": str(dagster_home),
                "LAKE_URL": settings.resolved_lake_url,
                "WAREHOUSE_URL": settings.resolved_warehouse_url,
            }
        )
        warnings.filterwarnings("ignore", category=dg.BetaWarning)
        from zoho_pipelines.definitions import defs
        from zoho_pipelines.defs.documents import DISCOVERY_JOB, DOCUMENT_PARTITIONS, DOCUMENTS_JOB

        failures = 0
        with dg.DagsterInstance.get() as instance:
            # lookback 0: every Deal, as the first run after turning documents on would.
            discovery = defs.resolve_job_def(DISCOVERY_JOB).execute_in_process(
                instance=instance, run_config=QUIET_RUN_CONFIG, raise_on_error=False
            )
            keys = instance.get_dynamic_partitions(DOCUMENT_PARTITIONS.name) if discovery.success else []
            console.print(
                f"[bold]documents demo[/]: {len(keys)} Deal attachments in the sandbox at {sandbox.url}, "
                f"extractor {settings.document_extractor}"
            )
            job = defs.resolve_job_def(DOCUMENTS_JOB)
            for key in keys:
                result = job.execute_in_process(
                    instance=instance, partition_key=key, run_config=QUIET_RUN_CONFIG, raise_on_error=False
                )
                failures += 0 if result.success else 1
        failures += 0 if discovery.success else 1
    with closing(open_warehouse(settings.resolved_warehouse_url)) as warehouse:
        console.print(_summary(warehouse))
    console.print(
        f"{failures} of {len(keys)} document runs failed." if failures else "Every document run passed."
    )
    return 1 if failures else 0


def _summary(warehouse: SqlWarehouse) -> Table:
    rows = warehouse.query(
        'SELECT e."id", e."kind", e."extractor", e."page_count", e."fields", w."status", w."written_fields" '
        'FROM zoho_documents.extractions e LEFT JOIN zoho_documents.writebacks w ON w."id" = e."id" '
        'ORDER BY e."id"'
    )
    table = Table(title="zoho_documents: extracted and written back")
    for heading in ("record/attachment", "kind", "extractor", "pages", "values", "write-back"):
        table.add_column(heading)
    for key, kind, extractor, pages, fields, status, written in rows:
        named = json.loads(fields)
        values = ", ".join(f"{name}={named[name]}" for name in SHOWN_FIELDS if name in named)
        outcome = f"{status} {', '.join(json.loads(written))}".strip() if status else "-"
        table.add_row(key.split("/", 1)[1], kind, extractor, str(pages), values, outcome)
    table.caption = f"{sum(int(row[3]) for row in rows)} pages read"
    return table
