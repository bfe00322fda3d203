"""Fixtures reused rather than copied: the warehouse tests' DuckDB/PostgreSQL warehouses (a real
PostgreSQL server) and the lake tests' moto S3 server."""

from zoho_pipelines_tests.lake.conftest import aws_env, bucket, moto_endpoint
from zoho_pipelines_tests.warehouse.conftest import postgres_server, postgres_url, warehouse

__all__ = ["aws_env", "bucket", "moto_endpoint", "postgres_server", "postgres_url", "warehouse"]
