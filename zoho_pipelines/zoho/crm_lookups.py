"""Giving COQL rows the lookup names the records API carries.

COQL answers a lookup with its id alone (`{"id": ...}`); the records API, and so every table built
from it, also carries the name (`{"name": ..., "id": ...}`). Each kind of lookup gets its names
the cheapest way:

- a lookup to another record (`lookup`, e.g. Deals.Account_Name): the target module's display
  field is selected through the lookup (`Account_Name.Account_Name`) in the same COQL call, so
  names cost no call at all;
- a lookup to a user (`ownerlookup`, `userlookup`: Owner, Created_By, Modified_By): an org has
  few users, so each user's lookup value is learned once per client, from one record that
  references it, read by id through the records API (which renders it whole), and reused.

A lookup whose target has no display field in its metadata, or that does not fit in the 50
columns a COQL select may hold, is left to the caller's by-id completion (`unnamed`), which
renders it whole: slower, never wrong.

Each dotted column is a select-clause join, and COQL allows at most 15 in one query ("A maximum
of 15 SELECT clause JOINs can be applied in a single query", Zoho's v8 COQL limitations page,
https://www.zoho.com/crm/developer/docs/api/v8/COQL-Limitations.html). A select with more named
lookups is split (`plans`): the first query carries every field and 15 joins, and further queries
over the same rows carry the other lookups with their dotted columns, 15 at a time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from zoho_pipelines.zoho.batching import batched
from zoho_pipelines.zoho.crm_fields import MAX_FIELDS_PER_CALL
from zoho_pipelines.zoho.crm_records import CrmRecordReader, Record

USER_LOOKUPS = frozenset({"ownerlookup", "userlookup"})
MAX_SELECT_JOINS = 15


@dataclass(frozen=True)
class LookupPlan:
    """How the lookups among one select's fields get their names."""

    related: dict[str, str]
    """lookup api_name -> the dotted column that selects its target's display field"""
    users: tuple[str, ...]
    """user lookup api_names, named from the client's user cache"""
    unnamed: tuple[str, ...]
    """lookups left to by-id completion (removed from the select)"""

    def select(self, fields: Sequence[str]) -> list[str]:
        kept = [name for name in fields if name not in self.unnamed]
        return [*kept, *self.related.values()]


