"""Everything one running sandbox knows: configuration, data, tokens, limits, jobs, channels."""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from pathlib import Path
from typing import Any

from zoho_pipelines.clock import SYSTEM_CLOCK, Clock, OffsetClock
from zoho_pipelines.sandbox.auth import TokenRegistry
from zoho_pipelines.sandbox.bulk_read import BulkReadJobs
from zoho_pipelines.sandbox.config import SandboxConfig
from zoho_pipelines.sandbox.crm_notes_store import NotesStore
from zoho_pipelines.sandbox.crm_store import CrmStore
from zoho_pipelines.sandbox.limits import ConcurrencyGate, CreditLedger, FaultInjector, FaultRates
from zoho_pipelines.sandbox.notifications import NotificationHub
from zoho_pipelines.sandbox.page_tokens import PageTokens
from zoho_pipelines.sandbox.stats import SandboxStats

RUNTIME_SETTINGS = ("fault_rate", "rate_limit_rate", "drop_rate", "slow_rate", "slow_ms", "latency_ms")


def resolve_anchor(config: SandboxConfig, clock: Clock) -> SandboxConfig:
    """The config with its anchor fixed (start time to the second when not given)."""
    if config.anchor is not None:
        return config
    return dataclasses.replace(config, anchor=clock.now().replace(microsecond=0))


def default_clock(config: SandboxConfig) -> Clock:
    """The sandbox's clock when none is injected: it starts at the anchor.

    The anchor is "now" for the generated history, so a sandbox anchored in the past behaves
    the same on any date: channel expiries, page-token lifetimes, mutations and "days since"
    values are all measured from it, not from the machine's calendar.
    """
    return OffsetClock.starting_at(config.anchor) if config.anchor is not None else SYSTEM_CLOCK


class SandboxState:
    """Ground truth and runtime knobs of one sandbox; shared by routes, middleware and tests.

    `config.anchor` is always resolved here, so other components (Books, Projects) can derive
    their data from the same anchor as CRM.
    """

    def __init__(self, config: SandboxConfig, clock: Clock | None = None) -> None:
        self.clock = clock or default_clock(config)
        self.config = resolve_anchor(config, self.clock)
        self.crm = CrmStore(self.config, self.clock)
        self.notes = NotesStore()
        self.tokens = TokenRegistry.for_config(self.config, self.clock)
        self.stats = SandboxStats()
        self.credits = CreditLedger(self.config.credit_budget)
        self.gate = ConcurrencyGate(self.config.concurrency_limit)
        self.faults = FaultInjector(
            FaultRates(
                fault_rate=self.config.fault_rate,
                rate_limit_rate=self.config.rate_limit_rate,
                drop_rate=self.config.drop_rate,
                slow_rate=self.config.slow_rate,
                slow_ms=self.config.slow_ms,
                latency_ms=self.config.latency_ms,
            ),
            self.config.fault_seed,
        )
        self.page_tokens = PageTokens(self.config.page_token_ttl_s, self.clock)
        self.workdir = Path(tempfile.mkdtemp(prefix="zoho-sandbox-"))
        self.bulk = BulkReadJobs(self.crm, self.workdir, self.stats)
        self.notifications = NotificationHub(self.crm, self.stats, self.config.notify_timeout_s)
        self.crm.add_listener(self.notifications.publish)
        self.base_url = ""

    def expire_access_tokens(self) -> None:
        self.tokens.expire_all()

    def set_faults(self, **settings: float) -> dict[str, float]:
        """Change fault rates, latency or the concurrency limit while the sandbox runs."""
        unknown = set(settings) - {*RUNTIME_SETTINGS, "concurrency_limit"}
        if unknown:
            raise ValueError(f"unknown settings: {sorted(unknown)}")
        rates = self.faults.rates
        for name, value in settings.items():
            if name == "concurrency_limit":
                self.gate.limit = int(value)
            else:
                if name.endswith("_rate") and not 0.0 <= float(value) <= 1.0:
                    raise ValueError(f"{name} must be within [0, 1]")
                setattr(rates, name, float(value))
        return self.current_faults()

    def current_faults(self) -> dict[str, float]:
        rates = dataclasses.asdict(self.faults.rates)
        return {**rates, "concurrency_limit": self.gate.limit}

    def stats_snapshot(self) -> dict[str, Any]:
        snapshot = self.stats.snapshot()
        snapshot.update(
            credits_used=self.credits.used(),
            credits_remaining=self.credits.remaining(),
            credit_budget=self.credits.budget,
            tokens_issued=self.tokens.issued,
            faults=self.current_faults(),
        )
        return snapshot

    def close(self) -> None:
        self.notifications.close()
        self.bulk.close()
        shutil.rmtree(self.workdir, ignore_errors=True)
