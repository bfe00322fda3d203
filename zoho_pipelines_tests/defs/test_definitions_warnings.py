"""Loading the code location prints no Dagster BetaWarning: `dg dev` and every run start quietly.

Our definitions use two beta parameters knowingly (the documents assets' BackfillPolicy.single_run,
and, through Dagster's rebuilding of sensors that hold an op job, a sensor's `owners`); a new beta
parameter is meant to be noticed here, not printed on every start.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

LOAD_TIMEOUT_S = 180
# A fresh process: in this one the definitions may be imported already, their warnings long gone.
LOAD_WITH_BETA_WARNINGS_AS_ERRORS = textwrap.dedent(
    """
    import warnings

    import dagster as dg

    warnings.simplefilter("error", dg.BetaWarning)
    from zoho_pipelines.definitions import defs

    repository = defs.get_repository_def()  # what `dg dev` resolves: resources bound to jobs and sensors
    for name in ("extractions", "writebacks"):
        asset = repository.asset_graph.get(dg.AssetKey(["documents", "crm", "deals", name]))
        print(name, asset.backfill_policy)
    for sensor in sorted(repository.sensor_defs, key=lambda sensor: sensor.name):
        print(sensor.name, sensor.job_name)
    """
)


def test_the_code_location_loads_without_beta_warnings() -> None:
    done = subprocess.run(
        [sys.executable, "-c", LOAD_WITH_BETA_WARNINGS_AS_ERRORS],
        capture_output=True,
        text=True,
        timeout=LOAD_TIMEOUT_S,
        check=False,
    )
    assert "BetaWarning" not in done.stderr, done.stderr[-3000:]
    assert done.returncode == 0, done.stderr[-3000:]
    printed = done.stdout.splitlines()
    # Still the choices the warnings were about: one run per range of documents, and the queue
    # sensors aimed at their jobs.
    assert "extractions BackfillPolicy.single_run()" in printed
    assert "writebacks BackfillPolicy.single_run()" in printed
    assert "refresh_events_sensor event_refresh_job" in printed
    assert "lead_qualification_sensor lead_qualification_job" in printed
