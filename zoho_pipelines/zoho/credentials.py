"""The OAuth self-client credentials, from the environment or from AWS Secrets Manager.

Deployments keep the refresh token in Secrets Manager (ZOHO_CREDENTIALS_SECRET_ID, a JSON secret
with client_id, client_secret and refresh_token) so it never sits in task definitions; laptops use
plain environment variables. Either way the secret values are registered for redaction the moment
they are loaded and are held as `SecretStr`, so no repr, log line or traceback shows them.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from zoho_pipelines.redaction import register_secret
from zoho_pipelines.settings import ConfigurationError, Settings


class ZohoCredentials(BaseModel):
    """A Zoho self-client: the client id is an identifier (safe to log), the rest are secrets."""

    model_config = ConfigDict(frozen=True)

    client_id: str
    client_secret: SecretStr
    refresh_token: SecretStr

    def model_post_init(self, context: Any, /) -> None:
        register_secret(self.client_secret.get_secret_value())
        register_secret(self.refresh_token.get_secret_value())


def credentials_from_settings(settings: Settings) -> ZohoCredentials:
    """Credentials from Secrets Manager when ZOHO_CREDENTIALS_SECRET_ID is set, else from ZOHO_* vars."""
    if settings.zoho_credentials_secret_id:
        return credentials_from_secrets_manager(
            settings.zoho_credentials_secret_id, endpoint_url=settings.aws_endpoint_url
        )
    # Register first: a ConfigurationError below must not be the first place a secret shows up.
    for secret in (settings.zoho_client_secret, settings.zoho_refresh_token):
        if secret is not None:
            register_secret(secret.get_secret_value())
    missing = [
        name
        for name, value in (
            ("ZOHO_CLIENT_ID", settings.zoho_client_id),
            ("ZOHO_CLIENT_SECRET", settings.zoho_client_secret),
            ("ZOHO_REFRESH_TOKEN", settings.zoho_refresh_token),
        )
        if not value
    ]
    if missing:
        raise ConfigurationError(
            "Zoho credentials are incomplete: set " + ", ".join(missing) + " or ZOHO_CREDENTIALS_SECRET_ID"
        )
    return ZohoCredentials(
        client_id=settings.zoho_client_id,  # type: ignore[arg-type]
        client_secret=settings.zoho_client_secret,  # type: ignore[arg-type]
        refresh_token=settings.zoho_refresh_token,  # type: ignore[arg-type]
    )


def _region_from_arn(secret_id: str) -> str | None:
    """A full secret ARN names its region; honour it rather than whatever the SDK defaults to."""
    parts = secret_id.split(":")
    if len(parts) >= 7 and parts[0] == "arn" and parts[2] == "secretsmanager":
        return parts[3] or None
    return None


class _DropSecretPayloads(logging.Filter):
    """botocore logs every response body at DEBUG, GetSecretValue's too: keep those out of all logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "SecretString" not in record.getMessage()


def _silence_secret_payloads() -> None:
    botocore_parsers = logging.getLogger("botocore.parsers")
    if not any(isinstance(existing, _DropSecretPayloads) for existing in botocore_parsers.filters):
        botocore_parsers.addFilter(_DropSecretPayloads())


def credentials_from_secrets_manager(secret_id: str, *, endpoint_url: str | None = None) -> ZohoCredentials:
    """Read the JSON secret `secret_id`; errors name the secret id and the missing keys, never values."""
    import boto3

    _silence_secret_payloads()

    client = boto3.client(
        "secretsmanager", endpoint_url=endpoint_url, region_name=_region_from_arn(secret_id)
    )
    secret_string = client.get_secret_value(SecretId=secret_id)["SecretString"]
    try:
        document = json.loads(secret_string)
    except json.JSONDecodeError:
        raise ConfigurationError(f"secret {secret_id} is not a JSON object") from None
    if not isinstance(document, dict):
        raise ConfigurationError(f"secret {secret_id} is not a JSON object")
    for key in ("client_secret", "refresh_token"):
        if isinstance(document.get(key), str):
            register_secret(document[key])
    try:
        return ZohoCredentials.model_validate(document)
    except ValidationError as exc:
        keys = sorted({str(error["loc"][0]) for error in exc.errors() if error["loc"]})
        raise ConfigurationError(f"secret {secret_id} lacks valid keys: {', '.join(keys)}") from None
