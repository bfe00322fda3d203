"""Dagster's run storage as the intake's ledger of what has been requested, and how it went.

A run, once recorded, carries its events in its run config and its outcome in its status, so
the runs themselves are the durable record the queue intake needs: the run key finds a batch's
run, and the configs of the recent runs of a target say which events they cover. Nothing else
has to be stored or kept in step.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timedelta

import dagster as dg

from zoho_pipelines.defs.events.jobs import batch_from_run_config
from zoho_pipelines.events.processing.intake import CoveringRun, RunState

RUN_KEY_TAG = "dagster/run_key"  # the tag the sensor daemon stores a RunRequest's run_key under
TARGET_TAG = "zoho/event_target"
RECENT_RUNS_LIMIT = 5_000

_STATES = {
    dg.DagsterRunStatus.QUEUED: RunState.WAITING,
    dg.DagsterRunStatus.NOT_STARTED: RunState.WAITING,
    dg.DagsterRunStatus.SUCCESS: RunState.SUCCEEDED,
    dg.DagsterRunStatus.FAILURE: RunState.FAILED,
    dg.DagsterRunStatus.CANCELED: RunState.FAILED,
}


def run_state(status: dg.DagsterRunStatus) -> RunState:
    """Starting, started, canceling and managed runs count as running: they may read Zoho now."""
    return _STATES.get(status, RunState.RUNNING)


class DagsterRunLedger:
    """Answers from `instance`'s runs; the recent runs of the target are read once per tick."""

    def __init__(
        self, instance: dg.DagsterInstance, *, target: str, window: timedelta, now: datetime
    ) -> None:
        self._instance = instance
        self._target = target
        self._since = now - window
        self._covering: dict[str, list[CoveringRun]] | None = None

    def run_state(self, run_key: str) -> RunState | None:
        runs = self._instance.get_runs(filters=dg.RunsFilter(tags={RUN_KEY_TAG: run_key}), limit=1)
        return run_state(runs[0].status) if runs else None

    def covering_runs(self, event_ids: Collection[str]) -> Mapping[str, Sequence[CoveringRun]]:
        if self._covering is None:
            self._covering = self._recent_runs()
        return {event_id: self._covering[event_id] for event_id in event_ids if event_id in self._covering}

    def _recent_runs(self) -> dict[str, list[CoveringRun]]:
        records = self._instance.get_run_records(
            filters=dg.RunsFilter(tags={TARGET_TAG: self._target}, created_after=self._since),
            limit=RECENT_RUNS_LIMIT,
        )
        covering: dict[str, list[CoveringRun]] = {}
        for record in records:
            run = record.dagster_run
            batch = batch_from_run_config(dict(run.run_config or {}))
            run_key = run.tags.get(RUN_KEY_TAG)
            if batch is None or run_key is None:
                continue
            state = run_state(run.status)
            for event in batch.events:
                covering.setdefault(event.event_id, []).append(CoveringRun(run_key, state, event.occurred_at))
        return covering
