"""Credentials from the environment and from Secrets Manager (moto's real server on loopback)."""

import json
import logging

import boto3
import pytest
from moto.server import ThreadedMotoServer

from zoho_pipelines.redaction import redact
from zoho_pipelines.settings import ConfigurationError, load_settings
from zoho_pipelines.zoho.credentials import credentials_from_settings

SECRET = "env-client-secret-7d1e0b"
REFRESH = "1000.env-refresh-token-44aa"


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no stray .env file
    for name in (
        "ZOHO_CLIENT_ID",
        "ZOHO_CLIENT_SECRET",
        "ZOHO_REFRESH_TOKEN",
        "ZOHO_CREDENTIALS_SECRET_ID",
        "AWS_ENDPOINT_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.fixture(scope="module")
def moto_url():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws_env(clean_env, moto_url):
    clean_env.setenv("AWS_ACCESS_KEY_ID", "testing")
    clean_env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    clean_env.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    clean_env.setenv("AWS_ENDPOINT_URL", moto_url)
    return clean_env


def test_environment_credentials_are_loaded_registered_and_hidden(clean_env):
    clean_env.setenv("ZOHO_CLIENT_ID", "1000.ENVCLIENT")
    clean_env.setenv("ZOHO_CLIENT_SECRET", SECRET)
    clean_env.setenv("ZOHO_REFRESH_TOKEN", REFRESH)
    credentials = credentials_from_settings(load_settings())
    assert credentials.client_id == "1000.ENVCLIENT"
    assert credentials.refresh_token.get_secret_value() == REFRESH
    for text in (repr(credentials), str(credentials), f"{credentials!r}"):
        assert SECRET not in text
        assert REFRESH not in text
    assert redact(f"oops {SECRET} {REFRESH}") == "oops *** ***"


def test_missing_credentials_name_the_variables(clean_env):
    clean_env.setenv("ZOHO_CLIENT_ID", "1000.ENVCLIENT")
    clean_env.setenv("ZOHO_REFRESH_TOKEN", REFRESH)
    with pytest.raises(ConfigurationError, match="ZOHO_CLIENT_SECRET") as caught:
        credentials_from_settings(load_settings())
    assert REFRESH not in str(caught.value)


def test_secrets_manager_secret_is_used_when_configured(aws_env, moto_url, caplog):
    document = {
        "client_id": "1000.SMCLIENT",
        "client_secret": "sm-secret-91b2",
        "refresh_token": "1000.sm-rt-5c6d",
    }
    boto3.client("secretsmanager", endpoint_url=moto_url).create_secret(
        Name="zoho/credentials", SecretString=json.dumps(document)
    )
    aws_env.setenv("ZOHO_CREDENTIALS_SECRET_ID", "zoho/credentials")
    aws_env.setenv("ZOHO_CLIENT_ID", "ignored-when-a-secret-is-configured")
    caplog.set_level(logging.DEBUG)  # from here on: only the product's own calls
    credentials = credentials_from_settings(load_settings())
    assert credentials.client_id == "1000.SMCLIENT"
    assert credentials.client_secret.get_secret_value() == "sm-secret-91b2"
    assert "sm-secret-91b2" not in repr(credentials)
    assert "GetSecretValue" in caplog.text  # botocore did log the call at DEBUG...
    assert "1000.sm-rt-5c6d" not in caplog.text  # ...but not the payload
    assert "sm-secret-91b2" not in caplog.text
    assert redact("1000.sm-rt-5c6d") == "***"


def test_secret_arn_region_is_honoured(aws_env, moto_url):
    arn = boto3.client("secretsmanager", endpoint_url=moto_url, region_name="ap-south-1").create_secret(
        Name="zoho/in-org",
        SecretString=json.dumps(
            {"client_id": "1000.IN", "client_secret": "in-secret-1", "refresh_token": "in-rt-1"}
        ),
    )["ARN"]
    aws_env.setenv("ZOHO_CREDENTIALS_SECRET_ID", arn)  # default region is eu-west-1: only the ARN finds it
    assert credentials_from_settings(load_settings()).client_id == "1000.IN"


def test_incomplete_secret_names_missing_keys_not_values(aws_env, moto_url):
    boto3.client("secretsmanager", endpoint_url=moto_url).create_secret(
        Name="zoho/partial",
        SecretString=json.dumps({"client_id": "1000.P", "client_secret": "partial-secret-3"}),
    )
    aws_env.setenv("ZOHO_CREDENTIALS_SECRET_ID", "zoho/partial")
    with pytest.raises(ConfigurationError, match="refresh_token") as caught:
        credentials_from_settings(load_settings())
    assert "partial-secret-3" not in str(caught.value)
