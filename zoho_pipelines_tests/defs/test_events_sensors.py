"""The queue sensors against real local queues and a real Dagster instance: batching, acknowledging
only after the runs succeeded, retries of failed runs under new run keys, dead letters after the
max receive count, crashes between receive and delete, redeliveries, bare webhooks, poison."""

from __future__ import annotations

import json
from datetime import timedelta

import dagster as dg
import pytest

from zoho_pipelines.defs.events.jobs import batch_from_run_config
from zoho_pipelines.events.local_queue import LocalQueue
from zoho_pipelines.events.model import parse_webhook
from zoho_pipelines.events.queues import DEFAULT_MAX_RECEIVE_COUNT
from zoho_pipelines.events.routing import Target
from zoho_pipelines_tests.events.processing.dagster_support import (
    RECEIVED_AT,
    EventHome,
    SensorDaemon,
    many_events,
    notification_events,
)

REFRESH = "refresh_events_sensor"
SUCCESS, FAILURE = dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE


def refresh_queue(home: EventHome) -> LocalQueue:
    return home.router.queue(Target.REFRESH)


def covered_event_ids(daemon: SensorDaemon) -> list[str]:
    """Every event id of every recorded run of the sensor, repeats included."""
    ids = []
    for run in daemon.runs():
        batch = batch_from_run_config(dict(run.run_config))
        assert batch is not None
        ids.extend(batch.event_ids)
    return ids


def test_a_thousand_events_become_one_run_per_module_and_operation(
    event_home: EventHome, instance: dg.DagsterInstance
) -> None:
    events = many_events(("Leads", "Contacts", "Deals"), ("update", "delete"), per_group=170)
    event_home.router.publish(events)
    daemon = SensorDaemon(
        instance, event_home.definitions(max_messages_per_tick=2_000), REFRESH, execute=False
    )

    result = daemon.tick()

    requests = result.run_requests or []
    assert len(requests) == 6
    assert sorted((r.tags["zoho/module"], r.tags["zoho/operation"]) for r in requests) == sorted(
        (module, operation) for module in ("leads", "contacts", "deals") for operation in ("update", "delete")
    )
    assert all(r.tags["zoho/app"] == "crm" and r.tags["zoho/events"] == "170" for r in requests)
    assert len({r.run_key for r in requests}) == 6
    assert sorted(covered_event_ids(daemon)) == sorted(event.event_id for event in events)
    assert refresh_queue(event_home).depth() == len(events)  # nothing deleted before the runs succeed

    assert not daemon.tick().run_requests  # the runs are recorded, but have not run
    assert refresh_queue(event_home).depth() == len(events)

    daemon.finish_all(SUCCESS)
    daemon.tick()

    assert refresh_queue(event_home).depth() == 0


def test_messages_are_deleted_only_once_their_run_succeeded(
    event_home: EventHome, instance: dg.DagsterInstance
) -> None:
    event_home.router.publish(notification_events("Leads", "update", ["1", "2", "3"]))
    daemon = SensorDaemon(instance, event_home.definitions(), REFRESH, execute=False)

    first = daemon.evaluate()
    daemon.commit(first)  # the cursor moved on, but the daemon has not created the run (yet)
    waiting = daemon.evaluate()
    daemon.commit(waiting)

    assert not waiting.run_requests
    assert refresh_queue(event_home).depth() == 1
    assert json.loads(waiting.cursor)["pending"][0]["run_key"] == first.run_requests[0].run_key

    (run_id,) = daemon.record(first)  # the run exists from here on, queued
    daemon.tick()
    daemon.finish(run_id, dg.DagsterRunStatus.STARTED)
    daemon.tick()
    assert refresh_queue(event_home).depth() == 1  # recorded and running is not applied

    daemon.finish(run_id, SUCCESS)
    daemon.tick()

    assert refresh_queue(event_home).depth() == 0
    assert len(daemon.runs()) == 1


def test_a_failed_run_shows_its_events_again_and_the_retry_runs_under_a_new_key(
    event_home: EventHome, instance: dg.DagsterInstance
) -> None:
    events = notification_events("Deals", "update", ["41", "42"])
    event_home.router.publish(events)
    daemon = SensorDaemon(instance, event_home.definitions(retry_delay_s=0), REFRESH, execute=False)

    (first,) = daemon.tick().run_requests
    daemon.finish_all(FAILURE)
    # The failed run's events are shown again at once, not deleted, and taken by the same tick.
    (retry,) = daemon.tick().run_requests
    assert refresh_queue(event_home).depth() == 1

    assert retry.run_key != first.run_key
    assert (first.run_key.rsplit(":", 1)[1], retry.run_key.rsplit(":", 1)[1]) == ("1", "2")
    assert batch_from_run_config(retry.run_config).event_ids == (events[0].event_id,)
    assert daemon.skipped_run_keys == []  # Dagster never reruns a used key: the retry needed its own
    daemon.finish_all(SUCCESS)
    daemon.tick()
    assert refresh_queue(event_home).depth() == 0
    assert [run.status for run in reversed(daemon.runs())] == [FAILURE, SUCCESS]


