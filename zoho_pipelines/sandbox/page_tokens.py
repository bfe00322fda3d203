"""CRM `page_token`s: signed, self-contained continuation tokens bound to their query.

A token carries the sort key of the last record served (keyset paging), how many records the
walk has served so far (Zoho stops at 100,000), its expiry, and a digest of the other query
parameters: a call that changes them gets TOKEN_BOUND_DATA_MISMATCH, as Zoho answers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

import orjson

from zoho_pipelines.clock import Clock, epoch_ms

PAGE_TOKEN_RECORD_LIMIT = 100_000


class PageTokenError(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class PageCursor:
    binding: str
    last_key: int
    served: int
    expires_at_ms: int


def binding_digest(params: dict[str, str]) -> str:
    canonical = orjson.dumps(params, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()[:24]


class PageTokens:
    def __init__(self, ttl_s: int, clock: Clock) -> None:
        self.ttl_s = ttl_s
        self.clock = clock
        self._secret = secrets.token_bytes(32)

    def mint(self, binding: str, last_key: int, served: int) -> tuple[str, int]:
        """A token for the next page and its expiry (epoch ms)."""
        expires_at_ms = epoch_ms(self.clock) + self.ttl_s * 1000
        payload = orjson.dumps([binding, last_key, served, expires_at_ms])
        body = base64.urlsafe_b64encode(payload).rstrip(b"=")
        signature = hmac.new(self._secret, body, hashlib.sha256).hexdigest()[:32]
        return f"{body.decode()}.{signature}", expires_at_ms

    def read(self, token: str, binding: str) -> PageCursor:
        body, _, signature = token.partition(".")
        expected = hmac.new(self._secret, body.encode(), hashlib.sha256).hexdigest()[:32]
        if not hmac.compare_digest(signature, expected):
            raise PageTokenError("INVALID_DATA")
        padded = body + "=" * (-len(body) % 4)
        bound, last_key, served, expires_at_ms = orjson.loads(base64.urlsafe_b64decode(padded))
        if expires_at_ms <= epoch_ms(self.clock):
            raise PageTokenError("EXPIRED_VALUE")
        if bound != binding:
            raise PageTokenError("TOKEN_BOUND_DATA_MISMATCH")
        return PageCursor(bound, last_key, served, expires_at_ms)