class LookupNamer:
    """Plans and fills lookup names for COQL reads; safe to share between reader threads."""

    def __init__(self, fields_of: Callable[[str], list[dict[str, Any]]], records: CrmRecordReader) -> None:
        self._fields_of = fields_of
        self._records = records
        self._metadata: dict[str, list[dict[str, Any]]] = {}
        # Replaced, never mutated, so readers on other threads need no lock.
        self._users: dict[str, dict[str, Any]] = {}
        # Held while fetching, so concurrent sub-windows wait for one call instead of each making it.
        self._metadata_lock = threading.Lock()
        self._users_lock = threading.Lock()

    def plan(self, module: str, select: Sequence[str]) -> LookupPlan:
        """The plan for a COQL select of `select` (at most 50 fields) from `module`."""
        types = {str(field["api_name"]): field for field in self._fields(module)}
        related: dict[str, str] = {}
        unnamed: list[str] = []
        room = MAX_FIELDS_PER_CALL - len(select)
        for name in select:
            field = types.get(name) or {}
            if field.get("data_type") != "lookup":
                continue
            display = self._display_field(((field.get("lookup") or {}).get("module") or {}).get("api_name"))
            if display is not None and room > 0:
                related[name] = f"{name}.{display}"
                room -= 1
            else:
                unnamed.append(name)
                room += 1  # the lookup leaves the select, its dotted partner need not enter
        users = tuple(name for name in select if (types.get(name) or {}).get("data_type") in USER_LOOKUPS)
        return LookupPlan(related, users, tuple(unnamed))

    def plans(self, module: str, select: Sequence[str]) -> list[tuple[list[str], LookupPlan]]:
        """(fields carried, plan) of each COQL query that reads `select` with names, 15 joins a query.

        The first query carries every field but the lookups past the 15th join; each further one
        carries those lookups (15 at most) and their dotted columns, over the same rows.
        """
        plan = self.plan(module, select)
        joins = list(plan.related.items())
        if len(joins) <= MAX_SELECT_JOINS:
            return [(list(select), plan)]
        moved = {lookup for lookup, _ in joins[MAX_SELECT_JOINS:]}
        first = LookupPlan(dict(joins[:MAX_SELECT_JOINS]), plan.users, plan.unnamed)
        plans = [([name for name in select if name not in moved], first)]
        plans.extend(
            ([lookup for lookup, _ in chunk], LookupPlan(dict(chunk), (), ()))
            for chunk in batched(joins[MAX_SELECT_JOINS:], MAX_SELECT_JOINS)
        )
        return plans

    def field_metadata(self, module: str) -> list[dict[str, Any]]:
        """`module`'s field metadata, read once per client (shared by the COQL reader)."""
        return self._fields(module)

    def name(self, module: str, plan: LookupPlan, rows: list[Record]) -> list[Record]:
        """`rows` with every planned lookup shaped as the records API shapes it.

        A user's lookup value is one shared dict for all the rows that point at that user (the
        rows are read, never edited, downstream); this runs for every row a sync reads.
        """
        related = list(plan.related.items())
        if related:
            for row in rows:
                for lookup, dotted in related:
                    name = row.pop(dotted, None)
                    value = row.get(lookup)
                    if value:
                        row[lookup] = {"name": name, "id": value["id"]}
        # Users are nearly always known already: name from the cache in one pass, and only when a
        # row points at a user not seen yet learn them (one call) and pass again (idempotent).
        if plan.users and not self._name_users(plan.users, rows):
            self._learn_users(module, plan.users, rows)
            self._name_users(plan.users, rows)
        return rows

    def _name_users(self, lookups: tuple[str, ...], rows: list[Record]) -> bool:
        """Name the user lookups of `rows` from the cache; False when some user is not in it."""
        users, complete = self._users, True
        for row in rows:
            for lookup in lookups:
                value = row.get(lookup)
                if value:
                    known = users.get(value["id"])
                    if known is None:
                        complete = False
                    else:
                        row[lookup] = known
        return complete

    def _learn_users(self, module: str, lookups: tuple[str, ...], rows: list[Record]) -> None:
        """Read, by id, one record per user not seen yet; its lookups name that user."""
        if not self._unknown_users(lookups, rows):
            return
        with self._users_lock:
            witnesses = self._unknown_users(lookups, rows)  # another thread may have learned them
            if not witnesses:
                return
            learned: dict[str, dict[str, Any]] = {}
            for batch in self._records.iter_by_ids(module, dict.fromkeys(witnesses.values()), lookups):
                for record in batch:
                    for lookup in lookups:
                        value = record.get(lookup)
                        if value:
                            learned[value["id"]] = value
            self._users = {**self._users, **learned}

    def _unknown_users(self, lookups: tuple[str, ...], rows: list[Record]) -> dict[str, str]:
        """user id -> id of a row that references it, for users not in the cache."""
        witnesses: dict[str, str] = {}
        known = self._users
        for row in rows:
            for lookup in lookups:
                value = row.get(lookup)
                if value and value["id"] not in known and value["id"] not in witnesses:
                    witnesses[value["id"]] = row["id"]
        return witnesses

    def _fields(self, module: str) -> list[dict[str, Any]]:
        with self._metadata_lock:
            cached = self._metadata.get(module)
            if cached is None:
                cached = self._metadata[module] = self._fields_of(module)
        return cached

    def _display_field(self, module: str | None) -> str | None:
        if not module:
            return None
        for field in self._fields(module):
            if field.get("display_field"):
                return str(field["api_name"])
        return None