def test_events_whose_runs_keep_failing_reach_the_dead_letters_after_the_max_receive_count(
    event_home: EventHome, instance: dg.DagsterInstance
) -> None:
    event_home.router.publish(notification_events("Deals", "update", ["51"]))
    defs = event_home.definitions(retry_delay_s=0)
    daemon = SensorDaemon(instance, defs, REFRESH, execute=False, finish_as=FAILURE)
    alerts = SensorDaemon(instance, defs, "event_dead_letters_sensor")

    daemon.tick_until(lambda: refresh_queue(event_home).dlq_depth() == 1)
    alerts.tick()

    assert refresh_queue(event_home).depth() == 0
    attempts = sorted(run.tags["dagster/run_key"].rsplit(":", 1)[1] for run in daemon.runs())
    assert attempts == [str(n) for n in range(1, DEFAULT_MAX_RECEIVE_COUNT + 1)]
    (letter,) = refresh_queue(event_home).dead_letters()
    assert f"received {DEFAULT_MAX_RECEIVE_COUNT} times" in letter.reason
    (alert,) = alerts.results
    assert not alert.success  # the operator hears of it


def test_a_crash_after_receiving_loses_nothing_and_redelivery_reuses_the_run_keys(
    event_home: EventHome, instance: dg.DagsterInstance
) -> None:
    events = many_events(("Leads", "Accounts"), ("update",), per_group=20)
    event_home.router.publish(events)
    daemon = SensorDaemon(
        instance,
        event_home.definitions(visibility_timeout_s=0.5),
        REFRESH,
        execute=False,
        finish_as=SUCCESS,
    )

    crashed = daemon.evaluate()  # received, then the process died: no run, no cursor, no deletes

    daemon.tick_until(lambda: refresh_queue(event_home).depth() == 0)

    # Same events, same batches; only the attempt (the receive count) moved on.
    assert sorted(run.tags["dagster/run_key"].rsplit(":", 1)[0] for run in daemon.runs()) == sorted(
        request.run_key.rsplit(":", 1)[0] for request in crashed.run_requests
    )
    assert sorted(covered_event_ids(daemon)) == sorted(event.event_id for event in events)


def test_a_crash_between_recording_the_runs_and_deleting_processes_nothing_twice(
    event_home: EventHome, instance: dg.DagsterInstance
) -> None:
    first_events = many_events(("Leads",), ("update",), per_group=30)
    event_home.router.publish(first_events)
    daemon = SensorDaemon(
        instance,
        event_home.definitions(visibility_timeout_s=0.5),
        REFRESH,
        execute=False,
        finish_as=SUCCESS,
    )
    daemon.record(daemon.evaluate())  # runs recorded, then the daemon died before the cursor was saved
    later_events = many_events(("Leads",), ("update",), per_group=5, first_id=2 * 10**15)
    event_home.router.publish(later_events)  # redeliveries will arrive mixed with these

    daemon.tick_until(lambda: refresh_queue(event_home).depth() == 0)

    covered = covered_event_ids(daemon)
    assert len(covered) == len(set(covered)), "an event went into two runs"
    assert sorted(covered) == sorted(event.event_id for event in first_events + later_events)
    assert len(daemon.runs()) == 2


def test_a_redelivered_event_in_a_later_tick_is_acknowledged_without_a_run(
    event_home: EventHome, instance: dg.DagsterInstance
) -> None:
    events = notification_events("Deals", "update", ["11", "12"])
    event_home.router.publish(events)
    daemon = SensorDaemon(instance, event_home.definitions(), REFRESH, execute=False, finish_as=SUCCESS)
    daemon.tick()
    daemon.tick()
    assert refresh_queue(event_home).depth() == 0

    later = RECEIVED_AT + timedelta(minutes=2)
    event_home.router.publish(notification_events("Deals", "update", ["11", "12"], received_at=later))
    again = daemon.tick()  # Zoho retried: the same change, already applied

    assert not again.run_requests
    assert refresh_queue(event_home).depth() == 0
    assert len(daemon.runs()) == 1


def bare_webhook(deal_id: str, received_minutes: int) -> list:
    """A workflow webhook with no time: every change of the deal gets the same event id."""
    fields = {"module": "Deals", "operation": "update", "id": deal_id}
    return parse_webhook(fields, received_at=RECEIVED_AT + timedelta(minutes=received_minutes))


