"""The fault suite's leak watch: every test here runs with all logging captured, and fails if a
secret shows up in it.

`leak_watch` (autouse) lowers the root logger to DEBUG for the test, so every library's chatter
(httpx, the sandbox, tenacity, Dagster) is captured, and at the end searches every record
(message, exception text and stack), every text a test hands it (a child process's stderr) and
every file under the test's tmp_path for each secret: the client secrets and refresh tokens of
the sandboxes the test registered, every access token those sandboxes issued, and any webhook
secret or channel token the test registered.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from zoho_pipelines.sandbox.server import RunningSandbox


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def record_text(record: logging.LogRecord) -> str:
    """Everything a log line could carry to a reader: the message, the traceback, the stack."""
    parts = [record.getMessage()]
    if record.exc_info:
        parts.append(logging.Formatter().formatException(record.exc_info))
    if record.exc_text:
        parts.append(record.exc_text)
    if record.stack_info:
        parts.append(record.stack_info)
    return "\n".join(parts)


@dataclass
class LeakWatch:
    """Secrets to look for, and texts (besides log records) to look in."""

    capture: _Capture
    root: Path
    secrets: set[str] = field(default_factory=set)
    sandboxes: list[RunningSandbox] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)

    def watch_sandbox(self, sandbox: RunningSandbox) -> RunningSandbox:
        """Its client secret, refresh token and every access token it issues become secrets."""
        assert sandbox.state is not None, "the leak watch reads issued tokens in process"
        self.sandboxes.append(sandbox)
        return sandbox

    def add_secrets(self, values: Iterable[str]) -> None:
        self.secrets.update(values)

    def add_text(self, text: str) -> None:
        self.texts.append(text)

    def all_secrets(self) -> set[str]:
        found = set(self.secrets)
        for sandbox in self.sandboxes:
            found.update((sandbox.config.client_secret, sandbox.config.refresh_token))
            assert sandbox.state is not None
            found.update(sandbox.state.tokens.issued_tokens())
        return {secret for secret in found if secret}

    def log_texts(self) -> list[str]:
        return [record_text(record) for record in self.capture.records]

    def leaks(self) -> list[str]:
        """One line per secret found, saying where (never the secret itself)."""
        secrets = self.all_secrets()
        found = []
        for index, text in enumerate([*self.log_texts(), *self.texts]):
            found += [f"text #{index} holds a secret" for secret in secrets if secret in text]
        for path in sorted(self.root.rglob("*")):
            if path.is_file():
                content = path.read_bytes()
                found += [f"{path} holds a secret" for secret in secrets if secret.encode() in content]
        return found


@pytest.fixture(autouse=True)
def leak_watch(tmp_path: Path) -> Iterator[LeakWatch]:
    root = logging.getLogger()
    capture = _Capture()
    previous_level = root.level
    root.addHandler(capture)
    root.setLevel(logging.DEBUG)
    watch = LeakWatch(capture, tmp_path)
    try:
        yield watch
    finally:
        root.removeHandler(capture)
        root.setLevel(previous_level)
    leaks = watch.leaks()
    assert not leaks, f"secrets leaked into logs or files: {leaks}"
