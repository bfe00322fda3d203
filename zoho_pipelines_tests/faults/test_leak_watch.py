"""The leak watch itself: it sees the libraries' debug chatter, and it does find a leaked token.

Without these, a watch that captured nothing (a logger level left at WARNING, a handler on the
wrong logger) would pass every other test in this package vacuously.
"""

from __future__ import annotations

import logging

from zoho_pipelines_tests.faults.conftest import LeakWatch
from zoho_pipelines_tests.pipeline.support import client_for


def test_the_watch_captures_debug_logs_of_every_library_and_finds_a_planted_token(
    sandbox_factory, tmp_path, leak_watch: LeakWatch
) -> None:
    sandbox = leak_watch.watch_sandbox(sandbox_factory(records_per_module=50))
    with client_for(sandbox) as client:
        client.crm.modules()
    assert sandbox.state is not None
    (token,) = sandbox.state.tokens.issued_tokens()
    loggers = {record.name.split(".")[0] for record in leak_watch.capture.records}
    assert {"httpx", "httpcore"} <= loggers, loggers
    assert not leak_watch.leaks(), "the client itself logs no secret"

    logging.getLogger("careless.module").debug("calling Zoho with token %s", token)
    (tmp_path / "dump.txt").write_text(f"refresh_token={sandbox.config.refresh_token}")
    leak_watch.add_text(f"Traceback ... client_secret={sandbox.config.client_secret}")
    leaks = leak_watch.leaks()
    assert len(leaks) == 3, leaks
    assert not any(token in line or sandbox.config.refresh_token in line for line in leaks)

    # Undo the plants, so this test's own closing check passes.
    leak_watch.capture.records.clear()
    leak_watch.texts.clear()
    (tmp_path / "dump.txt").unlink()
