"""Deterministic, vectorised value generators for CRM fields.

A record is never stored: each field value is a pure function of (seed, module, record index,
version, field). Hashes for a whole page are computed with numpy in one pass (splitmix64), and a
generator turns a column of hashes into a column of JSON-ready values, so a page of 200 records
costs a few numpy operations per field rather than 200 Python random generators.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import numpy as np

if TYPE_CHECKING:
    from zoho_pipelines.sandbox.crm_store import RenderContext

U64 = np.uint64
_GOLDEN = U64(0x9E3779B97F4A7C15)
_MIX1 = U64(0xBF58476D1CE4E5B9)
_MIX2 = U64(0x94D049BB133111EB)
_UNIT = 1.0 / float(1 << 53)


def splitmix64(values: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser over a uint64 array: a fast, well-mixed hash (wraps silently)."""
    x = values.astype(U64, copy=True)
    x += _GOLDEN
    x ^= x >> U64(30)
    x *= _MIX1
    x ^= x >> U64(27)
    x *= _MIX2
    x ^= x >> U64(31)
    return x


def stable_salt(*parts: object) -> np.uint64:
    """A 64-bit salt from text parts, identical in every process (unlike the salted `hash()`)."""
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=8).digest()
    return U64(int.from_bytes(digest, "little"))


def unit_floats(hashes: np.ndarray) -> np.ndarray:
    """Uniform floats in [0, 1) from the top 53 bits of each hash."""
    return (hashes >> U64(11)).astype(np.float64) * _UNIT


def rehash(hashes: np.ndarray, salt: int) -> np.ndarray:
    """A second, independent draw from the same hashes."""
    return splitmix64(hashes ^ U64(salt))


def pick(pool: Sequence[Any], hashes: np.ndarray) -> list[Any]:
    """One pool entry per hash."""
    return [pool[i] for i in (hashes % U64(len(pool))).tolist()]


def null_mask(hashes: np.ndarray, share: float) -> np.ndarray:
    """True where a value should be null, for roughly `share` of the hashes."""
    if share <= 0.0:
        return np.zeros(len(hashes), dtype=bool)
    return unit_floats(rehash(hashes, 0x5EED)) < share


def with_nulls(values: list[Any], mask: np.ndarray) -> list[Any]:
    if not mask.any():
        return values
    return [None if is_null else value for value, is_null in zip(values, mask.tolist(), strict=True)]


