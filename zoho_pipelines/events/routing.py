"""Where each kind of Zoho event goes: the one definition of the event routes.

Each route is data: a name, an EventBridge event pattern, and a logical target. The CDK app turns
every route into an EventBridge rule on the bus (the target name picks the queue or state
machine); the local router evaluates the same patterns with `patterns.matches` and sends to local
queues named after the targets. Changing a route here changes both.

Patterns match the EventBridge envelope: `source` is "zoho.<app>", `detail-type` is
`model.DETAIL_TYPE`, `detail` is `ZohoEvent.to_dict()`. The Closed Won route matches
`detail.stage`, which only workflow webhooks can carry (see the model's docstring): configure a
Deals workflow rule "Stage is Closed Won" with a webhook that sends `stage` (or `record`).
Standard library only.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC
from enum import StrEnum
from typing import Any

from zoho_pipelines.events.model import DETAIL_TYPE, SOURCE_PREFIX, ZohoEvent
from zoho_pipelines.events.patterns import matches, validate_pattern

CLOSED_WON_STAGE = "Closed Won"


class TargetKind(StrEnum):
    QUEUE = "queue"
    STATE_MACHINE = "state_machine"


class Target(StrEnum):
    """Logical targets; deployments map them to an SQS queue or a state machine."""

    REFRESH = "refresh"
    LEAD_QUALIFICATION = "lead-qualification"
    ONBOARDING = "onboarding"


@dataclass(frozen=True, slots=True)
class Route:
    name: str
    description: str
    event_pattern: Mapping[str, Any]
    target: Target
    target_kind: TargetKind

    def pattern_json(self) -> str:
        """The pattern as EventBridge's PutRule and CDK's EventPattern want it."""
        return json.dumps(self.event_pattern, sort_keys=True)

    def matches(self, envelope: Mapping[str, Any]) -> bool:
        return matches(self.event_pattern, envelope)


ROUTES: tuple[Route, ...] = (
    Route(
        name="record-changes",
        description="Every Zoho record change, to the queue the Dagster sensor drains for refreshes.",
        event_pattern={"source": [{"prefix": SOURCE_PREFIX}], "detail-type": [DETAIL_TYPE]},
        target=Target.REFRESH,
        target_kind=TargetKind.QUEUE,
    ),
    Route(
        name="lead-inserted",
        description="New CRM leads, to the lead qualification queue.",
        event_pattern={
            "source": [SOURCE_PREFIX + "crm"],
            "detail-type": [DETAIL_TYPE],
            "detail": {"module": ["Leads"], "operation": ["insert"]},
        },
        target=Target.LEAD_QUALIFICATION,
        target_kind=TargetKind.QUEUE,
    ),
    Route(
        name="deal-closed-won",
        description="CRM deals that reached Closed Won, to the onboarding state machine.",
        event_pattern={
            "source": [SOURCE_PREFIX + "crm"],
            "detail-type": [DETAIL_TYPE],
            "detail": {
                "module": ["Deals"],
                "operation": [{"anything-but": ["delete"]}],
                "stage": [CLOSED_WON_STAGE],
            },
        },
        target=Target.ONBOARDING,
        target_kind=TargetKind.STATE_MACHINE,
    ),
)

for _route in ROUTES:
    validate_pattern(_route.event_pattern)


def routes_for(envelope: Mapping[str, Any], routes: Sequence[Route] = ROUTES) -> list[Route]:
    """The routes whose pattern `envelope` matches (EventBridge delivers to every one)."""
    return [route for route in routes if route.matches(envelope)]


def envelope(
    event: ZohoEvent, *, region: str = "local", account: str = "000000000000", envelope_id: str | None = None
) -> dict[str, Any]:
    """The envelope EventBridge wraps around an event and delivers to SQS targets; the local
    router builds the same one so consumers read one shape everywhere."""
    return {
        "version": "0",
        "id": envelope_id or str(uuid.uuid4()),
        "detail-type": DETAIL_TYPE,
        "source": event.source,
        "account": account,
        "time": event.occurred_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [],
        "detail": event.to_dict(),
    }
