"""The webhook ingress: API Gateway HTTP API (payload v2) -> authenticated, normalised events.

`handler(event, context)` is the Lambda entry point. It answers quickly and does no processing
inline: it authenticates, normalises and hands events to the bus, nothing else.

    413  body larger than 256 KB (checked before anything is decoded or parsed)
    401  no valid `X-Zoho-Secret` and no valid Notification API channel token; no detail given,
         and unauthenticated callers never learn anything about their body
    400  authenticated but malformed (bad JSON, base64, charset, media type, missing fields)
    503  the bus (or the secret store) did not accept the events: Zoho retries, nothing is lost
    200  {"accepted": n, "event_ids": [...]}

Configuration (environment):
    ZOHO_WEBHOOK_SECRETS                 comma-separated accepted secrets (rotation: list both)
    ZOHO_WEBHOOK_SECRETS_SECRET_ID       Secrets Manager secret holding more accepted secrets
    ZOHO_WEBHOOK_SECRETS_TTL_SECONDS     how long that secret is cached (default 60)
    ZOHO_CHANNEL_TOKENS                  comma-separated Notification API channel tokens
    ZOHO_CHANNEL_TOKENS_SECRET_ID        Secrets Manager secret holding more channel tokens (same TTL)
    EVENT_BUS_NAME                       default zoho-integration-bus

Imports only the standard library and boto3 (the Lambda ships nothing else); in particular not
`zoho_pipelines.settings`, which needs pydantic, nor `zoho_pipelines.clock`, which the Lambda
asset (cdk/zoho_infra/assets.py) does not carry yet: the handler takes any object with `now()`
(a `zoho_pipelines.clock.Clock`) and defaults to `WallClock`, the same machine clock.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from zoho_pipelines.events.model import (
    MalformedEventError,
    ZohoEvent,
    is_notification_payload,
    load_json_object,
    parse_notification,
    parse_webhook,
)
from zoho_pipelines.events.publisher import EventBridgePublisher, EventPublisher, EventTooLarge, PublishError
from zoho_pipelines.events.request import (
    MAX_BODY_BYTES,
    IncomingRequest,
    RequestTooLarge,
    body_fields,
    body_text,
    is_json_body,
    read_request,
)
from zoho_pipelines.events.webhook_auth import SecretsUnavailable, WebhookSecrets, matches_any

if TYPE_CHECKING:
    from zoho_pipelines.clock import Clock

logger = logging.getLogger(__name__)

SECRET_HEADER = "x-zoho-secret"  # noqa: S105 (a header name)
DEFAULT_EVENT_BUS = "zoho-integration-bus"
_ENVIRONMENT_VARIABLES = (
    "ZOHO_WEBHOOK_SECRETS",
    "ZOHO_WEBHOOK_SECRETS_SECRET_ID",
    "ZOHO_WEBHOOK_SECRETS_TTL_SECONDS",
    "ZOHO_CHANNEL_TOKENS",
    "ZOHO_CHANNEL_TOKENS_SECRET_ID",
    "EVENT_BUS_NAME",
    "AWS_ENDPOINT_URL",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
)


class ConfigurationError(ValueError):
    """The ingress environment is unusable (answered with 503 and logged, never echoed)."""


class WallClock:
    """The machine's clock, `zoho_pipelines.clock.SYSTEM_CLOCK`'s twin for the Lambda asset."""

    def now(self) -> datetime:
        return datetime.now(UTC)


WALL_CLOCK = WallClock()


@dataclass(frozen=True)
class IngressConfig:
    webhook_secrets: tuple[str, ...] = ()
    webhook_secrets_secret_id: str | None = None
    webhook_secrets_ttl_s: float = 60.0
    channel_tokens: tuple[str, ...] = ()
    channel_tokens_secret_id: str | None = None
    event_bus_name: str = DEFAULT_EVENT_BUS
    max_body_bytes: int = MAX_BODY_BYTES

    def __repr__(self) -> str:  # the secrets must never reach a log line or a traceback
        return (
            f"IngressConfig(webhook_secrets=<{len(self.webhook_secrets)}>, "
            f"webhook_secrets_secret_id={self.webhook_secrets_secret_id!r}, "
            f"channel_tokens=<{len(self.channel_tokens)}>, event_bus_name={self.event_bus_name!r})"
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> IngressConfig:
        env = os.environ if environ is None else environ
        ttl_text = env.get("ZOHO_WEBHOOK_SECRETS_TTL_SECONDS", "").strip() or "60"
        try:
            ttl = float(ttl_text)
        except ValueError:
            raise ConfigurationError("ZOHO_WEBHOOK_SECRETS_TTL_SECONDS must be a number") from None
        if not 0 <= ttl <= 86_400:
            raise ConfigurationError("ZOHO_WEBHOOK_SECRETS_TTL_SECONDS must be within 0-86400")
        return cls(
            webhook_secrets=_csv(env.get("ZOHO_WEBHOOK_SECRETS", "")),
            webhook_secrets_secret_id=env.get("ZOHO_WEBHOOK_SECRETS_SECRET_ID", "").strip() or None,
            webhook_secrets_ttl_s=ttl,
            channel_tokens=_csv(env.get("ZOHO_CHANNEL_TOKENS", "")),
            channel_tokens_secret_id=env.get("ZOHO_CHANNEL_TOKENS_SECRET_ID", "").strip() or None,
            event_bus_name=env.get("EVENT_BUS_NAME", "").strip() or DEFAULT_EVENT_BUS,
        )


class _Rejected(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class IngressHandler:
    """Authenticate, normalise, publish; one instance serves many requests (and threads)."""

    def __init__(
        self,
        config: IngressConfig,
        publisher: EventPublisher,
        *,
        secrets: WebhookSecrets | None = None,
        clock: Clock = WALL_CLOCK,
    ) -> None:
        self._config = config
        self._publisher = publisher
        self._secrets = secrets or WebhookSecrets(
            config.webhook_secrets,
            secret_id=config.webhook_secrets_secret_id,
            ttl_s=config.webhook_secrets_ttl_s,
        )
        # Channel tokens rotate like webhook secrets: every value of the secret is accepted.
        self._channel_tokens = WebhookSecrets(
            config.channel_tokens,
            secret_id=config.channel_tokens_secret_id,
            ttl_s=config.webhook_secrets_ttl_s,
        )
        self._clock = clock
        if not self._secrets.configured and not self._channel_tokens.configured:
            logger.warning("no webhook secrets or channel tokens configured: every request gets 401")

    def __call__(self, event: Mapping[str, Any], context: Any = None) -> dict[str, Any]:
        started = time.perf_counter()
        request_id = None
        try:
            request = read_request(event, self._config.max_body_bytes)
            request_id = request.request_id
            events = self._accept(request)
            self._publisher.publish(events)
        except _Rejected as rejection:
            return self._answer(rejection.status, {"message": rejection.message}, request_id, started)
        except RequestTooLarge:
            return self._answer(413, {"message": "Payload too large"}, request_id, started)
        except MalformedEventError as exc:
            # Framing that API Gateway itself never produces (headers that are not an object...).
            return self._answer(400, {"message": f"Bad request: {exc}"}, request_id, started)
        except EventTooLarge:
            return self._answer(413, {"message": "Event too large for the event bus"}, request_id, started)
        except (PublishError, SecretsUnavailable) as exc:
            logger.error("request %s not forwarded: %s", request_id, type(exc).__name__)
            return self._answer(503, {"message": "Service unavailable"}, request_id, started, retry=True)
        ids = [item.event_id for item in events]
        return self._answer(200, {"accepted": len(ids), "event_ids": ids}, request_id, started)

    def _accept(self, request: IncomingRequest) -> list[ZohoEvent]:
        """Authenticate first; only an authenticated caller learns why a body is malformed."""
        provided = request.header(SECRET_HEADER)
        if provided is not None:
            if not matches_any(provided, self._secrets.current()):
                raise _Rejected(401, "Unauthorized")
            try:
                return self._normalise(request)
            except MalformedEventError as exc:
                raise _Rejected(400, f"Bad request: {exc}") from None
        return self._accept_by_channel_token(request)

    def _accept_by_channel_token(self, request: IncomingRequest) -> list[ZohoEvent]:
        try:
            payload = load_json_object(body_text(request)) if is_json_body(request) else None
        except MalformedEventError:
            payload = None
        token = payload.get("token") if payload is not None and is_notification_payload(payload) else None
        if not isinstance(token, str) or not matches_any(token, self._channel_tokens.current()):
            raise _Rejected(401, "Unauthorized")
        try:
            return parse_notification(payload, received_at=self._now())
        except MalformedEventError as exc:
            raise _Rejected(400, f"Bad request: {exc}") from None

    def _normalise(self, request: IncomingRequest) -> list[ZohoEvent]:
        fields = body_fields(request)
        if is_notification_payload(fields):
            return parse_notification(fields, received_at=self._now())
        # Webhook custom parameters may arrive in the query string; the body wins on a clash.
        return parse_webhook({**request.query, **fields}, received_at=self._now())

    def _now(self) -> datetime:
        """The receive time: the events' `received_at`, and what their times are judged against."""
        return self._clock.now().astimezone(UTC)

    def _answer(
        self,
        status: int,
        body: dict[str, Any],
        request_id: str | None,
        started: float,
        *,
        retry: bool = False,
    ) -> dict[str, Any]:
        logger.info(
            "ingress %s",
            json.dumps(
                {
                    "status": status,
                    "request_id": request_id,
                    "events": body.get("event_ids", []),
                    "ms": round((time.perf_counter() - started) * 1000, 2),
                }
            ),
        )
        headers = {"content-type": "application/json"}
        if retry:
            headers["retry-after"] = "5"
        return {"statusCode": status, "headers": headers, "body": json.dumps(body), "isBase64Encoded": False}


