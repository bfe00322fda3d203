"""Keeping secrets out of logs and error text.

Two layers, because either alone leaks: known secret values (client secret, refresh token, access
tokens, webhook secrets) are registered as they are loaded or minted and masked wherever they
appear; and credential-shaped text (an `Authorization` header, `refresh_token=...` in a URL or
form body, `"access_token": "..."` in JSON) is masked even when the value was never registered.
"""

from __future__ import annotations

import logging
import re
import threading

MASK = "***"

_PATTERNS = [
    re.compile(r"(Zoho-oauthtoken\s+)[^\s\"',;]+", re.IGNORECASE),
    re.compile(r"(Bearer\s+)[^\s\"',;]+", re.IGNORECASE),
    re.compile(
        r"((?:refresh_token|access_token|client_secret|code|token|secret|password)"
        r"[\"']?\s*[=:]\s*[\"']?)[^\s\"'&,;}]+",
        re.IGNORECASE,
    ),
    re.compile(r"(X-Zoho-Secret[\"']?\s*[=:]\s*[\"']?)[^\s\"'&,;}]+", re.IGNORECASE),
]

_lock = threading.Lock()
_secrets: set[str] = set()


def register_secret(value: str | None) -> None:
    """Remember a secret so that it is masked wherever it shows up later."""
    if value and len(value) >= 4:
        with _lock:
            _secrets.add(value)


def redact(text: str) -> str:
    """Return `text` with every registered secret and credential-shaped value masked."""
    with _lock:
        known = sorted(_secrets, key=len, reverse=True)
    for secret in known:
        if secret in text:
            text = text.replace(secret, MASK)
    for pattern in _PATTERNS:
        text = pattern.sub(lambda match: match.group(1) + MASK, text)
    return text


class RedactingFilter(logging.Filter):
    """A logging filter that rewrites each record's final message through `redact`."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if record.exc_info and record.exc_info[1] is not None:
            # Render the traceback now, redacted, so handlers never format the raw exception.
            formatter = logging.Formatter()
            record.exc_text = redact(formatter.formatException(record.exc_info))
            record.exc_info = None
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        return True


def install_redaction(logger: logging.Logger | None = None) -> None:
    """Attach the redacting filter to every handler of `logger` (the root logger by default)."""
    target = logger or logging.getLogger()
    for handler in target.handlers:
        if not any(isinstance(existing, RedactingFilter) for existing in handler.filters):
            handler.addFilter(RedactingFilter())


def configure_logging(level: str = "INFO") -> None:
    """Plain stdlib logging (what Dagster captures too), with secrets masked on every handler."""
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    install_redaction()
