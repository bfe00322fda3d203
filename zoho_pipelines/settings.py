"""Configuration from environment variables (and an optional `.env` file).

The variable names are a contract with users and deployments (see the README's configuration
table), so each field maps to exactly one upper-case variable and a validation error names that
variable, not a Python attribute.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal, TypeVar

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class ConfigurationError(ValueError):
    """Raised when the environment does not describe a usable configuration."""


class DataCenter(StrEnum):
    """Zoho data centers; each has its own accounts server and API domain."""

    COM = "com"
    EU = "eu"
    IN = "in"
    COM_AU = "com.au"
    JP = "jp"
    CA = "ca"
    SA = "sa"
    COM_CN = "com.cn"


class Edition(StrEnum):
    """Zoho CRM editions; they set the API concurrency limit per org."""

    FREE = "free"
    STANDARD = "standard"
    PROFESSIONAL = "professional"
    ENTERPRISE = "enterprise"
    ULTIMATE = "ultimate"


class TokenStoreKind(StrEnum):
    """Where processes share the org's Zoho access token (see zoho_pipelines.zoho.token_store)."""

    FILE = "file"
    DYNAMODB = "dynamodb"
    MEMORY = "memory"


CONCURRENCY_BY_EDITION: dict[Edition, int] = {
    Edition.FREE: 5,
    Edition.STANDARD: 10,
    Edition.PROFESSIONAL: 15,
    Edition.ENTERPRISE: 20,
    Edition.ULTIMATE: 25,
}


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    """Everything the product reads from its environment, with the local defaults."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        case_sensitive=False,
        extra="ignore",
        frozen=True,
    )

    zoho_dc: DataCenter = Field(DataCenter.COM, alias="ZOHO_DC")
    zoho_accounts_url: str | None = Field(None, alias="ZOHO_ACCOUNTS_URL")
    zoho_api_url: str | None = Field(None, alias="ZOHO_API_URL")
    zoho_client_id: str | None = Field(None, alias="ZOHO_CLIENT_ID")
    zoho_client_secret: SecretStr | None = Field(None, alias="ZOHO_CLIENT_SECRET")
    zoho_refresh_token: SecretStr | None = Field(None, alias="ZOHO_REFRESH_TOKEN")
    zoho_credentials_secret_id: str | None = Field(None, alias="ZOHO_CREDENTIALS_SECRET_ID")
    zoho_books_organization_id: str | None = Field(None, alias="ZOHO_BOOKS_ORGANIZATION_ID")
    zoho_projects_portal_id: str | None = Field(None, alias="ZOHO_PROJECTS_PORTAL_ID")
    zoho_edition: Edition = Field(Edition.STANDARD, alias="ZOHO_EDITION")
    zoho_max_concurrency: int | None = Field(None, alias="ZOHO_MAX_CONCURRENCY", ge=1, le=100)
    zoho_token_store: TokenStoreKind = Field(TokenStoreKind.FILE, alias="ZOHO_TOKEN_STORE")
    zoho_token_table: str | None = Field(None, alias="ZOHO_TOKEN_TABLE")
    zoho_token_cache_dir: Path | None = Field(None, alias="ZOHO_TOKEN_CACHE_DIR")
    zoho_token_max_wait_s: float | None = Field(None, alias="ZOHO_TOKEN_MAX_WAIT_S", ge=0)

    home: Path = Field(Path(".zoho_pipelines"), alias="ZOHO_PIPELINES_HOME")
    lake_url: str | None = Field(None, alias="LAKE_URL")
    lake_kms_key_id: str | None = Field(None, alias="LAKE_KMS_KEY_ID")
    warehouse_url: str | None = Field(None, alias="WAREHOUSE_URL")
    warehouse_password: SecretStr | None = Field(None, alias="WAREHOUSE_PASSWORD")
    warehouse_password_secret_id: str | None = Field(None, alias="WAREHOUSE_PASSWORD_SECRET_ID")
    warehouse_lock_timeout_s: float = Field(
        600.0, alias="WAREHOUSE_LOCK_TIMEOUT_S", ge=0, le=86_400, allow_inf_nan=False
    )
    redshift_iam_role_arn: str | None = Field(None, alias="REDSHIFT_IAM_ROLE_ARN")
    events_queue_url: str | None = Field(None, alias="EVENTS_QUEUE_URL")
    zoho_webhook_secrets: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list, alias="ZOHO_WEBHOOK_SECRETS"
    )
    # The ingress's own variables (the Lambda reads them from its environment; `zoho-pipelines
    # ingress` from here, so a .env serves it like everything else).
    zoho_webhook_secrets_secret_id: str | None = Field(None, alias="ZOHO_WEBHOOK_SECRETS_SECRET_ID")
    zoho_webhook_secrets_ttl_seconds: float = Field(
        60.0, alias="ZOHO_WEBHOOK_SECRETS_TTL_SECONDS", ge=0, le=86_400
    )
    zoho_channel_tokens: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list, alias="ZOHO_CHANNEL_TOKENS"
    )
    zoho_channel_tokens_secret_id: str | None = Field(None, alias="ZOHO_CHANNEL_TOKENS_SECRET_ID")
    events_target: Literal["eventbridge", "local"] | None = Field(None, alias="EVENTS_TARGET")
    event_bus_name: str = Field("zoho-integration-bus", alias="EVENT_BUS_NAME")
    aws_endpoint_url: str | None = Field(None, alias="AWS_ENDPOINT_URL")
    # Documents (zoho_pipelines.documents): the PDF text layer offline, Amazon Textract when deployed.
    document_extractor: Literal["pdf-text", "textract"] = Field("pdf-text", alias="DOCUMENT_EXTRACTOR")

    _split_secrets = field_validator("zoho_webhook_secrets", "zoho_channel_tokens", mode="before")(_split_csv)

    @field_validator("events_target", mode="before")
    @classmethod
    def _target_name(cls, value: object) -> object:
        return (value.strip().lower() or None) if isinstance(value, str) else value

    @field_validator("zoho_accounts_url", "zoho_api_url", "aws_endpoint_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")

    @field_validator("zoho_token_cache_dir", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("lake_url")
    @classmethod
    def _lake_scheme(cls, value: str | None) -> str | None:
        if value and not value.startswith(("file://", "s3://", "/")):
            raise ValueError("must be file:///path, s3://bucket/prefix or an absolute path")
        return value or None

    @field_validator("warehouse_url")
    @classmethod
    def _warehouse_scheme(cls, value: str | None) -> str | None:
        schemes = ("duckdb://", "postgresql://", "postgres://", "redshift://")
        if value and not value.startswith(schemes):
            raise ValueError("must start with duckdb://, postgresql:// or redshift://")
        return value or None

    @cached_property
    def concurrency(self) -> int:
        """Concurrent Zoho calls allowed for this org: the explicit override, else the edition's."""
        return self.zoho_max_concurrency or CONCURRENCY_BY_EDITION[self.zoho_edition]

    @property
    def resolved_lake_url(self) -> str:
        return self.lake_url or (self.home.resolve() / "lake").as_uri()

    @property
    def resolved_warehouse_url(self) -> str:
        return self.warehouse_url or f"duckdb:///{(self.home.resolve() / 'warehouse.duckdb')}"

    @property
    def resolved_token_cache_dir(self) -> Path:
        """The file token store's directory: shared by every process with the same home."""
        return (self.zoho_token_cache_dir or self.home / "zoho-tokens").resolve()

    @property
    def local_queue_dir(self) -> Path:
        return self.home.resolve() / "queue"


