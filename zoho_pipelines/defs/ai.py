"""Dagster wiring of the AI enrichments: the asset `warehouse/ai/enrichments`, loading the lake's
enrichment objects (written by the onboarding's AIEnrichment Lambda) into `zoho_ai.enrichments`,
and a schedule that keeps it current. The work is `zoho_pipelines.ai.warehouse.load_enrichments`.
"""

import dagster as dg

from zoho_pipelines.ai.store import open_enrichment_store
from zoho_pipelines.ai.warehouse import APP, MODULE, load_enrichments
from zoho_pipelines.defs.events.resources import ClockResource
from zoho_pipelines.defs.resources import LakeResource, WarehouseResource
from zoho_pipelines.events.processing.staging import staging_for
from zoho_pipelines.settings import load_settings

ENRICHMENTS_KEY = dg.AssetKey(["warehouse", APP, MODULE])


@dg.asset(
    key=ENRICHMENTS_KEY,
    group_name="ai",
    kinds={"python"},
    description="One row per deal enrichment (Claude or rules), from <lake>/zoho/ai/enrichments/.",
)
def ai_enrichments(
    context: dg.AssetExecutionContext,
    lake: LakeResource,
    warehouse: WarehouseResource,
    event_clock: ClockResource,
) -> dg.MaterializeResult:
    settings = load_settings()
    lake_url = lake.url or settings.resolved_lake_url
    store = open_enrichment_store(lake_url, kms_key_id=settings.lake_kms_key_id)
    with (
        warehouse.connect() as connection,
        staging_for(connection, lake_url, context.run.run_id, kms_key_id=settings.lake_kms_key_id) as staging,
    ):
        result = load_enrichments(store, connection, staging=staging, clock=event_clock.clock())
    return dg.MaterializeResult(
        metadata={
            "table": str(result.table),
            "staged_rows": result.staged_rows,
            "inserted_rows": result.inserted_rows,
            "updated_rows": result.updated_rows,
        }
    )


ai_enrichments_job = dg.define_asset_job("ai_enrichments_job", selection=[ENRICHMENTS_KEY])
ai_enrichments_schedule = dg.ScheduleDefinition(
    job=ai_enrichments_job,
    cron_schedule="*/15 * * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)


def ai_definitions() -> dg.Definitions:
    return dg.Definitions(
        assets=[ai_enrichments], jobs=[ai_enrichments_job], schedules=[ai_enrichments_schedule]
    )
