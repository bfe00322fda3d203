"""Issue 3's acceptance command, run as a user would: the real `dagster` CLI in its own process.

`dagster asset materialize -m zoho_pipelines.definitions --select 'lake/crm/deals,warehouse/crm/deals'
--partition <day>` with ZOHO_ACCOUNTS_URL/ZOHO_API_URL pointing at the sandbox must fill
`zoho_crm.deals` in the warehouse WAREHOUSE_URL names with exactly that day's records.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

from zoho_pipelines.sandbox.server import RunningSandbox
from zoho_pipelines.warehouse import open_warehouse
from zoho_pipelines_tests.pipeline.support import SandboxTruth, day_rows, spec_of, table_rows

DAY = date(2026, 11, 24)
DEALS = spec_of("crm", "deals")
CLI_TIMEOUT_S = 180


def test_dagster_asset_materialize_fills_the_deals_table_with_exactly_that_day(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    warehouse_url = f"duckdb://{tmp_path / 'warehouse.duckdb'}"
    dagster_home = tmp_path / "dagster"
    dagster_home.mkdir()
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("ZOHO_", "LAKE_", "WAREHOUSE_", "DAGSTER_"))
    }
    environment.update(
        sandbox.env(),
        LAKE_URL=(tmp_path / "lake").as_uri(),
        WAREHOUSE_URL=warehouse_url,
        DAGSTER_HOME=str(dagster_home),
        ZOHO_PIPELINES_HOME=str(tmp_path / "home"),
    )
    dagster = Path(sys.executable).with_name("dagster")
    completed = subprocess.run(
        [
            str(dagster),
            "asset",
            "materialize",
            "-m",
            "zoho_pipelines.definitions",
            "--select",
            "lake/crm/deals,warehouse/crm/deals",
            "--partition",
            DAY.isoformat(),
        ],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    assert "RUN_SUCCESS" in completed.stderr
    assert sandbox.config.client_secret not in completed.stdout + completed.stderr

    truth = SandboxTruth(sandbox).day(DEALS, DAY)
    with open_warehouse(warehouse_url) as warehouse:
        assert set(day_rows(warehouse, DEALS, DAY, deleted=False)) == set(truth.records)
        assert set(day_rows(warehouse, DEALS, DAY, deleted=True)) == truth.deleted
        assert len(table_rows(warehouse, DEALS)) == len(truth.records) + len(truth.deleted)
    assert (tmp_path / "lake" / "zoho" / "crm" / "deals" / f"date={DAY}" / "deals.parquet").is_file()
