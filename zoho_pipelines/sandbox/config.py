"""Sandbox configuration: one frozen value object shared by the server, the CLI and the tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

# Composite sort keys pack a record's index into the low bits of an int64 (see crm_store), which
# caps a module at this many records; a million a module fits with ample room for creates.
MAX_RECORDS_PER_MODULE = 4_000_000


@dataclass(frozen=True)
class SandboxConfig:
    """Everything that shapes the sandbox's data and behaviour.

    The same seed and anchor always produce the same records, so tests can compare what a client
    fetched with the ground truth the sandbox holds.
    """

    host: str = "127.0.0.1"
    port: int = 0
    seed: int = 7
    records_per_module: int = 2_000
    history_days: int = 30
    anchor: datetime | None = None
    timezone: str = "Asia/Kolkata"
    latency_ms: float = 0.0
    concurrency_limit: int = 10
    fault_rate: float = 0.0
    rate_limit_rate: float = 0.0
    drop_rate: float = 0.0
    slow_rate: float = 0.0
    slow_ms: float = 2_000.0
    fault_seed: int = 0
    token_ttl_s: int = 3_600
    page_token_ttl_s: int = 86_400
    credit_budget: int = 50_000
    mutate_every_s: float = 0.0
    client_id: str = "1000.SANDBOXCLIENTID"
    client_secret: str = "sandbox-client-secret-0123456789"  # noqa: S105 - a published sandbox credential
    refresh_token: str = "1000.sandbox-refresh-token-0123456789abcdef"  # noqa: S105 - published sandbox credential
    retry_after_s: float = 1.0
    """Seconds a 429 asks the caller to wait (details.retry_after and the Retry-After header)."""
    notify_timeout_s: float = 2.0
    """How long a Notification API delivery may take before it counts as failed."""

    def __post_init__(self) -> None:
        if not 0 < self.records_per_module <= MAX_RECORDS_PER_MODULE:
            raise ValueError(f"records_per_module must be in 1..{MAX_RECORDS_PER_MODULE}")
        if self.anchor is not None and self.anchor.tzinfo is None:
            raise ValueError("anchor must be timezone-aware")
        for name in ("fault_rate", "rate_limit_rate", "drop_rate", "slow_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be within [0, 1]")
        if self.fault_rate + self.rate_limit_rate + self.drop_rate > 1.0:
            raise ValueError("fault_rate + rate_limit_rate + drop_rate must not exceed 1")
