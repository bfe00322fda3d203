"""Dagster's run storage as the intake's ledger of what has been requested.

A run, once recorded, carries its events in its run config, so the runs themselves are the
durable record the queue intake needs: the run key says whether a batch's run exists, and the
configs of the recent runs of a target say which events are already covered. Nothing else has
to be stored or kept in step.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta

import dagster as dg

from zoho_pipelines.defs.events.jobs import batch_from_run_config

RUN_KEY_TAG = "dagster/run_key"  # the tag the sensor daemon stores a RunRequest's run_key under
TARGET_TAG = "zoho/event_target"
RECENT_RUNS_LIMIT = 5_000


class DagsterRunLedger:
    """Answers from `instance`'s runs; the recent event ids are read once per tick."""

    def __init__(
        self, instance: dg.DagsterInstance, *, target: str, window: timedelta, now: datetime
    ) -> None:
        self._instance = instance
        self._target = target
        self._since = now - window
        self._covered: set[str] | None = None

    def run_exists(self, run_key: str) -> bool:
        return bool(self._instance.get_runs(filters=dg.RunsFilter(tags={RUN_KEY_TAG: run_key}), limit=1))

    def requested_event_ids(self, event_ids: Collection[str]) -> set[str]:
        if self._covered is None:
            self._covered = self._recent_event_ids()
        return self._covered.intersection(event_ids)

    def _recent_event_ids(self) -> set[str]:
        records = self._instance.get_run_records(
            filters=dg.RunsFilter(tags={TARGET_TAG: self._target}, created_after=self._since),
            limit=RECENT_RUNS_LIMIT,
        )
        covered: set[str] = set()
        for record in records:
            batch = batch_from_run_config(dict(record.dagster_run.run_config or {}))
            if batch is not None:
                covered.update(batch.event_ids)
        return covered
