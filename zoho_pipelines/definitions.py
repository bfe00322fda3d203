"""The Dagster code location: `dagster dev -w workspace.yaml` or `-m zoho_pipelines.definitions`."""

import dagster as dg

from zoho_pipelines.defs.ai import ai_definitions
from zoho_pipelines.defs.batch import batch_definitions
from zoho_pipelines.defs.documents import documents_definitions
from zoho_pipelines.defs.events import events_definitions
from zoho_pipelines.defs.resources import default_resources

defs = dg.Definitions.merge(
    batch_definitions(),
    events_definitions(),
    documents_definitions(),
    ai_definitions(),
    dg.Definitions(resources=default_resources()),
)
