"""The batch assets: `lake/<app>/<module>` daily Parquet partitions and `warehouse/<app>/<module>`.

One asset pair per module the catalog selects (ZOHO_MODULES), built by a factory because a module
is configuration, not code. Each asset body is one call into `zoho_pipelines.pipeline`; this file
only turns the results into Dagster metadata, check results, jobs and schedules.
"""

from datetime import date, timedelta

import dagster as dg

from zoho_pipelines.catalog import ModuleSpec, selected_modules
from zoho_pipelines.defs.resources import LakeResource, WarehouseResource, ZohoResource
from zoho_pipelines.lake import PartitionRef
from zoho_pipelines.pipeline import load_partition, sync_partition
from zoho_pipelines.pipeline.checks import COUNT_CHECK, ID_CHECK, UNFITTED_CHECK, Severity, check_partition
from zoho_pipelines.settings import load_code_location_settings, load_settings

ZOHO_POOL = "zoho_api"
APP_TAG = "zoho/app"
LAYER_TAG = "zoho/layer"  # lake or warehouse: filterable in the UI's asset catalog
_SEVERITY = {Severity.ERROR: dg.AssetCheckSeverity.ERROR, Severity.WARN: dg.AssetCheckSeverity.WARN}


def daily_sync_job_name(app: str) -> str:
    return f"zoho_{app}_daily_sync"


def daily_partitions() -> dg.DailyPartitionsDefinition:
    """UTC days from ZOHO_PARTITIONS_START (default 2025-01-01) up to yesterday, the last complete day."""
    start = load_code_location_settings().zoho_partitions_start
    return dg.DailyPartitionsDefinition(start_date=start.isoformat(), timezone="UTC", end_offset=0)


def _lake_kinds() -> set[str]:
    """The lake's kind tags in the UI (Parquet, on S3 or a local folder): the lake node's icons
    tell it apart from its warehouse table's at a glance, though both are titled by the module."""
    on_s3 = load_settings().resolved_lake_url.startswith("s3://")
    return {"zoho", "parquet", "s3"} if on_s3 else {"zoho", "parquet"}


def _warehouse_kind() -> str:
    """The warehouse's kind tag in the UI, from the same settings (env and `.env`) the runs read."""
    scheme = load_settings().resolved_warehouse_url.split(":", 1)[0]
    return {"postgresql": "postgres", "postgres": "postgres", "redshift": "redshift"}.get(scheme, "duckdb")


def _day(context: dg.AssetExecutionContext) -> date:
    return date.fromisoformat(context.partition_key)


