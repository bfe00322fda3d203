"""The remaining API credits Zoho reports become an embedded-metric-format line, over real HTTP to
the sandbox (which sends X-API-CREDITS-REMAINING past half its budget, as Zoho does)."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from zoho_pipelines.clock import ManualClock
from zoho_pipelines.sandbox.server import RunningSandbox
from zoho_pipelines.settings import Settings, load_settings
from zoho_pipelines.zoho.client import ZohoClient
from zoho_pipelines.zoho.credit_metric import (
    CREDITS_REMAINING_METRIC,
    METRIC_NAMESPACE,
    PUBLISH_INTERVAL,
    CreditsGauge,
)

START = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
BUDGET = 10  # the sandbox's credits per rolling 24 hours; the header appears past 5 spent


@pytest.fixture
def settings(sandbox_factory: Callable[..., RunningSandbox], tmp_path: Path) -> Settings:
    sandbox = sandbox_factory(records_per_module=100, credit_budget=BUDGET)
    return load_settings(**sandbox.env(), ZOHO_PIPELINES_HOME=str(tmp_path), ZOHO_TOKEN_CACHE_DIR="")


def remaining_in(document: str) -> int:
    """The metric value, after checking the document is what CloudWatch extracts a metric from."""
    parsed: dict[str, Any] = json.loads(document)
    (directive,) = parsed["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == METRIC_NAMESPACE
    assert directive["Metrics"] == [{"Name": CREDITS_REMAINING_METRIC, "Unit": "Count"}]
    assert directive["Dimensions"] == [[]]
    assert isinstance(parsed["_aws"]["Timestamp"], int)
    return int(parsed[CREDITS_REMAINING_METRIC])


def test_remaining_credits_are_published_once_reported_then_once_a_minute(settings: Settings) -> None:
    clock = ManualClock(START)
    lines: list[str] = []
    gauge = CreditsGauge(lines.append, clock=clock)
    with ZohoClient.from_settings(settings, credits_gauge=gauge) as client:
        for _ in range(5):  # half the budget: Zoho says nothing yet
            client.crm.modules()
        assert (lines, client.stats.credits_remaining) == ([], None)
        client.crm.modules()
        client.crm.modules()  # within the minute: recorded, not published
        assert [remaining_in(line) for line in lines] == [4]
        assert client.stats.credits_remaining == 3
        clock.advance(PUBLISH_INTERVAL)
        client.crm.modules()
    assert [remaining_in(line) for line in lines] == [4, 2]
    assert json.loads(lines[1])["_aws"]["Timestamp"] == int((START + PUBLISH_INTERVAL).timestamp() * 1000)
    assert client.stats.snapshot()["credits_remaining"] == 2


def test_a_client_from_settings_writes_the_metric_as_a_line_of_its_own_on_stdout(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """The production default: the whole log event is the document (Lambda and awslogs forward
    each stdout line as one event, and CloudWatch extracts only a pure JSON event)."""
    with ZohoClient.from_settings(settings) as client:
        for _ in range(6):
            client.crm.modules()
    documents = [line for line in capsys.readouterr().out.splitlines() if CREDITS_REMAINING_METRIC in line]
    assert [remaining_in(line) for line in documents] == [4]


def test_the_gauge_publishes_again_only_after_the_interval() -> None:
    clock = ManualClock(START)
    lines: list[str] = []
    gauge = CreditsGauge(lines.append, clock=clock, interval=timedelta(seconds=30))
    gauge.observe(900)
    clock.advance(timedelta(seconds=29))
    gauge.observe(800)
    clock.advance(timedelta(seconds=1))
    gauge.observe(700)
    assert [remaining_in(line) for line in lines] == [900, 700]


def test_a_terminal_gets_no_metric_documents(tmp_path: Path) -> None:
    """The CLI and the demo run at a terminal, where raw EMF lines are noise; Lambda and awslogs
    never give the process one, so deployed processes still publish."""
    script = (
        "from datetime import UTC, datetime\n"
        "from zoho_pipelines.clock import ManualClock\n"
        "from zoho_pipelines.zoho.credit_metric import CreditsGauge\n"
        "CreditsGauge(clock=ManualClock(datetime(2026, 1, 1, tzinfo=UTC))).observe(7)\n"
        "print('done')\n"
    )
    controller, terminal = pty.openpty()
    with subprocess.Popen([sys.executable, "-c", script], stdout=terminal, stderr=subprocess.PIPE) as child:
        os.close(terminal)
        output = b""
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            output += chunk
        assert child.wait(timeout=60) == 0, child.stderr.read() if child.stderr else ""
    os.close(controller)
    assert output.decode().split() == ["done"]
    piped = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert CREDITS_REMAINING_METRIC in piped.stdout, "not a terminal: the document is written"
