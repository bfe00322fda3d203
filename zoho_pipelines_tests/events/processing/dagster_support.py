"""Helpers for the tests of the Dagster event definitions (`zoho_pipelines_tests/defs/test_events*`).

`SensorDaemon` plays the sensor daemon's part in-process, for tests and the benchmark. The
daemon evaluates a sensor with its stored cursor, creates a run for each RunRequest unless a run
with the request's run key already exists for that sensor (its `fetch_existing_runs` rule), and
only then stores the tick's cursor. `SensorDaemon` does the same against a real Dagster
instance, with the three steps callable on their own so that tests can "crash" between them.
Runs are either executed in process (`execute_in_process`) or only recorded, as the daemon
records a run before a run launcher starts it; a recorded run can then be moved on (started,
succeeded, failed) through the instance's event log, as a run worker would report it, so that
tests about acknowledgement need no Zoho behind the run.

`private_event_home` gives a test its own home (local queues, DuckDB, lake) and environment.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.events import DagsterEvent, DagsterEventType

from zoho_pipelines.clock import Clock
from zoho_pipelines.defs.events import ClockResource, EventQueuesResource, events_definitions
from zoho_pipelines.defs.resources import default_resources
from zoho_pipelines.events.local_router import LocalRouter
from zoho_pipelines.events.model import ZohoEvent, parse_notification

RUN_KEY_TAG = "dagster/run_key"
SENSOR_NAME_TAG = "dagster/sensor_name"


@dataclass
class SensorDaemon:
    instance: dg.DagsterInstance
    defs: dg.Definitions
    sensor_name: str
    execute: bool = True
    finish_as: dg.DagsterRunStatus | None = None
    """With `execute=False`: report every recorded run finished with this status at once."""
    cursor: str | None = None
    results: list[dg.ExecuteInProcessResult] = field(default_factory=list)
    skipped_run_keys: list[str] = field(default_factory=list)

    def evaluate(self) -> dg.SensorResult:
        """One sensor evaluation with the stored cursor (nothing recorded yet)."""
        sensor = self.defs.resolve_sensor_def(self.sensor_name)
        with dg.build_sensor_context(
            instance=self.instance,
            cursor=self.cursor,
            sensor_name=self.sensor_name,
            resources=dict(self.defs.resources or {}),
        ) as context:
            result = sensor(context)
        assert isinstance(result, dg.SensorResult)
        return result

    def record(self, result: dg.SensorResult) -> list[str]:
        """Create (and maybe execute) a run per request whose run key is new; returns run ids."""
        sensor = self.defs.resolve_sensor_def(self.sensor_name)
        run_ids = []
        for request in result.run_requests or []:
            if request.run_key and self._run_key_taken(request.run_key):
                self.skipped_run_keys.append(request.run_key)
                continue
            job = self.defs.resolve_job_def(request.job_name or sensor.job_name)
            tags = {**request.tags, SENSOR_NAME_TAG: self.sensor_name}
            if request.run_key:
                tags[RUN_KEY_TAG] = request.run_key
            if self.execute:
                outcome = job.execute_in_process(
                    run_config=request.run_config, tags=tags, instance=self.instance, raise_on_error=False
                )
                self.results.append(outcome)
                run_ids.append(outcome.run_id)
            else:
                run = self.instance.create_run_for_job(job, run_config=request.run_config, tags=tags)
                run_ids.append(run.run_id)
                if self.finish_as is not None:
                    self.finish(run.run_id, self.finish_as)
        return run_ids

    def finish(self, run_id: str, status: dg.DagsterRunStatus) -> None:
        """Move a recorded run to `status` (STARTED, SUCCESS, FAILURE) as its worker would."""
        run = self.instance.get_run_by_id(run_id)
        assert run is not None
        kinds = {
            dg.DagsterRunStatus.STARTED: [DagsterEventType.RUN_START],
            dg.DagsterRunStatus.SUCCESS: [DagsterEventType.RUN_START, DagsterEventType.RUN_SUCCESS],
            dg.DagsterRunStatus.FAILURE: [DagsterEventType.RUN_START, DagsterEventType.RUN_FAILURE],
        }[status]
        if run.status == dg.DagsterRunStatus.STARTED:
            kinds = kinds[1:]
        for kind in kinds:
            self.instance.report_dagster_event(
                DagsterEvent(event_type_value=kind.value, job_name=run.job_name), run_id=run_id
            )

    def finish_all(self, status: dg.DagsterRunStatus) -> None:
        """Finish every run of the sensor that has not finished yet."""
        for run in self.runs():
            if not run.is_finished:
                self.finish(run.run_id, status)

    def commit(self, result: dg.SensorResult) -> None:
        self.cursor = result.cursor

    def tick(self) -> dg.SensorResult:
        """A whole, uneventful daemon iteration: evaluate, record the runs, store the cursor."""
        result = self.evaluate()
        self.record(result)
        self.commit(result)
        return result

    def tick_until(self, condition: Callable[[], bool], *, timeout_s: float = 20.0) -> int:
        """Tick until `condition()` holds; returns the number of ticks. Fails at the deadline."""
        deadline = time.monotonic() + timeout_s
        ticks = 0
        while not condition():
            assert time.monotonic() < deadline, f"{self.sensor_name}: condition not met in {timeout_s} s"
            self.tick()
            ticks += 1
        return ticks

    def runs(self) -> list[dg.DagsterRun]:
        return list(self.instance.get_runs(filters=dg.RunsFilter(tags={SENSOR_NAME_TAG: self.sensor_name})))

    def _run_key_taken(self, run_key: str) -> bool:
        runs = self.instance.get_runs(filters=dg.RunsFilter(tags={RUN_KEY_TAG: run_key}))
        return any(run.tags.get(SENSOR_NAME_TAG) == self.sensor_name for run in runs)


_BASE_MS = int(datetime(2026, 11, 20, tzinfo=UTC).timestamp() * 1000)
RECEIVED_AT = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
"""When the test events reached the ingress: after every time they carry, on any calendar date."""


def notification_events(
    module: str,
    operation: str,
    ids: list[str],
    *,
    channel_id: str = "1000000068001",
    at_ms: int | None = None,
    received_at: datetime = RECEIVED_AT,
) -> list[ZohoEvent]:
    """The events the ingress makes of one Notification API delivery."""
    payload = {
        "server_time": _BASE_MS if at_ms is None else at_ms,
        "query_params": {},
        "module": module,
        "resource_uri": f"https://www.zohoapis.com/crm/v8/{module}",
        "ids": ids,
        "affected_fields": [],
        "operation": operation,
        "channel_id": channel_id,
        "token": "irrelevant-here",
    }
    return parse_notification(payload, received_at=received_at)


def many_events(
    modules: tuple[str, ...], operations: tuple[str, ...], per_group: int, *, first_id: int = 10**15
) -> list[ZohoEvent]:
    """`per_group` one-record notifications per module and operation, each at its own time."""
    events = []
    for module in modules:
        for operation in operations:
            for number in range(per_group):
                record_id = str(first_id + number)
                at_ms = _BASE_MS + len(events) * 1000
                events.extend(notification_events(module, operation, [record_id], at_ms=at_ms))
    return events


ENVIRONMENT = (
    "EVENTS_QUEUE_URL",
    "LEAD_QUALIFICATION_QUEUE_URL",
    "WAREHOUSE_URL",
    "LAKE_URL",
    "ZOHO_MODULES",
    "BEDROCK_MODEL_ID",
    "ZOHO_WATCH_CHANNEL_ID",
    "ZOHO_WATCH_NOTIFY_URL",
    "ZOHO_CHANNEL_TOKENS",
    "ZOHO_WATCH_EVENTS",
    "ZOHO_LEAD_SCORE_FIELD",
    "ZOHO_LEAD_SCORE_REASON_FIELD",
)


@dataclass
class EventHome:
    root: Path
    router: LocalRouter

    @property
    def queue_dir(self) -> Path:
        return self.root / "queue"

    @property
    def warehouse_url(self) -> str:
        return f"duckdb:///{self.root / 'warehouse.duckdb'}"

    def definitions(self, *, clock: Clock | None = None, **queue_options: object) -> dg.Definitions:
        """The event definitions on this home's queues; on `clock` when given (e.g. the
        sandbox's, wherever the runs must agree with Zoho on the time), else the machine's."""
        queues = EventQueuesResource(local_dir=str(self.queue_dir), **queue_options)
        resources: dict[str, object] = {**default_resources(), "event_queues": queues}
        if clock is not None:
            resources["event_clock"] = ClockResource.using(clock)
        return events_definitions(resources)


@contextmanager
def private_event_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[EventHome]:
    """Everything local and private to the test; no variable from the caller's shell leaks in."""
    for name in ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ZOHO_PIPELINES_HOME", str(tmp_path))
    monkeypatch.setenv("WAREHOUSE_URL", f"duckdb:///{tmp_path / 'warehouse.duckdb'}")
    monkeypatch.setenv("LAKE_URL", (tmp_path / "lake").as_uri())
    router = LocalRouter(tmp_path / "queue", synchronous="OFF")
    try:
        yield EventHome(tmp_path, router)
    finally:
        router.close()
