"""deploy/dagster.yaml is a valid production Dagster instance configuration.

Validated the way Dagster loads it (`dagster_instance_config`: the instance schema, PostgreSQL
storage included), with the environment the ECS task definitions provide; then the config of
each pluggable class (run launcher, compute logs, run coordinator) against that class's own schema,
so that a misspelt EcsRunLauncher option fails here rather than when the daemon starts.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from dagster._config import process_config
from dagster._core.instance.config import ConcurrencyConfig, PoolGranularity, dagster_instance_config
from dagster._core.run_coordinator.queued_run_coordinator import QueuedRunCoordinator, RunQueueConfig
from dagster._serdes import class_from_code_pointer

from zoho_pipelines.catalog import default_catalog
from zoho_pipelines.settings import CONCURRENCY_BY_EDITION, Edition

REPO = Path(__file__).resolve().parents[2]
PRODUCTION_YAML = REPO / "deploy" / "dagster.yaml"
TASK_ENVIRONMENT = {
    "DAGSTER_PG_HOST": "dagster.cluster-abc.us-east-1.rds.amazonaws.com",
    "DAGSTER_PG_PORT": "5432",
    "DAGSTER_PG_DB": "dagster",
    "DAGSTER_PG_USERNAME": "dagster",
    "DAGSTER_PG_PASSWORD": "not-a-real-password",
    "DAGSTER_RUN_TASK_DEFINITION": "arn:aws:ecs:us-east-1:123456789012:task-definition/run:1",
    "DAGSTER_RUN_CONTAINER": "run",
    "DAGSTER_COMPUTE_LOGS_BUCKET": "zoho-pipelines-lake-123456789012-us-east-1",
    "DAGSTER_COMPUTE_LOGS_PREFIX": "dagster/compute-logs",
}
ZOHO_CALLS_PER_RUN = 5  # ZOHO_MAX_CONCURRENCY on the run tasks (cdk/zoho_infra/dagster.py)
RUN_TAG = "zoho/app"
ZOHO_APPS = default_catalog().apps  # crm, books, projects: the values the run tags take


@pytest.fixture
def instance_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    for name, value in TASK_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    shutil.copy(PRODUCTION_YAML, tmp_path / "dagster.yaml")
    config, custom_class = dagster_instance_config(str(tmp_path))
    assert custom_class is None
    return dict(config)


def test_storage_is_postgres_from_the_environment(instance_config: dict[str, Any]) -> None:
    database = instance_config["storage"]["postgres"]["postgres_db"]
    assert database["hostname"] == {"env": "DAGSTER_PG_HOST"}
    assert database["password"] == {"env": "DAGSTER_PG_PASSWORD"}
    assert database["params"] == {"sslmode": "require"}


@pytest.mark.parametrize("section", ["run_launcher", "compute_logs"])
def test_pluggable_classes_accept_their_config(instance_config: dict[str, Any], section: str) -> None:
    entry = instance_config[section]
    cls = class_from_code_pointer(entry["module"], entry["class"])
    result = process_config(cls.config_type(), entry["config"])
    assert result.success, result.errors
    if section == "run_launcher":
        # The launcher's own env form (read at start-up, and it must be the only key).
        assert result.value["task_definition"] == {"env": "DAGSTER_RUN_TASK_DEFINITION"}
        assert result.value["container_name"] == "run"
    else:
        assert result.value["bucket"] == TASK_ENVIRONMENT["DAGSTER_COMPUTE_LOGS_BUCKET"]


def effective_run_queue(instance_config: dict[str, Any]) -> RunQueueConfig:
    """The run queue the daemon applies: `run_queue` merged with `concurrency`, as Dagster merges them."""
    result = process_config(QueuedRunCoordinator.config_type(), instance_config["run_queue"])
    assert result.success, result.errors
    coordinator = QueuedRunCoordinator(**result.value)
    concurrency = ConcurrencyConfig.from_concurrency_settings(
        instance_config["concurrency"], coordinator.get_run_queue_config()
    )
    assert concurrency.run_queue_config is not None
    return concurrency.run_queue_config


def test_run_queue_respects_zohos_org_wide_limits(instance_config: dict[str, Any]) -> None:
    queue = effective_run_queue(instance_config)
    limits = {(limit["key"], limit["value"]): limit["limit"] for limit in queue.tag_concurrency_limits}
    # Exactly the run tags the definitions set: zoho/app = crm | books | projects.
    assert set(limits) == {(RUN_TAG, app) for app in ZOHO_APPS}
    # CRM: concurrent runs x calls in flight per run within the smallest paid edition's limit.
    assert limits[(RUN_TAG, "crm")] * ZOHO_CALLS_PER_RUN <= CONCURRENCY_BY_EDITION[Edition.STANDARD]
    # Books (100 requests/minute/org) and Projects (100 calls/2 min, then a lock): one run each.
    assert limits[(RUN_TAG, "books")] == 1
    assert limits[(RUN_TAG, "projects")] == 1
    assert queue.max_concurrent_runs >= sum(limits.values())


def test_the_zoho_pool_holds_the_org_within_its_concurrency(instance_config: dict[str, Any]) -> None:
    pools = ConcurrencyConfig.from_concurrency_settings(instance_config["concurrency"], None).pool_config
    assert pools.pool_granularity is PoolGranularity.OP
    assert pools.default_pool_limit is not None
    assert pools.default_pool_limit * ZOHO_CALLS_PER_RUN <= CONCURRENCY_BY_EDITION[Edition.STANDARD]


def test_zoho_app_tags_propagate_to_the_run_tasks(instance_config: dict[str, Any]) -> None:
    allowed = instance_config["run_launcher"]["config"]["propagate_tags"]["allow_list"]
    assert RUN_TAG in allowed  # so each run's ECS task is tagged (and costed) by app


def test_a_typo_is_caught(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in TASK_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    text = PRODUCTION_YAML.read_text(encoding="utf-8").replace("max_concurrent_runs", "max_concurent_runs")
    (tmp_path / "dagster.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(Exception, match="max_concurent_runs"):
        dagster_instance_config(str(tmp_path))
