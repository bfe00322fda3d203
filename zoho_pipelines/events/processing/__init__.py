"""Event processing without Dagster: queue intake, refresh, lead qualification, watch channels.

The Dagster layer (`zoho_pipelines.defs.events`) only wires these into sensors, jobs and a
schedule; everything that decides something lives here and is tested without an orchestrator.
"""

from zoho_pipelines.events.processing.batches import EventBatch, EventRef, group_events
from zoho_pipelines.events.processing.bedrock import BedrockLeadScorer
from zoho_pipelines.events.processing.channels import (
    ChannelAction,
    ChannelError,
    ChannelStatus,
    ensure_watch_channel,
)
from zoho_pipelines.events.processing.config import EventProcessingSettings, load_event_settings
from zoho_pipelines.events.processing.intake import (
    CoveringRun,
    EventIntake,
    IntakeCursor,
    IntakeTick,
    PendingAck,
    RunLedger,
    RunState,
)
from zoho_pipelines.events.processing.qualification import (
    LeadFailure,
    QualificationError,
    QualificationResult,
    qualify_leads,
)
from zoho_pipelines.events.processing.refresh import RefreshError, RefreshResult, merge_rows, refresh_batch
from zoho_pipelines.events.processing.scoring import (
    LeadScore,
    LeadScorer,
    RuleBasedLeadScorer,
    ScoringError,
)

__all__ = [
    "BedrockLeadScorer",
    "ChannelAction",
    "ChannelError",
    "ChannelStatus",
    "CoveringRun",
    "EventBatch",
    "EventIntake",
    "EventProcessingSettings",
    "EventRef",
    "IntakeCursor",
    "IntakeTick",
    "LeadFailure",
    "LeadScore",
    "LeadScorer",
    "PendingAck",
    "QualificationError",
    "QualificationResult",
    "RefreshError",
    "RefreshResult",
    "RuleBasedLeadScorer",
    "RunLedger",
    "RunState",
    "ScoringError",
    "ensure_watch_channel",
    "group_events",
    "load_event_settings",
    "merge_rows",
    "qualify_leads",
    "refresh_batch",
]