class TimeFormatter:
    """Renders epoch seconds as ISO-8601 in the org time zone, with its offset (+05:30 style).

    Offsets are looked up once per hour bucket, so zones with daylight saving stay correct while
    a page of timestamps costs one vectorised numpy formatting call.
    """

    def __init__(self, timezone: str) -> None:
        self.zone = ZoneInfo(timezone)
        self._offsets: dict[int, tuple[int, str]] = {}

    def _offset(self, hour: int) -> tuple[int, str]:
        cached = self._offsets.get(hour)
        if cached is None:
            delta = datetime.fromtimestamp(hour * 3600, UTC).astimezone(self.zone).utcoffset()
            seconds = int(delta.total_seconds()) if delta else 0
            sign = "+" if seconds >= 0 else "-"
            minutes = abs(seconds) // 60
            cached = (seconds, f"{sign}{minutes // 60:02d}:{minutes % 60:02d}")
            self._offsets[hour] = cached
        return cached

    def format_seconds(self, seconds: np.ndarray) -> list[str]:
        if len(seconds) == 0:
            return []
        # A page spans few hours: look each one's offset up once, not once per timestamp.
        hours, bucket = np.unique(seconds // 3600, return_inverse=True)
        offsets = [self._offset(hour) for hour in hours.tolist()]
        shift = np.array([offset for offset, _ in offsets], dtype=np.int64)[bucket]
        local = (seconds.astype(np.int64) + shift).astype("datetime64[s]")
        texts = np.datetime_as_string(local, unit="s").tolist()
        suffixes = [suffix for _, suffix in offsets]
        return [text + suffixes[index] for text, index in zip(texts, bucket.tolist(), strict=True)]

    def format_ms(self, epoch_ms: int) -> str:
        return self.format_seconds(np.array([epoch_ms // 1000], dtype=np.int64))[0]

    def format_datetime(self, moment: datetime) -> str:
        return self.format_ms(int(moment.timestamp() * 1000))


def parse_datetime_ms(text: str) -> int:
    """Epoch ms of an ISO-8601 date-time with an offset (raises ValueError otherwise)."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError("a date-time needs an offset")
    return int(moment.timestamp() * 1000)


Generator = Callable[["RenderContext", str], list[Any]]
"""A generator gets the render context and its own field api_name (to fetch the field's hashes)."""


@dataclass(frozen=True)
class Choice:
    pool: tuple[Any, ...]
    null_share: float = 0.0

    def __call__(self, ctx: RenderContext, field: str) -> list[Any]:
        hashes = ctx.hashes(field)
        return with_nulls(pick(self.pool, hashes), null_mask(hashes, self.null_share))


@dataclass(frozen=True)
class MultiChoice:
    """A multiselect picklist: a sorted, duplicate-free subset (possibly empty) of the pool."""

    pool: tuple[str, ...]
    max_items: int = 3

    def __call__(self, ctx: RenderContext, field: str) -> list[Any]:
        hashes = ctx.hashes(field)
        counts = (hashes % U64(self.max_items + 1)).tolist()
        out: list[Any] = []
        size = len(self.pool)
        for count, value in zip(counts, (hashes >> U64(8)).tolist(), strict=True):
            chosen = {(value >> (7 * k)) % size for k in range(count)}
            out.append([self.pool[i] for i in sorted(chosen)])
        return out


@dataclass(frozen=True)
class IntegerRange:
    low: int
    high: int
    null_share: float = 0.0
    as_text: bool = False

    def __call__(self, ctx: RenderContext, field: str) -> list[Any]:
        hashes = ctx.hashes(field)
        span = U64(self.high - self.low + 1)
        values = ((hashes % span).astype(np.int64) + self.low).tolist()
        if self.as_text:
            values = [str(value) for value in values]
        return with_nulls(values, null_mask(hashes, self.null_share))


@dataclass(frozen=True)
class DecimalRange:
    low: float
    high: float
    places: int = 2
    null_share: float = 0.0

    def __call__(self, ctx: RenderContext, field: str) -> list[Any]:
        hashes = ctx.hashes(field)
        values = np.round(self.low + unit_floats(hashes) * (self.high - self.low), self.places).tolist()
        return with_nulls(values, null_mask(hashes, self.null_share))


@dataclass(frozen=True)
class Flag:
    true_share: float = 0.5

    def __call__(self, ctx: RenderContext, field: str) -> list[Any]:
        return (unit_floats(ctx.hashes(field)) < self.true_share).tolist()


@dataclass(frozen=True)
class DateAround:
    """A date within [anchor - days_before, anchor + days_after]."""

    days_before: int
    days_after: int
    null_share: float = 0.0

    def __call__(self, ctx: RenderContext, field: str) -> list[Any]:
        hashes = ctx.hashes(field)
        span = U64(self.days_before + self.days_after + 1)
        offsets = (hashes % span).astype(np.int64) - self.days_before
        base = np.datetime64(ctx.anchor_date.isoformat(), "D")
        values = np.datetime_as_string(base + offsets.astype("timedelta64[D]"), unit="D").tolist()
        return with_nulls(values, null_mask(hashes, self.null_share))


@dataclass(frozen=True)
class DateTimeAround:
    """A date-time (whole seconds) within [anchor - days_before, anchor + days_after]."""

    days_before: int
    days_after: int
    null_share: float = 0.0

    def __call__(self, ctx: RenderContext, field: str) -> list[Any]:
        hashes = ctx.hashes(field)
        span = U64((self.days_before + self.days_after) * 86_400)
        seconds = (hashes % span).astype(np.int64) + (ctx.anchor_s - self.days_before * 86_400)
        return with_nulls(ctx.times.format_seconds(seconds), null_mask(hashes, self.null_share))


@dataclass(frozen=True)
class Template:
    """Text assembled from pools: `parts` are pools, `pattern` a str.format pattern over them."""

    pattern: str
    parts: tuple[tuple[str, ...], ...]
    null_share: float = 0.0

    def __call__(self, ctx: RenderContext, field: str) -> list[Any]:
        hashes = ctx.hashes(field)
        columns = [pick(pool, rehash(hashes, n)) for n, pool in enumerate(self.parts)]
        values = [self.pattern.format(*row) for row in zip(*columns, strict=True)]
        return with_nulls(values, null_mask(hashes, self.null_share))


@dataclass(frozen=True)
class Digits:
    """Phone-like text: a prefix and `count` digits."""

    prefix: str
    count: int
    null_share: float = 0.0

    def __call__(self, ctx: RenderContext, field: str) -> list[Any]:
        hashes = ctx.hashes(field)
        modulus = U64(10**self.count)
        values = [f"{self.prefix}{n:0{self.count}d}" for n in (hashes % modulus).tolist()]
        return with_nulls(values, null_mask(hashes, self.null_share))


@dataclass(frozen=True)
class LongText:
    """Multi-line notes mixing quotes, commas, unicode and emoji: the CSV and JSON escaping tests."""

    fragments: tuple[str, ...]
    max_fragments: int = 3
    null_share: float = 0.0

    def __call__(self, ctx: RenderContext, field: str) -> list[Any]:
        hashes = ctx.hashes(field)
        size = len(self.fragments)
        out: list[Any] = []
        for value in hashes.tolist():
            count = 1 + value % self.max_fragments
            out.append("\n".join(self.fragments[(value >> (9 * k + 4)) % size] for k in range(count)))
        return with_nulls(out, null_mask(hashes, self.null_share))


@dataclass(frozen=True)
class Derived:
    """A value computed from other fields of the same records (full names, e-mails, formulas)."""

    compute: Callable[[RenderContext], list[Any]]

    def __call__(self, ctx: RenderContext, field: str) -> list[Any]:
        return self.compute(ctx)
