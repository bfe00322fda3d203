"""Sandbox configuration: one frozen value object shared by the server, the CLI and the tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

# Composite sort keys pack a record's index into the low bits of an int64 (see crm_store), which
# caps a module at this many records; a million a module fits with ample room for creates.
MAX_RECORDS_PER_MODULE = 4_000_000
TIME_SHAPES = ("realistic", "uniform")


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
    token_mint_limit: int = 10
    """Access tokens one refresh token may mint per `token_mint_window_s` (Zoho: 10); 0 disables."""
    token_mint_window_s: int = 600
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
    time_shape: str = "realistic"
    """How generated Created/Modified times are spread (see crm_history): "realistic" (office
    hours, bursts, midnight imports, mass updates: what Zoho orgs look like) or "uniform" (the old
    even spread, for benchmarks that compare with earlier figures)."""
    midnight_share: float = 0.015
    """realistic: share of records created or last modified at exactly 00:00:00 UTC."""
    mass_update_share: float = 0.06
    """realistic: share of records whose Modified_Time is a mass-update second shared with others."""
    mass_update_size: int = 2_500
    """realistic: records per mass update (each mass update is one Modified_Time second)."""

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
        if self.time_shape not in TIME_SHAPES:
            raise ValueError(f"time_shape must be one of {TIME_SHAPES}")
        if (
            not 0.0 <= self.midnight_share + self.mass_update_share <= 1.0
            or min(self.midnight_share, self.mass_update_share) < 0.0
        ):
            raise ValueError("midnight_share and mass_update_share must be >= 0 and sum to at most 1")
        if self.mass_update_size < 2:
            raise ValueError("mass_update_size must be at least 2")

    @classmethod
    def clustered_day(cls, day: date, records: int = 100_000, **overrides: Any) -> SandboxConfig:
        """One UTC day of realistic history: `records` per module modified within `day`.

        The benchmark's clustered day (100,000 Deals, at least 1% at 00:00:00 UTC, at least 5%
        sharing a Modified_Time second with another record) is `clustered_day(day)`: the anchor is
        the next midnight, so the day's own 00:00:00 opens the window, and the default
        midnight_share (1.5%) and mass_update_share (6%) leave margin over both thresholds.
        """
        anchor = datetime.combine(day + timedelta(days=1), time(0), tzinfo=UTC)
        settings: dict[str, Any] = {
            "anchor": anchor,
            "history_days": 1,
            "records_per_module": records,
            "time_shape": "realistic",
            **overrides,
        }
        return cls(**settings)
