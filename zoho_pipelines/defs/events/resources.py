"""Resources of the event definitions: the queues the sensors drain, the lead scorer, the clock.

Like the shared resources, they read the environment when used, not when the code location
loads; explicit config wins (tests, the launchpad).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
from pydantic import Field

from zoho_pipelines.clock import SYSTEM_CLOCK, Clock
from zoho_pipelines.events.processing.bedrock import BedrockLeadScorer
from zoho_pipelines.events.processing.config import load_event_settings
from zoho_pipelines.events.processing.scoring import LeadScorer, RuleBasedLeadScorer
from zoho_pipelines.events.queues import EventQueue, open_event_queue
from zoho_pipelines.events.routing import Target
from zoho_pipelines.settings import ConfigurationError, load_settings


class EventQueuesResource(dg.ConfigurableResource):
    """The event queues: SQS where EVENTS_QUEUE_URL / LEAD_QUALIFICATION_QUEUE_URL name one, else
    the local durable queues the local ingress fills (`<ZOHO_PIPELINES_HOME>/queue`)."""

    local_dir: str | None = Field(None, description="Folder of the local queues (default from settings).")
    refresh_queue_url: str | None = Field(None, description="Overrides EVENTS_QUEUE_URL.")
    lead_qualification_queue_url: str | None = Field(
        None, description="Overrides LEAD_QUALIFICATION_QUEUE_URL."
    )
    max_messages_per_tick: int = Field(500, ge=1, le=5_000, description="Messages one sensor tick takes.")
    visibility_timeout_s: float = Field(
        300.0,
        gt=0,
        description="How long received messages stay hidden; must exceed the time from one tick to the next.",
    )
    retry_delay_s: float = Field(
        60.0,
        ge=0,
        description="Seconds the events of a failed run stay hidden before they are retried.",
    )
    max_records_per_run: int = Field(1_000, ge=1, description="Record ids one event run handles at most.")
    dedup_window_s: float = Field(
        3_600.0, gt=0, description="How far back recorded runs are searched for an event's id."
    )

    @contextmanager
    def open(self, target: Target) -> Iterator[EventQueue]:
        settings = load_settings()
        urls = {
            Target.REFRESH: self.refresh_queue_url or settings.events_queue_url,
            Target.LEAD_QUALIFICATION: (
                self.lead_qualification_queue_url or load_event_settings().lead_qualification_queue_url
            ),
        }
        if target not in urls:
            raise ValueError(f"no event queue for target {target.value}")
        if urls[target] is None and any(url for url in urls.values()):
            # One queue on SQS and this one local means a deployment that forgot a variable: the
            # local queue would look empty forever, so fail the tick where an operator sees it.
            raise ConfigurationError(
                f"the {target.value} queue has no URL while another event queue is on SQS: set "
                + ("EVENTS_QUEUE_URL" if target is Target.REFRESH else "LEAD_QUALIFICATION_QUEUE_URL")
            )
        local_dir = Path(self.local_dir) if self.local_dir else settings.local_queue_dir
        queue = open_event_queue(urls[target], local_dir=local_dir, name=target.value)
        try:
            yield queue
        finally:
            queue.close()


class LeadScorerResource(dg.ConfigurableResource):
    """Rule-based scoring unless a Bedrock model is configured (BEDROCK_MODEL_ID or config)."""

    bedrock_model_id: str | None = Field(None, description="Overrides BEDROCK_MODEL_ID.")

    def scorer(self) -> LeadScorer:
        model_id = self.bedrock_model_id or load_event_settings().bedrock_model_id
        return BedrockLeadScorer(model_id) if model_id else RuleBasedLeadScorer()


class ClockResource(dg.ConfigurableResource):
    """What "now" is for the event sensors and jobs: the machine's clock.

    Everything that asks the time (cursor timestamps, the dedup window, synced_at, channel
    expiries) asks this, so a test can run the event definitions on the sandbox's clock. Its
    `using` makes such a resource; Dagster rebuilds resources from their class, which keeps it.
    """

    def clock(self) -> Clock:
        return SYSTEM_CLOCK

    @classmethod
    def using(cls, clock: Clock) -> ClockResource:
        """A resource whose `clock()` is `clock` (in-process use: tests, benchmarks)."""

        class PinnedClockResource(cls):  # type: ignore[valid-type,misc]
            def clock(self) -> Clock:
                return clock

        return PinnedClockResource()
