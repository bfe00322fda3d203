"""The credits gauge keeps publishing when the clock steps back (NTP, a VM resumed, a moved clock)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from zoho_pipelines.clock import ManualClock
from zoho_pipelines.zoho.credit_metric import CREDITS_REMAINING_METRIC, CreditsGauge


def test_a_clock_stepped_back_does_not_silence_the_gauge() -> None:
    clock = ManualClock(datetime(2031, 3, 1, 12, 0, tzinfo=UTC))
    lines: list[str] = []
    gauge = CreditsGauge(lines.append, clock=clock)
    gauge.observe(40_000)
    clock.set(datetime(2031, 2, 28, 12, 0, tzinfo=UTC))  # a day back
    gauge.observe(900)
    clock.advance(timedelta(minutes=5))
    gauge.observe(800)
    assert [json.loads(line)[CREDITS_REMAINING_METRIC] for line in lines] == [40_000, 900, 800]
