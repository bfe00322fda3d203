"""The merge rule as SQL expressions: what a row becomes when an incoming version meets a stored one.

The rule is written once and used twice, which is what makes merges safe when runs overlap:

- by `resolve`, between the collapsed stage and the table as read beforehand (to count and to
  send only the rows that change), and
- by the statement that writes (`INSERT ... ON CONFLICT DO UPDATE` on PostgreSQL, the `UPDATE`
  on DuckDB), between the resolved row and the row that statement finds. A writer whose read went
  stale (another merge committed in between) therefore still cannot put an older version back:
  every column is decided again against the row being replaced.

Each side has two versions that only move forward (see `warehouse.sql`): the values, ordered by
(`_record_modified_time`, when they were read), and the newest deletion time; plus the newest
event of either kind, ordered by (`_modified_time`, `_synced_at`, `_partition`), which
`_modified_time`, `_synced_at` and `_partition` follow. Ties on the Zoho time go to the later
read, so two reads of one Modified_Time end the same in either merge order. A stored row keeps
when its values were read only through `_synced_at`, which a newer deletion takes over; for the
values kept on such a deleted row, a tie on `_record_modified_time` is broken against the
deletion's read (the only case where merge order can still matter, and only for a deleted row).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from zoho_pipelines.schema import DELETED, ID_COLUMN, MODIFIED_TIME, PARTITION, SYNCED_AT

RECORD_MODIFIED_TIME = "_record_modified_time"
EVENT_COLUMNS = (MODIFIED_TIME, SYNCED_AT, PARTITION)


def quote(name: str) -> str:
    """A double-quoted identifier (all three engines follow the SQL standard here)."""
    return '"' + name.replace('"', '""') + '"'


def at_least(left: Sequence[str], right: Sequence[str]) -> str:
    """`left >= right` compared lexicographically, spelled out (Redshift has no row comparison)."""
    first, other = left[0], right[0]
    if len(left) == 1:
        return f"{first} >= {other}"
    return f"({first} > {other} OR ({first} = {other} AND {at_least(left[1:], right[1:])}))"


@dataclass(frozen=True)
class Side:
    """One side of a merge: a table alias and where its versions live.

    `values_read_at` is the column saying when the values were read; `deleted_time` the column of
    the newest deletion, or None for a table-shaped row (deleted -> `_modified_time` is the
    deletion). `columns` limits the data columns the side carries (a stage from an older lake
    schema lacks newer fields); `may_be_missing` marks the outer side of a LEFT JOIN.
    """

    alias: str
    values_read_at: str = SYNCED_AT
    deleted_time: str | None = None
    columns: frozenset[str] | None = None
    may_be_missing: bool = False

    def col(self, name: str) -> str:
        return f"{self.alias}.{quote(name)}"

    def value(self, name: str) -> str:
        carried = self.columns is None or name in self.columns or name == RECORD_MODIFIED_TIME
        return self.col(name) if carried else "NULL"

    def deletion(self) -> str:
        if self.deleted_time is not None:
            return self.col(self.deleted_time)
        return f"(CASE WHEN {self.col(DELETED)} THEN {self.col(MODIFIED_TIME)} END)"

    def event(self) -> list[str]:
        return [self.col(name) for name in EVENT_COLUMNS]

    def absent(self) -> list[str]:
        return [f"{self.col(ID_COLUMN)} IS NULL"] if self.may_be_missing else []


def _any(*conditions: str) -> str:
    return "(" + " OR ".join(conditions) + ")"


def values_win(incoming: Side, stored: Side) -> str:
    """The incoming values replace the stored ones: newer Zoho time, or the same time read later."""
    mine, theirs = incoming.col(RECORD_MODIFIED_TIME), stored.col(RECORD_MODIFIED_TIME)
    newer = at_least(
        [mine, incoming.col(incoming.values_read_at)], [theirs, stored.col(stored.values_read_at)]
    )
    return f"({mine} IS NOT NULL AND {_any(*stored.absent(), f'{theirs} IS NULL', newer)})"


def event_wins(incoming: Side, stored: Side) -> str:
    """The incoming newest event is at least as new: (time, read, partition), compared in order."""
    return _any(*stored.absent(), at_least(incoming.event(), stored.event()))


def resolved_columns(incoming: Side, stored: Side, target_columns: Sequence[str]) -> list[tuple[str, str]]:
    """(column, expression) for every target column but `id`: the row after the merge rule."""
    takes_values = values_win(incoming, stored)
    takes_event = event_wins(incoming, stored)
    kept, arriving = stored.deletion(), incoming.deletion()
    deletion = (
        f"(CASE WHEN {kept} IS NULL THEN {arriving} "
        f"WHEN {arriving} IS NULL OR {kept} >= {arriving} THEN {kept} ELSE {arriving} END)"
    )
    values_time = (
        f"(CASE WHEN {takes_values} THEN {incoming.col(RECORD_MODIFIED_TIME)} "
        f"ELSE {stored.col(RECORD_MODIFIED_TIME)} END)"
    )
    resolved = []
    for name in target_columns:
        if name == ID_COLUMN:
            continue
        if name == DELETED:
            expression = (
                f"({deletion} IS NOT NULL AND ({values_time} IS NULL OR {deletion} >= {values_time}))"
            )
        else:
            condition = takes_event if name in EVENT_COLUMNS else takes_values
            expression = f"CASE WHEN {condition} THEN {incoming.value(name)} ELSE {stored.col(name)} END"
        resolved.append((name, expression))
    return resolved


def deletion_advances(incoming: Side, stored: Side) -> str:
    """The incoming deletion is newer than the stored one.

    A deletion at the same Zoho time as the stored values, but read before them, wins neither the
    event nor the values, yet still deletes the row (a deletion at or after the values' time
    does): without this the row would be skipped and the result would depend on merge order.
    """
    arriving, kept = incoming.deletion(), stored.deletion()
    return f"({arriving} IS NOT NULL AND ({kept} IS NULL OR {arriving} > {kept}))"


def changes(incoming: Side, stored: Side) -> str:
    """The incoming side changes the stored row at all (rows failing this are left alone)."""
    return (
        f"({event_wins(incoming, stored)} OR {values_win(incoming, stored)} "
        f"OR {deletion_advances(incoming, stored)})"
    )