SettingsT = TypeVar("SettingsT", bound=BaseSettings)


class CodeLocationSettings(BaseSettings):
    """What the Dagster code location builds: the modules, the first partition, the schedule's re-sync.

    Apart from Settings because only Dagster processes read them (the deployment contract declares
    them there alone); read the same way, from the environment and `.env`.
    """

    model_config = Settings.model_config

    zoho_modules: str | None = Field(None, alias="ZOHO_MODULES")  # resolved by zoho_pipelines.catalog
    zoho_partitions_start: date = Field(date(2025, 1, 1), alias="ZOHO_PARTITIONS_START")
    zoho_resync_days: int = Field(2, alias="ZOHO_RESYNC_DAYS", ge=0, le=366)


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment; errors name the environment variable at fault."""
    return _validated(Settings, overrides)


def load_code_location_settings() -> CodeLocationSettings:
    return _validated(CodeLocationSettings, {})


def _validated(kind: type[SettingsT], overrides: dict[str, object]) -> SettingsT:
    try:
        return kind(**overrides)
    except ValidationError as exc:
        aliases = {name: field.alias or name.upper() for name, field in kind.model_fields.items()}
        problems = []
        for error in exc.errors():
            location = str(error["loc"][0]) if error["loc"] else "?"
            variable = aliases.get(location, location.upper())
            problems.append((variable, error["msg"]))
        # One line a person can act on: the variable, what is wrong, where to fix it (never the value:
        # it may be a secret).
        details = "; ".join(f"{variable}: {message}" for variable, message in problems)
        variables = ", ".join(dict.fromkeys(variable for variable, _ in problems))
        raise ConfigurationError(
            f"invalid configuration: {details} (fix {variables} in the environment or .env)"
        ) from None
