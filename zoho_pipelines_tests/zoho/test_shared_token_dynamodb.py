"""The DynamoDB token store on moto's real server: a KMS-encrypted table shared by processes,
threads and the onboarding Lambda handlers, with Zoho's mint limit on in the sandbox."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from zoho_pipelines.sandbox.server import RunningSandbox
from zoho_pipelines.settings import ConfigurationError, load_settings
from zoho_pipelines.zoho.client import ZohoClient
from zoho_pipelines.zoho.token_store import TokenKey, TokenRecord, token_store_from_settings
from zoho_pipelines.zoho.token_store_dynamodb import PARTITION_KEY, TTL_ATTRIBUTE, DynamoDbTokenStore
from zoho_pipelines_tests.zoho.token_sharing_worker import run_onboarding_handler, run_worker, spawn_all

REGION = "eu-west-1"
TABLE = "zoho-pipelines-zoho-tokens"
HISTORY = (datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC))


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws_env(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ENDPOINT_URL": moto_url,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def table(aws_env: dict[str, str], moto_url: str) -> Iterator[str]:
    """The token table as the CDK app declares it: on-demand, KMS-encrypted with our key, TTL."""
    key_arn = boto3.client("kms", endpoint_url=moto_url).create_key(Description="project key")["KeyMetadata"][
        "Arn"
    ]
    dynamodb = boto3.client("dynamodb", endpoint_url=moto_url)
    dynamodb.create_table(
        TableName=TABLE,
        AttributeDefinitions=[{"AttributeName": PARTITION_KEY, "AttributeType": "S"}],
        KeySchema=[{"AttributeName": PARTITION_KEY, "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
        SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": key_arn},
    )
    dynamodb.update_time_to_live(
        TableName=TABLE, TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE}
    )
    description = dynamodb.describe_table(TableName=TABLE)["Table"]
    assert description["SSEDescription"]["SSEType"] == "KMS"
    assert description["SSEDescription"]["KMSMasterKeyArn"] == key_arn
    yield TABLE
    dynamodb.delete_table(TableName=TABLE)


@pytest.fixture
def limited(sandbox_factory: Callable[..., RunningSandbox]) -> RunningSandbox:
    return sandbox_factory(records_per_module=300)


def store_env(sandbox: RunningSandbox, home: Path, aws_env: dict[str, str]) -> dict[str, str | None]:
    return {
        **sandbox.env(),
        **aws_env,
        "ZOHO_PIPELINES_HOME": str(home),
        "ZOHO_TOKEN_STORE": "dynamodb",
        "ZOHO_TOKEN_TABLE": TABLE,
        "ZOHO_TOKEN_CACHE_DIR": None,
    }


def stored_item(moto_url: str) -> list[dict[str, Any]]:
    return boto3.client("dynamodb", endpoint_url=moto_url).scan(TableName=TABLE)["Items"]


def test_compare_and_swap_refuses_a_stale_version(table: str) -> None:
    store = DynamoDbTokenStore(table)
    key = TokenKey.of("https://accounts.zoho.eu", "1000.X", "1000.refresh-secret")
    assert store.load(key) == TokenRecord()
    assert store.swap(key, 0, TokenRecord(access_token="1000.first", expires_at=10.0))
    assert not store.swap(key, 0, TokenRecord(access_token="1000.second"))  # someone else created it
    current = store.load(key)
    assert (current.version, current.access_token) == (1, "1000.first")
    assert store.swap(key, 1, current.replace(refused_when_fresh=True, mints=(1.0, 2.5)))
    assert not store.swap(key, 1, current)
    flagged = store.load(key)
    assert (flagged.version, flagged.refused_when_fresh, flagged.mints) == (2, True, (1.0, 2.5))
    assert "1000.refresh-secret" not in key.name


def test_processes_on_aws_share_one_token_through_the_table(
    limited: RunningSandbox, table: str, aws_env: dict[str, str], moto_url: str, tmp_path: Path
) -> None:
    anchor = limited.config.anchor
    assert anchor is not None
    window = (anchor - timedelta(days=limited.config.history_days + 1), anchor + timedelta(days=1))
    env = store_env(limited, tmp_path / "home", aws_env)
    reports = spawn_all(run_worker, [(index, env, *window) for index in range(8)])
    assert [report["error"] for report in reports if not report["ok"]] == []
    assert limited.stats()["tokens_issued"] == 1
    assert sum(report["token_refreshes"] for report in reports) == 1
    (item,) = stored_item(moto_url)
    assert limited.state is not None
    assert item["access_token"]["S"] == limited.state.tokens.issued_tokens()[0]
    assert limited.config.refresh_token not in str(item)
    assert int(item[TTL_ATTRIBUTE]["N"]) > datetime.now(UTC).timestamp()
    assert not (tmp_path / "home").exists()  # nothing on local disk


def test_threads_with_their_own_clients_share_one_token_and_log_no_token(
    limited: RunningSandbox, table: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # botocore logs bodies at DEBUG: the store must filter them
    settings = load_settings(
        **limited.env(),
        ZOHO_PIPELINES_HOME=str(tmp_path),
        ZOHO_TOKEN_STORE="dynamodb",
        ZOHO_TOKEN_TABLE=table,
    )
    barrier = threading.Barrier(8)
    counts: list[int] = []

    def read(module: str) -> None:
        with ZohoClient.from_settings(settings) as client:
            barrier.wait(timeout=60)
            counts.append(len(client.crm.field_names(module)))

    threads = [threading.Thread(target=read, args=(module,)) for module in ["Leads", "Deals"] * 4]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(counts) == 8
    assert all(counts)
    assert limited.stats()["tokens_issued"] == 1
    assert limited.state is not None
    (token,) = limited.state.tokens.issued_tokens()
    assert "GetItem" in caplog.text or "get_item" in caplog.text.lower()
    assert token not in caplog.text


def test_onboarding_lambdas_build_their_client_from_settings_and_share_the_token(
    limited: RunningSandbox, table: str, aws_env: dict[str, str], tmp_path: Path
) -> None:
    assert limited.state is not None
    crm = limited.state.crm
    won = [
        crm.record("Deals", i)
        for i in crm.modified_ids("Deals", *HISTORY)
        if crm.record("Deals", i).get("Stage") == "Closed Won"
        and isinstance(crm.record("Deals", i).get("Account_Name"), dict)
    ][:4]
    assert len(won) == 4
    env = store_env(limited, tmp_path / "lambda-home", aws_env)
    events = [{"module": "Deals", "operation": "update", "record_ids": [str(deal["id"])]} for deal in won]

    reports = spawn_all(run_onboarding_handler, [(env, event) for event in events])

    assert [report.get("error") for report in reports if not report["ok"]] == []
    assert sorted(report["deal"] for report in reports) == sorted(str(deal["id"]) for deal in won)
    assert limited.stats()["tokens_issued"] == 1


def test_the_store_is_chosen_by_settings(tmp_path: Path) -> None:
    home = {"ZOHO_PIPELINES_HOME": str(tmp_path), "ZOHO_TOKEN_CACHE_DIR": ""}
    file_store = token_store_from_settings(load_settings(**home))
    assert type(file_store).__name__ == "FileTokenStore"
    assert file_store.directory == (tmp_path / "zoho-tokens").resolve()  # type: ignore[attr-defined]
    memory = token_store_from_settings(load_settings(**home, ZOHO_TOKEN_STORE="memory"))
    assert type(memory).__name__ == "MemoryTokenStore"
    with pytest.raises(ConfigurationError, match="ZOHO_TOKEN_TABLE"):
        token_store_from_settings(load_settings(**home, ZOHO_TOKEN_STORE="dynamodb"))
    with pytest.raises(ConfigurationError, match="ZOHO_TOKEN_STORE"):
        load_settings(ZOHO_TOKEN_STORE="redis")
