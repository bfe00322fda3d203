"""The warehouse: `zoho_<app>.<module>` tables merged from lake partitions.

`open_warehouse(WAREHOUSE_URL)` picks the backend: `duckdb:///path` (embedded default),
`postgresql://...` or `redshift://...`; all follow the `Warehouse` protocol and merge one
partition per transaction with the same order-independent rules (see `warehouse.sql`).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl, unquote

from zoho_pipelines.settings import Settings, load_settings
from zoho_pipelines.warehouse.base import (
    ArrowLoadingWarehouse,
    MergeResult,
    SqlWarehouse,
    Warehouse,
    WarehouseError,
)
from zoho_pipelines.warehouse.sql import RECORD_MODIFIED_TIME, TableRef


def open_warehouse(
    url: str, *, iam_role_arn: str | None = None, settings: Settings | None = None
) -> SqlWarehouse:
    """The warehouse at WAREHOUSE_URL; `iam_role_arn` (REDSHIFT_IAM_ROLE_ARN) serves Redshift COPY.

    `settings` (the environment's when not given) supply the DuckDB lock wait
    (WAREHOUSE_LOCK_TIMEOUT_S) and the password kept apart from the URL (WAREHOUSE_PASSWORD,
    WAREHOUSE_PASSWORD_SECRET_ID).
    """
    scheme = url.partition("://")[0].lower()
    if scheme == "duckdb":
        from zoho_pipelines.warehouse.duckdb import DuckDBWarehouse

        # duckdb:///abs/path?memory_limit=2GB: the query string carries DuckDB settings.
        path, _, query = url.removeprefix("duckdb://").partition("?")
        config = dict(parse_qsl(query))
        path = unquote(path)
        if path.lstrip("/") in ("", ":memory:"):
            return DuckDBWarehouse(":memory:", config=config)
        # duckdb:///abs/path and duckdb:////abs/path (Settings' default form) both mean /abs/path.
        timeout = (settings or load_settings()).warehouse_lock_timeout_s
        return DuckDBWarehouse(
            Path("/" + path.lstrip("/") if path.startswith("/") else path),
            config=config,
            lock_timeout_s=timeout,
        )
    if scheme in ("postgresql", "postgres"):
        from zoho_pipelines.warehouse.postgres import PostgresWarehouse

        return PostgresWarehouse(url, password=_separate_password(settings or load_settings()))
    if scheme == "redshift":
        from zoho_pipelines.warehouse.redshift import RedshiftWarehouse

        return RedshiftWarehouse(
            url, iam_role_arn=iam_role_arn, password=_separate_password(settings or load_settings())
        )
    raise WarehouseError("WAREHOUSE_URL must start with duckdb://, postgresql:// or redshift://")


def _separate_password(settings: Settings) -> str | None:
    """The password from WAREHOUSE_PASSWORD or Secrets Manager, when one of them is set."""
    from zoho_pipelines.warehouse.credentials import choose_password

    secret = settings.warehouse_password.get_secret_value() if settings.warehouse_password else None
    return choose_password(
        None,
        password=secret,
        secret_id=settings.warehouse_password_secret_id,
        endpoint_url=settings.aws_endpoint_url,
    )


__all__ = [
    "RECORD_MODIFIED_TIME",
    "ArrowLoadingWarehouse",
    "MergeResult",
    "SqlWarehouse",
    "TableRef",
    "Warehouse",
    "WarehouseError",
    "open_warehouse",
]
