"""Sandbox configuration: one frozen value object shared by the server, the CLI and the tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

# Composite sort keys pack a record's index into the low bits of an int64 (see crm_store), which
# caps a module at this many records; a million a module fits with ample room for creates.
MAX_RECORDS_PER_MODULE = 4_000_000
TIME_SHAPES = ("realistic", "uniform")


def setting(default: Any, help: str) -> Any:
    """A SandboxConfig field and its command-line flag's --help line (sandbox/__main__.py)."""
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class SandboxConfig:
    """Everything that shapes the sandbox's data and behaviour.

    The same seed and anchor always produce the same records, so tests can compare what a client
    fetched with the ground truth the sandbox holds.
    """

    # Each field is a command-line flag (sandbox/__main__.py); its metadata "help" is that flag's
    # --help line, so a field without one fails test_every_sandbox_setting_has_help.
    host: str = setting("127.0.0.1", "Interface to listen on.")
    port: int = setting(0, "Port to listen on (0 picks a free one).")
    seed: int = setting(7, "Seed of the generated records: the same seed and anchor give the same data.")
    records_per_module: int = setting(
        2_000, f"Records generated per CRM module (1 to {MAX_RECORDS_PER_MODULE:,})."
    )
    history_days: int = setting(
        30, "Days of Created/Modified history the records span, ending at the anchor."
    )
    anchor: datetime | None = setting(
        None,
        "The sandbox's 'now', ISO 8601 with an offset (2026-11-25T00:00:00+00:00): history "
        "ends and the sandbox clock starts there; unset, the start time.",
    )
    timezone: str = setting("Asia/Kolkata", "The org's IANA time zone; record times carry its offset.")
    latency_ms: float = setting(0.0, "Delay added to every API call, in ms.")
    # Zoho refuses calls over the concurrency limit with 429 (Standard edition: 10 at once):
    # https://www.zoho.com/crm/developer/docs/api/v8/api-limits.html
    concurrency_limit: int = setting(
        10, "API calls served at once; one more is answered 429 TOO_MANY_REQUESTS."
    )
    fault_rate: float = setting(0.0, "Share (0-1) of API calls answered with a 500, 502 or 503.")
    rate_limit_rate: float = setting(0.0, "Share (0-1) of API calls answered 429 TOO_MANY_REQUESTS.")
    drop_rate: float = setting(0.0, "Share (0-1) of API calls whose connection closes without an answer.")
    slow_rate: float = setting(0.0, "Share (0-1) of API calls delayed a further --slow-ms.")
    slow_ms: float = setting(2_000.0, "Extra delay of a slow call (--slow-rate), in ms.")
    fault_seed: int = setting(
        0, "Seed of the fault draws: the same seed and call order give the same faults."
    )
    # Zoho's access tokens last an hour (expires_in 3600):
    # https://www.zoho.com/accounts/protocol/oauth/devices/refresh-access-token.html
    token_ttl_s: int = setting(3_600, "Lifetime of an access token, in s; then calls get 401 INVALID_TOKEN.")
    # Zoho: ten access tokens per refresh token in ten minutes, then blocked for the rest of them:
    # https://www.zoho.com/accounts/protocol/oauth/devices/refresh-access-token.html
    token_mint_limit: int = setting(
        10, "Access tokens one refresh token may mint per --token-mint-window-s; 0 disables the cap."
    )
    token_mint_window_s: int = setting(600, "Window of --token-mint-limit, in s.")
    # Zoho's page_token expires (EXPIRED_VALUE): https://www.zoho.com/crm/developer/docs/api/v8/get-records.html
    page_token_ttl_s: int = setting(86_400, "Lifetime of a CRM page_token, in s; then 400 EXPIRED_VALUE.")
    # Zoho's API credits per rolling 24 hours (paid editions: 50,000 plus a per-user share):
    # https://www.zoho.com/crm/developer/docs/api/v8/api-limits.html
    credit_budget: int = setting(
        50_000, "CRM API credits per rolling 24 h; once spent, calls are answered 429 LIMIT_EXCEEDED."
    )
    mutate_every_s: float = setting(
        0.0, "Every this many s, a few creates, edits and deletes in one CRM module; 0 never."
    )
    client_id: str = setting("1000.SANDBOXCLIENTID", "OAuth client id the accounts stand-in accepts.")
    client_secret: str = setting(
        "sandbox-client-secret-0123456789",  # a published sandbox credential, not a secret
        "OAuth client secret the accounts stand-in accepts.",
    )
    refresh_token: str = setting(
        "1000.sandbox-refresh-token-0123456789abcdef",  # a published sandbox credential, not a secret
        "Refresh token the accounts stand-in accepts.",
    )
    retry_after_s: float = setting(
        1.0, "Wait a 429 asks for, in s (details.retry_after and the Retry-After header)."
    )
    notify_timeout_s: float = setting(
        2.0, "How long a Notification API delivery may take before it counts as failed, in s."
    )
    # See crm_history for what "realistic" generates.
    time_shape: str = setting(
        "realistic",
        "Spread of Created/Modified times: realistic (office hours, bursts, midnight imports, "
        "mass updates, as Zoho orgs look) or uniform (even, for benchmarks matching older figures).",
    )
    midnight_share: float = setting(
        0.015, "realistic: share (0-1) of records created or last modified at 00:00:00 UTC."
    )
    mass_update_share: float = setting(
        0.06, "realistic: share (0-1) of records whose Modified_Time a mass update shares."
    )
    mass_update_size: int = setting(
        2_500, "realistic: records per mass update (one Modified_Time second each)."
    )

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