def module_assets(spec: ModuleSpec, partitions: dg.PartitionsDefinition) -> list[dg.AssetsDefinition]:
    """The lake and warehouse assets of one catalog module."""
    lake_key = dg.AssetKey(list(spec.lake_asset_key))

    @dg.asset(
        key=lake_key,
        group_name=spec.group_name,
        partitions_def=partitions,
        kinds=_lake_kinds(),
        pool=ZOHO_POOL,
        description=(
            f"Lake (Parquet): Zoho {spec.app.upper()} {spec.api_name} as read from Zoho, the records "
            f"modified on each UTC day and tombstones for the ones deleted that day, one zstd Parquet "
            f"file per day. Feeds the warehouse table {spec.warehouse_schema}.{spec.warehouse_table}."
        ),
        check_specs=[
            dg.AssetCheckSpec(
                ID_CHECK, asset=lake_key, description="Every row has an id; live ids are unique."
            ),
            dg.AssetCheckSpec(
                COUNT_CHECK, asset=lake_key, description="The partition holds exactly what Zoho returned."
            ),
            dg.AssetCheckSpec(
                UNFITTED_CHECK,
                asset=lake_key,
                description=(
                    "Every value fits its typed column. Warns (the run goes on) when some did not: "
                    "they are kept as Zoho sent them in the _unfitted column, counted per field."
                ),
            ),
        ],
        tags={"zoho/app": spec.app, "zoho/module": spec.module, LAYER_TAG: "lake"},
    )
    def lake_asset(
        context: dg.AssetExecutionContext, zoho: ZohoResource, lake: LakeResource
    ) -> dg.MaterializeResult:
        store = lake.lake()
        result = sync_partition(zoho.client(), store, spec, _day(context))
        outcomes = check_partition(
            store, result.written.ref, records=result.records_received, deletions=result.deletions_received
        )
        columns = [dg.TableColumn(field.name, str(field.type)) for field in result.schema.to_arrow()]
        return dg.MaterializeResult(
            metadata={
                "rows": result.written.rows,
                "records": result.records_received,
                "deletions": result.deletions_received,
                "api_calls": result.api_calls,
                "api_credits": result.api_credits,
                "bytes": result.written.bytes,
                "seconds": round(result.seconds, 3),
                "path": dg.MetadataValue.path(result.written.uri),
                "added_columns": ", ".join(result.added_columns) or "none",
                "removed_fields": ", ".join(result.removed_fields) or "none",
                "unfitted_values": sum(result.unfitted.values()),
                "unfitted_by_field": dg.MetadataValue.json(result.unfitted),
                "dagster/column_schema": dg.TableSchema(columns=columns),
                "dagster/row_count": result.written.rows,
            },
            check_results=[
                dg.AssetCheckResult(
                    check_name=outcome.name,
                    passed=outcome.passed,
                    description=outcome.description,
                    metadata=outcome.metadata,
                    severity=_SEVERITY[outcome.severity],
                )
                for outcome in outcomes
            ],
        )

    @dg.asset(
        key=dg.AssetKey(list(spec.warehouse_asset_key)),
        deps=[lake_key],
        group_name=spec.group_name,
        partitions_def=partitions,
        kinds={_warehouse_kind(), "table"},
        description=(
            f"Warehouse table {spec.warehouse_schema}.{spec.warehouse_table}: one row per {spec.api_name} "
            f"record, merged by id from the lake partition (newest _modified_time wins; deletes kept as "
            f"tombstones: _deleted true, the last values kept)."
        ),
        tags={"zoho/app": spec.app, "zoho/module": spec.module, LAYER_TAG: "warehouse"},
        # The daily schedule runs at 02:00 UTC; a table not refreshed between then and 06:00 is stale.
        freshness_policy=dg.FreshnessPolicy.cron(
            deadline_cron="0 6 * * *", lower_bound_delta=timedelta(hours=4)
        ),
    )
    def warehouse_asset(
        context: dg.AssetExecutionContext, lake: LakeResource, warehouse: WarehouseResource
    ) -> dg.MaterializeResult:
        day = _day(context)
        with warehouse.connect() as connection:
            merged = load_partition(connection, lake.lake(), spec, day)
            total = connection.query(f"select count(*) from {merged.table.sql}")[0][0]  # noqa: S608 quoted identifiers
        return dg.MaterializeResult(
            metadata={
                "table": str(merged.table),
                "partition_rows": merged.staged_rows,
                "applied_rows": merged.applied_rows,
                "inserted_rows": merged.inserted_rows,
                "updated_rows": merged.updated_rows,
                "added_columns": ", ".join(merged.added_columns) or "none",
                "table_rows": int(total),
                "lake_partition": PartitionRef(spec.app, spec.module, day).key,
            }
        )

    return [lake_asset, warehouse_asset]


def resync_days() -> int:
    """Days before yesterday that the daily schedule syncs again, for late changes (ZOHO_RESYNC_DAYS)."""
    return load_code_location_settings().zoho_resync_days


def daily_schedule(app: str) -> dg.ScheduleDefinition:
    @dg.schedule(
        name=f"zoho_{app}_daily_schedule",
        job_name=daily_sync_job_name(app),
        cron_schedule="0 2 * * *",
        execution_timezone="UTC",
        description="Yesterday's partitions, plus a re-sync of the days before for late changes.",
    )
    def zoho_daily_schedule(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest]:
        today = context.scheduled_execution_time.date()
        days = [today - timedelta(days=offset) for offset in range(1, resync_days() + 2)]
        return [
            dg.RunRequest(run_key=f"{day.isoformat()}@{today.isoformat()}", partition_key=day.isoformat())
            for day in days
        ]

    return zoho_daily_schedule


def batch_definitions() -> dg.Definitions:
    """One asset pair per selected module, and per app a daily job and schedule.

    A job per app, tagged `zoho/app`, because Zoho limits each app separately (Books and Projects
    far below CRM): the production run queue caps concurrent runs per tag (deploy/dagster.yaml).
    """
    partitions = daily_partitions()
    specs = selected_modules()
    assets_by_app: dict[str, list[dg.AssetsDefinition]] = {}
    for spec in specs:
        assets_by_app.setdefault(spec.app, []).extend(module_assets(spec, partitions))
    jobs = [
        dg.define_asset_job(
            daily_sync_job_name(app),
            selection=dg.AssetSelection.assets(*assets),
            tags={APP_TAG: app},
            description=f"Zoho {app.upper()} to lake to warehouse for one UTC day.",
        )
        for app, assets in assets_by_app.items()
    ]
    return dg.Definitions(
        assets=[asset for assets in assets_by_app.values() for asset in assets],
        jobs=jobs,
        schedules=[daily_schedule(app) for app in assets_by_app],
    )