def make_handler(
    config: IngressConfig | None = None,
    *,
    publisher: EventPublisher | None = None,
    events_client: Any = None,
    secrets: WebhookSecrets | None = None,
    clock: Clock = WALL_CLOCK,
    sleep: Callable[[float], None] = time.sleep,
) -> IngressHandler:
    """An ingress handler; by default configured from the environment and publishing to
    EventBridge through a boto3 client (pass `events_client` to wrap or stub that edge)."""
    config = config or IngressConfig.from_env()
    if publisher is None:
        client = events_client or _eventbridge_client()
        publisher = EventBridgePublisher(client, config.event_bus_name, sleep=sleep)
    return IngressHandler(config, publisher, secrets=secrets, clock=clock)


def _eventbridge_client() -> Any:
    import boto3
    from botocore.config import Config

    # Short timeouts: a slow bus should become a quick 503 (Zoho retries), not a Lambda timeout.
    return boto3.client(
        "events",
        config=Config(connect_timeout=2, read_timeout=5, retries={"mode": "standard", "max_attempts": 2}),
    )


_cached: tuple[tuple[str | None, ...], IngressHandler] | None = None
_cache_lock = threading.Lock()


def handler(event: Mapping[str, Any], context: Any = None) -> dict[str, Any]:
    """Lambda entry point. The handler (and its boto3 client and secret cache) lives as long as
    the container, rebuilt only if the environment it was built from changes."""
    global _cached
    key = tuple(os.environ.get(name) for name in _ENVIRONMENT_VARIABLES)
    with _cache_lock:
        if _cached is None or _cached[0] != key:
            try:
                _cached = (key, make_handler())
            except ConfigurationError as exc:
                logger.error("ingress misconfigured: %s", exc)
                return {
                    "statusCode": 503,
                    "headers": {"content-type": "application/json"},
                    "body": json.dumps({"message": "Service unavailable"}),
                    "isBase64Encoded": False,
                }
        current = _cached[1]
    return current(event, context)


def _csv(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())
