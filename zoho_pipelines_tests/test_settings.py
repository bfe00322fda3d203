from datetime import date

import pytest

from zoho_pipelines.settings import (
    ConfigurationError,
    DataCenter,
    Edition,
    load_code_location_settings,
    load_settings,
)

CONTRACT_VARIABLES = [
    "ZOHO_DC",
    "ZOHO_ACCOUNTS_URL",
    "ZOHO_API_URL",
    "ZOHO_CLIENT_ID",
    "ZOHO_CLIENT_SECRET",
    "ZOHO_REFRESH_TOKEN",
    "ZOHO_CREDENTIALS_SECRET_ID",
    "ZOHO_BOOKS_ORGANIZATION_ID",
    "ZOHO_PROJECTS_PORTAL_ID",
    "LAKE_URL",
    "LAKE_KMS_KEY_ID",
    "WAREHOUSE_URL",
    "REDSHIFT_IAM_ROLE_ARN",
    "EVENTS_QUEUE_URL",
    "ZOHO_WEBHOOK_SECRETS",
    "EVENT_BUS_NAME",
    "AWS_ENDPOINT_URL",
    "ZOHO_EDITION",
    "ZOHO_MAX_CONCURRENCY",
    "ZOHO_PIPELINES_HOME",
]


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    for name in CONTRACT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return monkeypatch


def test_defaults_are_the_embedded_local_stack(clean_env, tmp_path):
    settings = load_settings()
    assert settings.zoho_dc is DataCenter.COM
    assert settings.event_bus_name == "zoho-integration-bus"
    assert settings.concurrency == 10
    assert settings.resolved_lake_url == (tmp_path / ".zoho_pipelines" / "lake").as_uri()
    assert settings.resolved_warehouse_url == f"duckdb:///{tmp_path / '.zoho_pipelines' / 'warehouse.duckdb'}"


def test_every_contract_variable_is_read(clean_env):
    clean_env.setenv("ZOHO_DC", "eu")
    clean_env.setenv("ZOHO_API_URL", "http://127.0.0.1:9/")
    clean_env.setenv("ZOHO_CLIENT_SECRET", "s3cr3t-value")
    clean_env.setenv("ZOHO_WEBHOOK_SECRETS", "old-secret, new-secret,")
    clean_env.setenv("LAKE_URL", "s3://bucket/prefix")
    clean_env.setenv("WAREHOUSE_URL", "postgresql://u@localhost/db")
    clean_env.setenv("EVENT_BUS_NAME", "bus")
    clean_env.setenv("ZOHO_EDITION", "enterprise")
    settings = load_settings()
    assert settings.zoho_dc is DataCenter.EU
    assert settings.zoho_api_url == "http://127.0.0.1:9"
    assert settings.zoho_client_secret.get_secret_value() == "s3cr3t-value"
    assert [s.get_secret_value() for s in settings.zoho_webhook_secrets] == ["old-secret", "new-secret"]
    assert settings.resolved_lake_url == "s3://bucket/prefix"
    assert settings.resolved_warehouse_url == "postgresql://u@localhost/db"
    assert settings.event_bus_name == "bus"
    assert settings.zoho_edition is Edition.ENTERPRISE
    assert settings.concurrency == 20


def test_explicit_concurrency_overrides_the_edition(clean_env):
    clean_env.setenv("ZOHO_EDITION", "free")
    clean_env.setenv("ZOHO_MAX_CONCURRENCY", "3")
    assert load_settings().concurrency == 3


def test_dotenv_file_is_read(clean_env, tmp_path):
    (tmp_path / ".env").write_text("ZOHO_DC=jp\nZOHO_CLIENT_ID=from-dotenv\n")
    settings = load_settings()
    assert settings.zoho_dc is DataCenter.JP
    assert settings.zoho_client_id == "from-dotenv"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("ZOHO_DC", "mars"),
        ("ZOHO_API_URL", "ftp://example"),
        ("WAREHOUSE_URL", "mysql://x"),
        ("LAKE_URL", "gs://bucket"),
        ("ZOHO_MAX_CONCURRENCY", "0"),
        ("ZOHO_EDITION", "platinum"),
        ("WAREHOUSE_LOCK_TIMEOUT_S", "inf"),  # a wait that could never end
        ("WAREHOUSE_LOCK_TIMEOUT_S", "-1"),
    ],
)
def test_validation_errors_name_the_variable(clean_env, variable, value):
    clean_env.setenv(variable, value)
    with pytest.raises(ConfigurationError, match=variable):
        load_settings()


def test_an_error_is_one_line_with_the_variable_and_the_fix_but_not_the_value(clean_env):
    """The CLI prints the message as it is: it must say what to change and never echo a password."""
    clean_env.setenv("WAREHOUSE_URL", "mysql://analyst:hunter2@db.internal/sales")
    clean_env.setenv("ZOHO_DC", "xx")
    with pytest.raises(ConfigurationError) as raised:
        load_settings()
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith("invalid configuration: ZOHO_DC: ")
    assert "; WAREHOUSE_URL: " in message
    assert message.endswith("(fix ZOHO_DC, WAREHOUSE_URL in the environment or .env)")
    assert "hunter2" not in message


def test_the_code_locations_variables_are_read_from_dotenv_too(clean_env, tmp_path):
    for name in ("ZOHO_MODULES", "ZOHO_PARTITIONS_START", "ZOHO_RESYNC_DAYS"):
        clean_env.delenv(name, raising=False)
    defaults = load_code_location_settings()
    assert (defaults.zoho_modules, defaults.zoho_partitions_start, defaults.zoho_resync_days) == (
        None,
        date(2025, 1, 1),
        2,
    )
    (tmp_path / ".env").write_text(
        "ZOHO_MODULES=crm:deals\nZOHO_PARTITIONS_START=2026-11-29\nZOHO_RESYNC_DAYS=5\n"
    )
    settings = load_code_location_settings()
    assert (settings.zoho_modules, settings.zoho_partitions_start, settings.zoho_resync_days) == (
        "crm:deals",
        date(2026, 11, 29),
        5,
    )
    clean_env.setenv("ZOHO_RESYNC_DAYS", "-1")
    with pytest.raises(ConfigurationError, match=r"ZOHO_RESYNC_DAYS: .* \(fix ZOHO_RESYNC_DAYS in the"):
        load_code_location_settings()


def test_secrets_are_not_in_the_settings_repr(clean_env):
    clean_env.setenv("ZOHO_CLIENT_SECRET", "client-secret-value")
    clean_env.setenv("ZOHO_REFRESH_TOKEN", "refresh-token-value")
    clean_env.setenv("ZOHO_WEBHOOK_SECRETS", "webhook-secret-value")
    text = repr(load_settings()) + str(load_settings().model_dump())
    for secret in ("client-secret-value", "refresh-token-value", "webhook-secret-value"):
        assert secret not in text
