"""Warehouse passwords: reserved characters in WAREHOUSE_URL, WAREHOUSE_PASSWORD and Secrets
Manager, against a PostgreSQL server that really checks passwords (SCRAM), and no error text that
contains the password."""

from __future__ import annotations

import json
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import boto3
import psycopg
import pytest
from moto.server import ThreadedMotoServer
from psycopg import sql as pg_sql

from zoho_pipelines.redaction import redact
from zoho_pipelines.settings import Settings, load_settings
from zoho_pipelines.warehouse import WarehouseError, open_warehouse
from zoho_pipelines.warehouse.redshift import connection_arguments
from zoho_pipelines_tests.postgres_server import PostgresServer, running_postgres

PASSWORD = "Pa55#w/rd?x@y:z"  # every character a URL parser reads as structure
HBA = """local all postgres trust
host all postgres 127.0.0.1/32 trust
host all all 127.0.0.1/32 scram-sha-256
"""


def _error_texts(error: BaseException | None) -> Iterator[str]:
    """The message, arguments and repr of an error and of everything it was raised from."""
    while error is not None:
        yield str(error)
        yield repr(error.args)
        error = error.__cause__ or error.__context__


@pytest.fixture(scope="module")
def checking_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server of its own whose role `etl` must give PASSWORD (SCRAM)."""
    folder = Path(tempfile.mkdtemp(prefix="zoho-hba-"))
    folder.chmod(0o755)  # read by the server's own OS user
    hba = folder / "pg_hba.conf"
    hba.write_text(HBA)
    hba.chmod(0o644)
    try:
        with running_postgres(settings=(f"hba_file={hba}",)) as server:
            with psycopg.connect(server.url(), autocommit=True) as admin:
                admin.execute(
                    pg_sql.SQL("CREATE ROLE etl LOGIN PASSWORD {}").format(pg_sql.Literal(PASSWORD))
                )
            yield server
    finally:
        hba.unlink()
        folder.rmdir()


def _url(server: PostgresServer, userinfo: str) -> str:
    return f"postgresql://{userinfo}@127.0.0.1:{server.port}/postgres"


def _current_user(url: str, settings: Settings) -> str:
    with open_warehouse(url, settings=settings) as warehouse:
        return warehouse.query("SELECT current_user")[0][0]


@pytest.mark.parametrize("written", [PASSWORD, quote(PASSWORD, safe="")], ids=["as typed", "percent-encoded"])
def test_a_password_with_reserved_characters_in_the_url_authenticates(
    checking_server: PostgresServer, written: str
) -> None:
    assert _current_user(_url(checking_server, f"etl:{written}"), load_settings()) == "etl"
    assert redact(f"leaked {PASSWORD}") == "leaked ***"  # registered for log redaction as it was read


def test_a_wrong_password_fails_without_any_error_text_holding_it(checking_server: PostgresServer) -> None:
    wrong = "Wr0ng#pass/word?"
    with pytest.raises(WarehouseError, match="password authentication failed") as failure:
        open_warehouse(_url(checking_server, f"etl:{wrong}"), settings=load_settings())
    assert not [text for text in _error_texts(failure.value) if "Wr0ng" in text or "pass/word" in text]


def test_warehouse_password_replaces_a_url_without_one(checking_server: PostgresServer) -> None:
    settings = load_settings(WAREHOUSE_PASSWORD=PASSWORD)
    assert _current_user(_url(checking_server, "etl"), settings) == "etl"
    assert PASSWORD not in repr(settings)


@pytest.fixture
def secrets_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Secrets Manager served by moto over loopback, reached through AWS_ENDPOINT_URL."""
    # Port 0: moto binds a free port itself (a port probed here and bound later could be taken by
    # another xdist worker in between, and moto's start() would then wait forever).
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    for variable, value in {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(variable, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    try:
        yield endpoint
    finally:
        server.stop()


def test_a_password_from_secrets_manager_authenticates(
    checking_server: PostgresServer, secrets_endpoint: str
) -> None:
    boto3.client("secretsmanager").create_secret(
        Name="warehouse/etl", SecretString=json.dumps({"username": "etl", "password": PASSWORD})
    )
    settings = load_settings(WAREHOUSE_PASSWORD_SECRET_ID="warehouse/etl")
    assert _current_user(_url(checking_server, "etl"), settings) == "etl"

    with pytest.raises(WarehouseError, match="WAREHOUSE_PASSWORD_SECRET_ID") as failure:
        open_warehouse(
            _url(checking_server, "etl"), settings=load_settings(WAREHOUSE_PASSWORD_SECRET_ID="missing")
        )
    assert "ResourceNotFoundException" in str(failure.value)


def test_password_and_secret_together_are_refused(checking_server: PostgresServer) -> None:
    settings = load_settings(WAREHOUSE_PASSWORD=PASSWORD, WAREHOUSE_PASSWORD_SECRET_ID="warehouse/etl")
    with pytest.raises(WarehouseError, match="not both"):
        open_warehouse(_url(checking_server, "etl"), settings=settings)


@pytest.mark.parametrize("password", ["Pa55#word", "Pa55?word", "Pa55/word", "p@ss/w#rd?x"])
def test_redshift_urls_keep_reserved_characters_in_the_password(password: str) -> None:
    arguments = connection_arguments(f"redshift://etl:{password}@wg.example.com:5439/dev?ssl=true")
    assert arguments == {
        "host": "wg.example.com",
        "port": 5439,
        "database": "dev",
        "user": "etl",
        "password": password,
        "ssl": True,
    }
    assert (
        connection_arguments("redshift://etl@wg.example.com/dev", password=password)["password"] == password
    )


def test_a_malformed_redshift_url_names_the_variable_and_never_the_password() -> None:
    with pytest.raises(WarehouseError, match="WAREHOUSE_URL") as failure:
        connection_arguments("redshift://etl:Pa55#s3cret@wg.example.com:port/dev")
    assert not [text for text in _error_texts(failure.value) if "Pa55" in text or "s3cret" in text]


def test_an_unreachable_redshift_with_a_separate_password_never_echoes_it() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed when the block ends: nothing listens there
    settings = load_settings(WAREHOUSE_PASSWORD="S3parate#secret")
    with pytest.raises(WarehouseError) as failure:
        open_warehouse(f"redshift://etl@127.0.0.1:{port}/dev?timeout=5", settings=settings)
    assert not [text for text in _error_texts(failure.value) if "S3parate" in text]