def test_a_bare_webhook_repeated_after_its_run_started_is_refreshed_again(
    event_home: EventHome, instance: dg.DagsterInstance
) -> None:
    daemon = SensorDaemon(instance, event_home.definitions(), REFRESH, execute=False)
    event_home.router.publish(bare_webhook("61", 0))
    (first,) = daemon.tick().run_requests
    daemon.finish_all(SUCCESS)
    daemon.tick()
    assert refresh_queue(event_home).depth() == 0

    event_home.router.publish(bare_webhook("61", 5))  # the deal changed again: same id, new change
    (again,) = daemon.tick().run_requests
    assert (
        batch_from_run_config(again.run_config).event_ids == batch_from_run_config(first.run_config).event_ids
    )
    assert again.run_key != first.run_key

    (run_id,) = [run.run_id for run in daemon.runs() if run.tags["dagster/run_key"] == again.run_key]
    daemon.finish(run_id, dg.DagsterRunStatus.STARTED)
    event_home.router.publish(bare_webhook("61", 6))  # and again, while that run may have read Zoho
    (third,) = daemon.tick().run_requests
    assert third.run_key not in {first.run_key, again.run_key}
    daemon.finish_all(SUCCESS)
    daemon.tick()
    assert refresh_queue(event_home).depth() == 0


def test_a_bare_webhook_repeated_before_its_run_started_joins_that_run(
    event_home: EventHome, instance: dg.DagsterInstance
) -> None:
    daemon = SensorDaemon(instance, event_home.definitions(), REFRESH, execute=False)
    event_home.router.publish(bare_webhook("71", 0))
    daemon.tick()  # recorded, queued: it will read the deal after both changes
    event_home.router.publish(bare_webhook("71", 3))

    assert not daemon.tick().run_requests
    assert refresh_queue(event_home).depth() == 2
    daemon.finish_all(SUCCESS)
    daemon.tick()
    assert refresh_queue(event_home).depth() == 0  # both deliveries acknowledged by the one run
    assert len(daemon.runs()) == 1


def test_poison_messages_go_to_the_dead_letter_store_with_a_reason(
    event_home: EventHome, instance: dg.DagsterInstance
) -> None:
    queue = refresh_queue(event_home)
    good = notification_events("Leads", "update", ["21"])
    event_home.router.publish(good)
    queue.send("this is not JSON")
    queue.send(json.dumps({"detail-type": "Zoho Record Change", "source": "zoho.crm", "detail": {"v": 2}}))
    queue.send(json.dumps({**good[0].to_dict(), "event_id": "not-a-sha256"}))
    daemon = SensorDaemon(instance, event_home.definitions(), REFRESH, execute=False, finish_as=SUCCESS)

    result = daemon.tick()
    daemon.tick()

    batches = [batch_from_run_config(request.run_config) for request in result.run_requests]
    assert [batch.event_ids for batch in batches if batch] == [(good[0].event_id,)]
    reasons = [letter.reason for letter in queue.dead_letters()]
    assert reasons == [
        "malformed event: body is not valid UTF-8 JSON",
        "malformed event: schema_version must be 1",
        "malformed event: event_id must be 64 lower-case hex digits",
    ]
    assert queue.depth() == 0


def test_events_the_target_does_not_handle_are_acknowledged_and_not_run(
    event_home: EventHome, instance: dg.DagsterInstance
) -> None:
    books = parse_webhook(
        {"app": "books", "module": "invoices", "operation": "update", "id": "9"}, received_at=RECEIVED_AT
    )
    event_home.router.publish(books + notification_events("Vendors", "update", ["31"]))
    daemon = SensorDaemon(instance, event_home.definitions(), REFRESH, execute=False)

    result = daemon.tick()

    assert not result.run_requests
    assert refresh_queue(event_home).depth() == 0


@pytest.mark.parametrize("grown_by", [1, 3])
def test_a_growing_dead_letter_queue_raises_one_failing_alert_run(
    event_home: EventHome, instance: dg.DagsterInstance, grown_by: int
) -> None:
    queue = refresh_queue(event_home)
    daemon = SensorDaemon(instance, event_home.definitions(), "event_dead_letters_sensor")
    assert not daemon.tick().run_requests

    for number in range(grown_by):
        queue.send(f"poison {number}")
    for message in queue.receive(max_messages=grown_by):
        queue.dead_letter(message, f"malformed event: test poison {message.body}")
    alert = daemon.tick()
    quiet = daemon.tick()

    assert len(alert.run_requests) == 1
    assert not quiet.run_requests
    (outcome,) = daemon.results
    assert not outcome.success
    failure = next(event for event in outcome.all_events if event.is_step_failure)
    error = failure.step_failure_data.user_failure_data
    assert error.description.startswith(f"{grown_by} new dead letter(s) in the refresh queue")
    assert error.metadata["depth"].value == grown_by
    assert len(error.metadata["sample_reasons"].value) == grown_by
