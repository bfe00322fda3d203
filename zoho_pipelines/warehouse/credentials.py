"""Warehouse credentials: WAREHOUSE_URL's user and password, or a password kept apart from the URL.

Why by hand: a password pasted into a URL often holds `#`, `?` or `/`, which a URL parser takes
for the fragment, query or path. urllib then reports part of the password as a bad port
("Port could not be cast to integer value as 'Pa55'"), and libpq quotes a bad percent-escape
back, so the password reaches Dagster's logs. Here the credentials are cut off the URL first
(they end at its last `@`), percent-decoded, and kept out of every message: errors name
WAREHOUSE_URL, never its text. Deployments can keep the password out of the URL altogether:
WAREHOUSE_PASSWORD, or WAREHOUSE_PASSWORD_SECRET_ID (Secrets Manager; a plain string, or JSON
with a `password` key as RDS and Redshift store it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from urllib.parse import unquote

from zoho_pipelines.redaction import register_secret
from zoho_pipelines.warehouse.base import WarehouseError

URL_VARIABLE = "WAREHOUSE_URL"


@dataclass(frozen=True)
class WarehouseUrl:
    """WAREHOUSE_URL split into scheme, credentials and the rest (`host[:port][/db][?query]`)."""

    scheme: str
    address: str
    user: str | None = None
    password: str | None = field(default=None, repr=False)

    def without_credentials(self) -> str:
        return f"{self.scheme}://{self.address}"


def split_url(url: str) -> WarehouseUrl:
    """Cut the credentials off `url`. They end at the last `@`, so a raw `#`, `?`, `/` or `@` in
    the password is fine; a `%` must be written `%25`, and an `@` after the host `%40`."""
    scheme, separator, rest = url.partition("://")
    if not separator or not scheme:
        raise WarehouseError(f"{URL_VARIABLE} must look like scheme://user:password@host:port/database")
    userinfo, at, address = rest.rpartition("@")
    if not at:
        return WarehouseUrl(scheme, rest)
    user, _, password = userinfo.partition(":")
    secret = unquote(password) if password else None
    register_secret(secret)
    return WarehouseUrl(scheme, address, unquote(user) or None, secret)


def password_from_secret(secret_id: str, *, endpoint_url: str | None = None) -> str:
    """The password stored in Secrets Manager as `secret_id`; errors name the secret, never its value."""
    import boto3  # deferred: only deployments that keep the password there pay for the import

    from zoho_pipelines.zoho.credentials import _region_from_arn, _silence_secret_payloads

    _silence_secret_payloads()
    client = boto3.client(
        "secretsmanager", endpoint_url=endpoint_url, region_name=_region_from_arn(secret_id)
    )
    try:
        text = client.get_secret_value(SecretId=secret_id)["SecretString"]
    except Exception as exc:  # botocore's errors and network failures alike
        raise WarehouseError(
            f"WAREHOUSE_PASSWORD_SECRET_ID: cannot read secret {secret_id} ({type(exc).__name__})"
        ) from None
    try:
        document = json.loads(text)
    except ValueError:
        document = None
    password = document.get("password") if isinstance(document, dict) else text
    if not isinstance(password, str) or not password:
        raise WarehouseError(f"WAREHOUSE_PASSWORD_SECRET_ID: secret {secret_id} holds no password")
    register_secret(password)
    return password


def choose_password(
    url_password: str | None,
    *,
    password: str | None = None,
    secret_id: str | None = None,
    endpoint_url: str | None = None,
) -> str | None:
    """WAREHOUSE_PASSWORD, else the secret WAREHOUSE_PASSWORD_SECRET_ID names, else the URL's."""
    if password and secret_id:
        raise WarehouseError("set WAREHOUSE_PASSWORD or WAREHOUSE_PASSWORD_SECRET_ID, not both")
    if password:
        register_secret(password)
        return password
    if secret_id:
        return password_from_secret(secret_id, endpoint_url=endpoint_url)
    return url_password


def scrub(text: str, *secrets: str | None) -> str:
    """`text` with each of `secrets` masked: driver messages may quote connection parameters."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text
