"""The warehouse: `zoho_<app>.<module>` tables merged from lake partitions.

`open_warehouse(WAREHOUSE_URL)` picks the backend: `duckdb:///path` (embedded default),
`postgresql://...` or `redshift://...`; all follow the `Warehouse` protocol and merge one
partition per transaction with the same order-independent rules (see `warehouse.sql`).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlparse

from zoho_pipelines.warehouse.base import (
    ArrowLoadingWarehouse,
    MergeResult,
    SqlWarehouse,
    Warehouse,
    WarehouseError,
)
from zoho_pipelines.warehouse.sql import RECORD_MODIFIED_TIME, TableRef


def open_warehouse(url: str, *, iam_role_arn: str | None = None) -> SqlWarehouse:
    """The warehouse at WAREHOUSE_URL; `iam_role_arn` (REDSHIFT_IAM_ROLE_ARN) serves Redshift COPY."""
    parsed = urlparse(url)
    if parsed.scheme == "duckdb":
        from zoho_pipelines.warehouse.duckdb import DuckDBWarehouse

        # duckdb:///abs/path?memory_limit=2GB: the query string carries DuckDB settings.
        config = dict(parse_qsl(parsed.query))
        path = unquote(url.removeprefix("duckdb://").partition("?")[0])
        if path.lstrip("/") in ("", ":memory:"):
            return DuckDBWarehouse(":memory:", config=config)
        # duckdb:///abs/path and duckdb:////abs/path (Settings' default form) both mean /abs/path.
        return DuckDBWarehouse(Path("/" + path.lstrip("/") if path.startswith("/") else path), config=config)
    if parsed.scheme in ("postgresql", "postgres"):
        from zoho_pipelines.warehouse.postgres import PostgresWarehouse

        return PostgresWarehouse(url)
    if parsed.scheme == "redshift":
        from zoho_pipelines.warehouse.redshift import RedshiftWarehouse

        return RedshiftWarehouse(url, iam_role_arn=iam_role_arn)
    raise WarehouseError("WAREHOUSE_URL must start with duckdb://, postgresql:// or redshift://")


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
