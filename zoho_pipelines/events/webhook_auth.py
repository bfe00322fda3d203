"""Deciding whether a request really comes from Zoho.

Two proofs are accepted: an `X-Zoho-Secret` header equal to one of the configured webhook
secrets (several at once, so a secret can be rotated without dropping events), or, for
Notification API deliveries, the channel `token` Zoho echoes back, equal to a configured channel
token. Comparisons run in constant time against every configured value, so timing reveals
neither which secret matched nor how much of a guess was right.
Standard library and boto3 only: this module ships in the ingress Lambda.
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

logger = logging.getLogger(__name__)

# After a failed Secrets Manager read, wait this long before asking again (keeping the old
# secrets meanwhile), so an outage does not turn every request into a slow failing call.
_RETRY_AFTER_FAILURE_S = 10.0


class SecretsUnavailable(Exception):
    """The secret store could not be read and no earlier copy is cached (answered with 503)."""


def matches_any(candidate: str, accepted: Iterable[bytes]) -> bool:
    """True when `candidate` equals one of `accepted`; every value is compared, always."""
    # surrogatepass keeps the encoding one-to-one, so no odd input can collide with a secret.
    given = candidate.encode("utf-8", "surrogatepass")
    matched = False
    for secret in accepted:
        matched |= hmac.compare_digest(given, secret)
    return matched


def encode_secrets(values: Iterable[str]) -> tuple[bytes, ...]:
    """Non-empty, stripped secrets as bytes (the form `matches_any` compares)."""
    return tuple(value.strip().encode("utf-8") for value in values if value.strip())


def split_secret_list(text: str) -> list[str]:
    """A secret list as stored: a JSON list, a JSON object (every string value counts, e.g.
    {"current": ..., "previous": ...}), or comma-separated text."""
    try:
        data: Any = json.loads(text)
    except ValueError:
        return text.split(",")
    if isinstance(data, list):
        return [item for item in data if isinstance(item, str)]
    if isinstance(data, dict):
        return [item for item in data.values() if isinstance(item, str)]
    return text.split(",")


class WebhookSecrets:
    """The accepted webhook secrets: fixed ones from the environment plus, optionally, those in
    a Secrets Manager secret, re-read after `ttl_s` so a rotation takes effect without a deploy.

    Rotating without losing deliveries: add the new secret next to the old one, wait one TTL,
    switch Zoho's webhooks to the new secret, then remove the old one.
    """

    def __init__(
        self,
        static: Iterable[str] = (),
        *,
        secret_id: str | None = None,
        ttl_s: float = 60.0,
        fetch: Callable[[str], str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._static = encode_secrets(static)
        self._secret_id = secret_id
        self._ttl_s = ttl_s
        self._fetch = fetch
        self._clock = clock
        self._lock = threading.Lock()
        self._stored: tuple[bytes, ...] | None = None
        self._next_read_at = 0.0

    @property
    def configured(self) -> bool:
        return bool(self._static) or self._secret_id is not None

    def current(self) -> tuple[bytes, ...]:
        """All accepted secrets now; raises SecretsUnavailable if the store never answered."""
        if self._secret_id is None:
            return self._static
        with self._lock:
            now = self._clock()
            if now >= self._next_read_at:
                self._refresh(now)
            if self._stored is None:
                raise SecretsUnavailable
            return self._static + self._stored

    def _refresh(self, now: float) -> None:
        assert self._secret_id is not None
        fetch = self._fetch or _secrets_manager_fetch()
        self._fetch = fetch
        try:
            self._stored = encode_secrets(split_secret_list(fetch(self._secret_id)))
        except Exception as exc:  # any SDK or network failure: keep serving what we had
            logger.warning(
                "reading the webhook secrets from Secrets Manager failed (%s); %s",
                type(exc).__name__,
                "keeping the cached secrets" if self._stored is not None else "none cached",
            )
            self._next_read_at = now + min(self._ttl_s, _RETRY_AFTER_FAILURE_S)
            return
        self._next_read_at = now + self._ttl_s


def _secrets_manager_fetch() -> Callable[[str], str]:
    import boto3  # deferred: only deployments that keep secrets in Secrets Manager pay for it
    from botocore.config import Config

    client = boto3.client(
        "secretsmanager",
        config=Config(connect_timeout=2, read_timeout=3, retries={"mode": "standard", "max_attempts": 2}),
    )

    def fetch(secret_id: str) -> str:
        return client.get_secret_value(SecretId=secret_id)["SecretString"]

    return fetch
