"""`zoho-pipelines documents`: the documents flow end to end on the embedded defaults.

Starts the sandbox (whose Deals carry generated contract and invoice PDFs), or uses the org the
ZOHO_* settings name (`--no-sandbox`), runs the discovery job over every Deal (one Dagster
partition per document), materializes every document partition in one run over their range (lake
copy, extraction into the warehouse, write-back onto the Deal), then prints what was read, what
was written and how many pages an extractor read: the number Textract would bill. Runs are
recorded in the same Dagster instance as the main demo's, so any one document can be re-run alone
from the UI.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager

import dagster as dg
from rich.console import Console
from rich.table import Table

from zoho_pipelines.clock import SYSTEM_CLOCK, Clock
from zoho_pipelines.documents.batch import pending_ranges
from zoho_pipelines.documents.model import DocumentRef
from zoho_pipelines.documents.tables import EXTRACTIONS_TABLE, WRITEBACKS_TABLE
from zoho_pipelines.sandbox.server import SandboxConfig, start_sandbox
from zoho_pipelines.settings import load_settings
from zoho_pipelines.warehouse import SqlWarehouse, open_warehouse

QUIET_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
SHOWN_FIELDS = ("end_date", "value", "number", "total")


@contextmanager
def _org(*, records: int, port: int, clock: Clock, start: bool) -> Iterator[str]:
    """The org to read: a sandbox started for this command (its settings put into the
    environment), or, when `start` is false, the one the ZOHO_* settings already name."""
    if not start:
        yield load_settings().zoho_api_url or "the ZOHO_* settings' org"
        return
    config = SandboxConfig(port=port, records_per_module=records, anchor=clock.now().replace(microsecond=0))
    with start_sandbox(config, subprocess=True) as sandbox:
        os.environ.update(sandbox.env())
        yield sandbox.url


def run_documents_demo(
    *,
    records: int,
    port: int,
    start_sandbox: bool = True,
    console: Console | None = None,
    clock: Clock = SYSTEM_CLOCK,
) -> int:
    """Run the documents demo; returns a process exit code (0 when every document passed)."""
    console = console or Console(width=max(Console().width, 100))
    settings = load_settings()
    home = settings.home.resolve()
    dagster_home = home / "dagster"
    dagster_home.mkdir(parents=True, exist_ok=True)
    if not (dagster_home / "dagster.yaml").exists():
        (dagster_home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
    with _org(records=records, port=port, clock=clock, start=start_sandbox) as url:
        os.environ.update(
            {
                "DAGSTER_HOME": str(dagster_home),
                "LAKE_URL": settings.resolved_lake_url,
                "WAREHOUSE_URL": settings.resolved_warehouse_url,
            }
        )
        warnings.filterwarnings("ignore", category=dg.BetaWarning)
        from zoho_pipelines.definitions import defs
        from zoho_pipelines.defs.documents import ModuleDocuments, partition_range_tags

        deals = ModuleDocuments("Deals")

        with dg.DagsterInstance.get() as instance:
            # lookback 0: every Deal, as the first run after turning documents on would.
            discovery = defs.resolve_job_def(deals.discovery_job_name).execute_in_process(
                instance=instance, run_config=QUIET_RUN_CONFIG, raise_on_error=False
            )
            keys = instance.get_dynamic_partitions(deals.partitions.name) if discovery.success else []
            console.print(
                f"[bold]documents demo[/]: {len(keys)} Deal documents in the org at {url}, "
                f"extractor {settings.document_extractor}"
            )
            job = defs.resolve_job_def(deals.job_name)

            def run(first: str, last: str) -> dg.ExecuteInProcessResult:
                partitions = (
                    {"partition_key": first} if first == last else {"tags": partition_range_tags(first, last)}
                )
                return job.execute_in_process(
                    instance=instance, run_config=QUIET_RUN_CONFIG, raise_on_error=False, **partitions
                )

            failed = run_isolating_failures(run, keys)
    with closing(open_warehouse(settings.resolved_warehouse_url)) as warehouse:
        console.print(_summary(warehouse))
    if not discovery.success:
        console.print("The discovery run failed: see its run in the Dagster UI (`dg dev`).")
    if failed:
        console.print(f"{len(failed)} of {len(keys)} documents failed (their runs are in the Dagster UI):")
        for key in sorted(failed):
            console.print(f"  {key}")
    elif discovery.success:
        console.print("Every document passed.")
    return 1 if failed or not discovery.success else 0


def run_isolating_failures(
    run: Callable[[str, str], dg.ExecuteInProcessResult], keys: Sequence[str]
) -> set[str]:
    """One run over every document; when it fails, runs again over the ranges between the
    documents it names (or each document alone, when a step failed without naming any), so one
    bad document does not hold the others back. Returns the documents that failed."""
    if not keys:
        return set()
    result = run(keys[0], keys[-1])
    if result.success:
        return set()
    named = _named_failures(result)
    if not named:
        return {key for key in keys if not run(key, key).success}
    for first, last in pending_ranges(keys, named):
        if not run(first, last).success:
            named.update(keys[keys.index(first) : keys.index(last) + 1])
    return named


def _named_failures(result: dg.ExecuteInProcessResult) -> set[str]:
    """The documents the run's failed steps name (their Failure's "failed" metadata); empty when
    a step failed otherwise."""
    named: set[str] = set()
    for event in result.all_events:
        if not event.is_step_failure:
            continue
        failure = event.step_failure_data.user_failure_data
        listed = failure.metadata.get("failed") if failure is not None else None
        if listed is None:
            return set()
        named.update(listed.value)
    return named


def _summary(warehouse: SqlWarehouse) -> Table:
    """Each document's extraction, its latest write-back attempt, and when its values were last written."""
    rows = warehouse.query(
        'SELECT e."id", e."kind", e."extractor", e."page_count", e."fields", w."status", '  # noqa: S608
        f'ok."written_fields", ok."_modified_time" FROM {EXTRACTIONS_TABLE.sql} e '
        f'LEFT JOIN ({_latest_attempts(written_only=False)}) w ON w."document" = e."id" AND w."nth" = 1 '
        f'LEFT JOIN ({_latest_attempts(written_only=True)}) ok ON ok."document" = e."id" AND ok."nth" = 1 '
        'ORDER BY e."id"'
    )
    table = Table(title="zoho_documents: extracted and written back")
    for heading in ("record", "kind", "pages", "values", "write-back", "written (UTC)"):
        table.add_column(heading)
    for key, kind, _, pages, fields, status, written, written_at in rows:
        named = json.loads(fields)
        values = ", ".join(f"{name}={named[name]}" for name in SHOWN_FIELDS if name in named)
        last = f"{', '.join(json.loads(written))} {written_at:%H:%M:%S}" if written_at else "-"
        table.add_row(
            DocumentRef.from_partition_key(key).record_id, kind, str(pages), values, status or "-", last
        )
    extractors = ", ".join(sorted({str(row[2]) for row in rows})) or "none"
    table.caption = f"{sum(int(row[3]) for row in rows)} pages read by {extractors}"
    return table


def _latest_attempts(*, written_only: bool) -> str:
    """The write-back attempts numbered newest first per document (nth = 1 is the latest)."""
    written = """ AND "status" = 'written'""" if written_only else ""
    return (
        'SELECT "document", "status", "written_fields", "_modified_time", ROW_NUMBER() OVER '  # noqa: S608
        '(PARTITION BY "document" ORDER BY "_modified_time" DESC) AS "nth" '
        f'FROM {WRITEBACKS_TABLE.sql} WHERE "document" IS NOT NULL{written}'
    )
