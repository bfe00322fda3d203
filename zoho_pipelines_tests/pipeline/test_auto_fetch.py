"""`CrmClient.iter_modified_auto`, the batch pipeline's default CRM read: probe, then page or fan out.

Whatever the probe concludes, the window's records must arrive exactly once; and the probe's
promise (a quiet window costs one call) must hold, since every call is a credit.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from zoho_pipelines.sandbox.server import RunningSandbox
from zoho_pipelines.zoho import ZohoClient
from zoho_pipelines_tests.pipeline.support import client_for

FIELDS = ["Deal_Name", "Stage", "Modified_Time"]


def read(client: ZohoClient, start: datetime, end: datetime) -> tuple[list[str], int]:
    """(ids in arrival order, API calls spent) of one auto read of Deals."""
    before = client.stats.calls
    ids = [
        str(record["id"])
        for batch in client.crm.iter_modified_auto("Deals", FIELDS, start, end)
        for record in batch
    ]
    return ids, client.stats.calls - before


def truth(sandbox: RunningSandbox, start: datetime, end: datetime) -> list[str]:
    assert sandbox.state is not None
    return sorted(str(record_id) for record_id in sandbox.state.crm.modified_ids("Deals", start, end))


def modified_time(sandbox: RunningSandbox, record_id: int) -> datetime:
    assert sandbox.state is not None
    return datetime.fromisoformat(sandbox.state.crm.record("Deals", record_id)["Modified_Time"]).astimezone(
        UTC
    )


def test_a_window_opening_on_a_records_own_second_is_read(sandbox: RunningSandbox) -> None:
    """The probe's records span zero seconds: no density estimate (this used to raise ValueError)."""
    anchor = sandbox.config.anchor
    assert anchor is not None
    assert sandbox.state is not None
    first_id = sandbox.state.crm.modified_ids("Deals", anchor - timedelta(days=2), anchor)[0]
    start = modified_time(sandbox, first_id)
    with client_for(sandbox) as client:
        for end in (start + timedelta(seconds=1), start + timedelta(hours=6)):
            ids, calls = read(client, start, end)
            assert sorted(ids) == truth(sandbox, start, end)
            assert first_id in map(int, ids)
            assert calls == 1


def test_a_quiet_window_costs_one_call_even_when_its_records_bunch_up_early(sandbox: RunningSandbox) -> None:
    """A short first page is the whole window: no sub-windows are read after it."""
    anchor = sandbox.config.anchor
    assert anchor is not None
    start, end = anchor - timedelta(hours=3), anchor + timedelta(days=30)
    expected = truth(sandbox, start, end)
    assert 0 < len(expected) < 200
    with client_for(sandbox) as client:
        ids, calls = read(client, start, end)
    assert sorted(ids) == expected
    assert calls == 1


def test_a_busy_window_fans_out_and_still_delivers_each_record_once(sandbox_factory) -> None:
    sandbox = sandbox_factory(records_per_module=10_000, history_days=1)
    anchor = sandbox.config.anchor
    assert anchor is not None
    start, end = anchor - timedelta(days=1), anchor + timedelta(seconds=1)
    expected = truth(sandbox, start, end)
    with client_for(sandbox) as client:
        ids, calls = read(client, start, end)
    assert len(ids) == len(set(ids))
    assert sorted(ids) == expected
    sequential_pages = -(-len(expected) // 200)
    # Fanned out into COQL sub-windows (2,000 rows a call): far fewer calls than paging 200 at a time.
    assert calls < sequential_pages / 2


def test_a_day_opening_with_a_mass_update_at_midnight_fans_out_and_reads_each_record_once(
    sandbox_factory,
) -> None:
    """Issue 10: the realistic day's first page (200 records) all share 00:00:00 UTC, which gave
    the old probe no time spread to measure, so it read the whole day one page at a time."""
    midnight = datetime(2026, 11, 27, tzinfo=UTC)
    sandbox = sandbox_factory(
        records_per_module=20_000, history_days=1, anchor=midnight, time_shape="realistic"
    )
    start, end = midnight - timedelta(days=1), midnight
    expected = truth(sandbox, start, end)
    at_midnight = [key for key in expected if modified_time(sandbox, int(key)) == start]
    assert len(at_midnight) > 200, "the day must open with more than a page on one second"
    with client_for(sandbox) as client:
        limiter = client.crm.transport.limiter
        limiter.peak_in_flight = 0
        ids, calls = read(client, start, end)
        credits = client.stats.credits
    assert len(ids) == len(set(ids))
    assert sorted(ids) == expected
    assert limiter.peak_in_flight > 1
    assert calls < len(expected) / 200 / 3
    assert 200 * credits / len(ids) < 0.5
