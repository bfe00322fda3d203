"""Zoho's remaining API credits as a CloudWatch metric: one embedded-metric-format line on stdout.

Zoho CRM meters API credits per org over a rolling 24 hours and, once half of them are used (add-on
credits excluded), answers every call with `X-API-CREDITS-REMAINING`
(https://www.zoho.com/crm/developer/docs/api/v8/api-limits.html). The transport records the latest
value (`ApiStats`); `CreditsGauge` writes it as an embedded metric format (EMF) document, which
CloudWatch Logs turns into the metric `ZohoPipelines/ZohoCreditsRemaining` in any log group: Lambda
forwards stdout, and the ECS awslogs driver's PutLogEvents needs no special header
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html,
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Generation_PutLogEvents.html).
So publishing needs no IAM permission, no agent and no API call on the request path. The
`aws-embedded-metrics` library is not used: on ECS it sends to a CloudWatch agent sidecar, which
these tasks do not run.

No header means less than half of the credits are used, so no line is written then: the alarm
(cdk/zoho_infra/observability.py) treats missing data as healthy.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from zoho_pipelines.clock import SYSTEM_CLOCK, Clock

METRIC_NAMESPACE = "ZohoPipelines"
CREDITS_REMAINING_METRIC = "ZohoCreditsRemaining"
# One point a minute is enough for an alarm on 5-minute minimums, and keeps a busy run's log small.
PUBLISH_INTERVAL = timedelta(minutes=1)


def credits_document(remaining: int, at: datetime) -> str:
    """The EMF document (one line) carrying `remaining` at `at`, without dimensions: every process
    that calls Zoho feeds the same metric, whatever its log group."""
    return json.dumps(
        {
            "_aws": {
                "Timestamp": int(at.timestamp() * 1000),
                "CloudWatchMetrics": [
                    {
                        "Namespace": METRIC_NAMESPACE,
                        "Dimensions": [[]],
                        "Metrics": [{"Name": CREDITS_REMAINING_METRIC, "Unit": "Count"}],
                    }
                ],
            },
            CREDITS_REMAINING_METRIC: remaining,
        },
        separators=(",", ":"),
    )


def _print_line(line: str) -> None:
    # A person at a terminal (the CLI, the demo) has no use for raw metric documents; Lambda and the
    # ECS awslogs driver never give the process a terminal, so deployed processes always publish.
    if sys.stdout.isatty():
        return
    # A log event must be the JSON document alone: no logging prefix, one line.
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class CreditsGauge:
    """Publishes the remaining credits it observes: the first value at once, then at most one per
    `interval`. Thread-safe; one per client (every transport thread observes into it)."""

    def __init__(
        self,
        write: Callable[[str], None] = _print_line,
        *,
        clock: Clock = SYSTEM_CLOCK,
        interval: timedelta = PUBLISH_INTERVAL,
    ) -> None:
        self._write = write
        self._clock = clock
        self._interval = interval
        self._lock = threading.Lock()
        self._published_at: datetime | None = None

    def observe(self, remaining: int) -> None:
        now = self._clock.now()
        with self._lock:
            # A clock stepped back restarts the interval rather than silencing the gauge until it
            # catches up: the alarm reads no data as healthy.
            if self._published_at is not None and timedelta(0) <= now - self._published_at < self._interval:
                return
            self._published_at = now
        self._write(credits_document(remaining, now))
