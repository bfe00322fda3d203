"""Dagster resources: the Zoho client, the lake and the warehouse, as the environment describes.

Each resource reads the product's settings (environment variables, `.env`) when a run starts,
not when the code location loads, so one deployment serves the embedded local defaults, a
staging org or production purely through its environment. Explicit resource config, when set,
wins over the environment (handy in tests and in the launchpad).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
from pydantic import PrivateAttr

from zoho_pipelines.lake import Lake, open_lake
from zoho_pipelines.settings import Settings, load_settings
from zoho_pipelines.warehouse import SqlWarehouse, open_warehouse
from zoho_pipelines.zoho.client import ZohoClient


class ZohoResource(dg.ConfigurableResource):
    """One `ZohoClient` per process: its token cache and org concurrency limiter are shared by
    every asset and sensor running in that process."""

    _client: ZohoClient | None = PrivateAttr(default=None)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def settings(self) -> Settings:
        return load_settings()

    def client(self) -> ZohoClient:
        with self._lock:
            if self._client is None:
                self._client = ZohoClient.from_settings(self.settings())
            return self._client

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


class LakeResource(dg.ConfigurableResource):
    """The Parquet lake at LAKE_URL (a local folder by default), SSE-KMS with LAKE_KMS_KEY_ID."""

    url: str | None = None

    def lake(self) -> Lake:
        settings = load_settings()
        return open_lake(self.url or settings.resolved_lake_url, kms_key_id=settings.lake_kms_key_id)


class WarehouseResource(dg.ConfigurableResource):
    """The warehouse at WAREHOUSE_URL (a local DuckDB file by default)."""

    url: str | None = None

    @contextmanager
    def connect(self) -> Iterator[SqlWarehouse]:
        settings = load_settings()
        warehouse = open_warehouse(
            self.url or settings.resolved_warehouse_url, iam_role_arn=settings.redshift_iam_role_arn
        )
        try:
            yield warehouse
        finally:
            warehouse.close()


def default_resources() -> dict[str, dg.ConfigurableResource]:
    return {"zoho": ZohoResource(), "lake": LakeResource(), "warehouse": WarehouseResource()}
