"""Twenty processes, one home, one sandbox with Zoho's mint limit on: one access token between them."""

from __future__ import annotations

import stat
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from zoho_pipelines.sandbox.server import RunningSandbox
from zoho_pipelines_tests.zoho.token_sharing_worker import run_worker, spawn_all, sync_a_day

PROCESSES = 20
REVOKED_PROCESSES = 8


def run_processes(
    sandbox: RunningSandbox, env: dict[str, str | None], count: int = PROCESSES
) -> list[dict[str, Any]]:
    """`count` spawned processes that meet at a barrier, then each read something; their reports."""
    anchor = sandbox.config.anchor
    assert anchor is not None
    start, end = anchor - timedelta(days=sandbox.config.history_days + 1), anchor + timedelta(days=1)
    reports = spawn_all(run_worker, [(index, env, start, end) for index in range(count)])
    return sorted(reports, key=lambda report: report["index"])


def worker_env(sandbox: RunningSandbox, home: Path) -> dict[str, str | None]:
    # The home alone decides the cache: the session-wide ZOHO_TOKEN_CACHE_DIR is unset (None).
    return {
        **sandbox.env(),
        "ZOHO_PIPELINES_HOME": str(home),
        "ZOHO_TOKEN_STORE": "file",
        "ZOHO_TOKEN_CACHE_DIR": None,
    }


@pytest.fixture
def limited_sandbox(sandbox_factory: Callable[..., RunningSandbox]) -> RunningSandbox:
    running = sandbox_factory(records_per_module=400)
    assert (running.config.token_mint_limit, running.config.token_mint_window_s) == (10, 600)
    return running


def test_twenty_processes_sharing_a_home_mint_one_token(
    limited_sandbox: RunningSandbox, tmp_path: Path
) -> None:
    reports = run_processes(limited_sandbox, worker_env(limited_sandbox, tmp_path / "home"))

    failures = [report["error"] for report in reports if not report["ok"]]
    assert failures == []
    assert all(report["count"] > 0 for report in reports)
    assert {(report["module"], report["kind"]) for report in reports} >= {
        (module, kind) for module in ("Leads", "Contacts", "Accounts", "Deals") for kind in (0, 1, 2)
    }
    assert limited_sandbox.stats()["tokens_issued"] == 1
    assert sum(report["token_refreshes"] for report in reports) == 1
    assert all(report["responses_by_status"].get(401, 0) == 0 for report in reports)

    cache = tmp_path / "home" / "zoho-tokens"
    files = sorted(cache.iterdir())
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(path.stat().st_mode) == 0o600 for path in files)
    assert [path.suffix for path in files] == [".json", ".lock"]
    text = files[0].read_text(encoding="utf-8")
    assert limited_sandbox.config.refresh_token not in text
    assert limited_sandbox.config.client_secret not in text
    assert limited_sandbox.state is not None
    assert limited_sandbox.state.tokens.issued_tokens()[0] in text  # the one shared token


def test_twenty_processes_syncing_different_days_into_the_lake_mint_one_token(
    limited_sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """Issue 10's case: twenty run tasks at once, each a different module-day into one lake."""
    anchor = limited_sandbox.config.anchor
    assert anchor is not None
    days = [(anchor - timedelta(days=1 + index)).date() for index in range(PROCESSES)]
    env = worker_env(limited_sandbox, tmp_path / "home")
    lake_dir = str(tmp_path / "lake")

    reports = spawn_all(sync_a_day, [(index, env, lake_dir, days[index]) for index in range(PROCESSES)])

    assert [report.get("error") for report in reports if not report["ok"]] == []
    assert len({(report["module"], report["day"]) for report in reports}) == PROCESSES
    assert len({report["day"] for report in reports}) == PROCESSES, "twenty different days"
    assert sum(report["records"] for report in reports) > 0
    assert all(report["rows"] >= report["records"] for report in reports)
    assert limited_sandbox.stats()["tokens_issued"] == 1
    assert sum(report["token_refreshes"] for report in reports) == 1
    assert all(report["responses_by_status"].get(401, 0) == 0 for report in reports)
    written = sorted((tmp_path / "lake").rglob("*.parquet"))
    assert len(written) == PROCESSES


def test_after_zoho_revokes_the_token_twenty_processes_mint_one_more(
    limited_sandbox: RunningSandbox, tmp_path: Path
) -> None:
    env = worker_env(limited_sandbox, tmp_path / "home")
    assert all(report["ok"] for report in run_processes(limited_sandbox, env, count=2))
    assert limited_sandbox.state is not None
    limited_sandbox.state.expire_access_tokens()  # the cached token is now refused with 401

    reports = run_processes(limited_sandbox, env, count=REVOKED_PROCESSES)

    assert [report["error"] for report in reports if not report["ok"]] == []
    assert limited_sandbox.stats()["tokens_issued"] == 2
    assert sum(report["token_refreshes"] for report in reports) == 1
    rejected = sum(report["responses_by_status"].get(401, 0) for report in reports)
    assert 1 <= rejected <= REVOKED_PROCESSES  # each process is turned away at most once


def test_processes_with_different_homes_do_not_share(limited_sandbox: RunningSandbox, tmp_path: Path) -> None:
    first = run_processes(limited_sandbox, worker_env(limited_sandbox, tmp_path / "one"), count=2)
    second = run_processes(limited_sandbox, worker_env(limited_sandbox, tmp_path / "two"), count=2)
    assert all(report["ok"] for report in first + second)
    assert limited_sandbox.stats()["tokens_issued"] == 2
    assert (tmp_path / "one" / "zoho-tokens").is_dir()
    assert (tmp_path / "two" / "zoho-tokens").is_dir()
