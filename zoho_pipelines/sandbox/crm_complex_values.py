"""Generators for the CRM field types whose values are objects or lists, shaped as Zoho's records API
returns them (https://www.zoho.com/crm/developer/docs/api/v8/get-records.html, and the record
schemas of Zoho's v8 OpenAPI spec, record.json: Record.Tag, Image_Upload, FileDetails).

These are the shapes that hurt a pipeline: tags, multi-select and multi-user lookups (rows of a
linking module), multi-module lookups, subform rows, file and image uploads. Like every generator,
each is a pure function of (seed, module, record index, version, field), computed for a page at a
time; the record lookups a value points to are resolved with one render of the target module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from zoho_pipelines.sandbox.crm_fieldspec import USERS, FieldSpec
from zoho_pipelines.sandbox.crm_values import U64, null_mask, rehash, stable_salt, unit_floats

if TYPE_CHECKING:
    from zoho_pipelines.sandbox.crm_store import RenderContext

OWNERS = USERS[:-1]
TAG_COLOURS = ("#57B1FD", "#879BFC", "#658BA8", "#FD87BD", "#969696", "#F48435", "#1DB9B4", "#E7A826")
"""Colours from the Tag schema's enum (tags.json); a tag made without one has color_code null."""
TAG_NAMES = ("Hot", "VIP", "Q4 push", "Renewal risk", "Partner-sourced", "Trade show 2026", "GDPR", "Legacy")
ID_SPACE = 10**12
CHILD_ID_BASE = 5_725_767_001_000_000_000


def minified_user(user: dict[str, str]) -> dict[str, str]:
    return {"name": user["name"], "id": user["id"]}


def tag_value(module: str, name: str, colour: str | None) -> dict[str, Any]:
    """One tag as a record carries it: name, id, color_code (tags are per module in Zoho)."""
    tag_id = 5_725_767_000_000_300_000 + int(stable_salt("tag", module, name)) % 99_991
    return {"name": name, "id": str(tag_id), "color_code": colour}


def tag_pool(module: str) -> tuple[dict[str, Any], ...]:
    """The module's tags; the last one has no colour, as a tag created through the API may not."""
    return tuple(
        tag_value(module, name, TAG_COLOURS[n] if n < len(TAG_NAMES) - 1 else None)
        for n, name in enumerate(TAG_NAMES)
    )


def _child_ids(hashes: np.ndarray, salt: int, count: int) -> list[str]:
    """Ids of rows that live in another table (linking modules, subform rows, files)."""
    return [str(CHILD_ID_BASE + value % ID_SPACE) for value in rehash(hashes, salt + count).tolist()]


def _subsets(hashes: np.ndarray, size: int, max_items: int, empty_share: float) -> list[list[int]]:
    """Per hash, a sorted duplicate-free subset of range(size) (empty for about `empty_share`)."""
    empty = null_mask(hashes, empty_share).tolist()
    counts = (1 + hashes % U64(max_items)).tolist()
    picks = (hashes >> U64(8)).tolist()
    return [
        [] if is_empty else sorted({(value >> (7 * k)) % size for k in range(count)})
        for is_empty, count, value in zip(empty, counts, picks, strict=True)
    ]


@dataclass(frozen=True)
class Tags:
    """The standard Tag field: [{"name", "id", "color_code"}, ...], or [] when untagged."""

    empty_share: float = 0.6
    max_items: int = 3

    def __call__(self, ctx: RenderContext, field: str) -> list[Any]:
        pool = tag_pool(ctx.module.api_name)
        subsets = _subsets(ctx.hashes(field), len(pool), self.max_items, self.empty_share)
        return [[pool[i] for i in chosen] for chosen in subsets]


@dataclass(frozen=True)
class UserLookup:
    """A user lookup: {"name", "id", "email"} of one of the org's users, or null."""

    null_share: float = 0.2

    def __call__(self, ctx: RenderContext, field: str) -> list[Any]:
        hashes = ctx.hashes(field)
        empty = null_mask(hashes, self.null_share).tolist()
        users = (hashes % U64(len(OWNERS))).tolist()
        return [None if is_empty else dict(OWNERS[i]) for i, is_empty in zip(users, empty, strict=True)]


def _record_refs(ctx: RenderContext, module: str, hashes: np.ndarray) -> list[dict[str, str]]:
    """{"name", "id"} of one existing record of `module` per hash (one render for all of them)."""
    store = ctx.store
    target = store.columns[module]
    indices = (hashes % U64(target.initial_count)).astype(np.int64)
    names = store.display_names(module, indices)
    ids = target.ids[indices].tolist()
    return [{"name": name, "id": str(record_id)} for name, record_id in zip(names, ids, strict=True)]


@dataclass(frozen=True)
class MultiSelectLookup:
    """Rows of the linking module: [{"<connected field>": {"name", "id"}, "id": <linking row id>}]."""

    module: str
    connected_field: str
    max_items: int = 3
    empty_share: float = 0.35

    def __call__(self, ctx: RenderContext, field: str) -> list[Any]:
        hashes = ctx.hashes(field)
        subsets = _subsets(hashes, 1 << 20, self.max_items, self.empty_share)
        flat = np.array(
            [
                (record_hash ^ (pick * 0x9E3779B1)) & 0xFFFFFFFFFFFFFFFF
                for chosen, record_hash in zip(subsets, hashes.tolist(), strict=True)
                for pick in chosen
            ],
            dtype=np.uint64,
        )
        refs = iter(_record_refs(ctx, self.module, rehash(flat, 0x11)) if len(flat) else [])
        ids = iter(_child_ids(flat, 0x12, 0) if len(flat) else [])
        return [[{self.connected_field: next(refs), "id": next(ids)} for _ in chosen] for chosen in subsets]


@dataclass(frozen=True)
class MultiUserLookup:
    """Rows of the user linking module: [{"<connected field>": {"name", "id"}, "id": <row id>}]."""

    connected_field: str
    max_items: int = 3
    empty_share: float = 0.3

    def __call__(self, ctx: RenderContext, field: str) -> list[Any]:
        hashes = ctx.hashes(field)
        subsets = _subsets(hashes, len(OWNERS), self.max_items, self.empty_share)
        rows = []
        for chosen, record_hash in zip(subsets, hashes.tolist(), strict=True):
            rows.append(
                [
                    {
                        self.connected_field: minified_user(OWNERS[i]),
                        "id": str(CHILD_ID_BASE + (record_hash * 31 + i) % ID_SPACE),
                    }
                    for i in chosen
                ]
            )
        return rows


@dataclass(frozen=True)
class MultiModuleLookup:
    """One record of any of several modules: {"module": {"api_name", "id"}, "name", "id"}, or null."""

    modules: tuple[str, ...]
    null_share: float = 0.25

    def __call__(self, ctx: RenderContext, field: str) -> list[Any]:
        hashes = ctx.hashes(field)
        which = (hashes % U64(len(self.modules))).astype(np.int64)
        empty = null_mask(hashes, self.null_share)
        out: list[Any] = [None] * len(hashes)
        for position, module in enumerate(self.modules):
            rows = np.flatnonzero((which == position) & ~empty)
            if not len(rows):
                continue
            minified = {"api_name": module, "id": ctx.store.spec(module).module_id}
            refs = _record_refs(ctx, module, rehash(hashes[rows], 0x21))
            for row, ref in zip(rows.tolist(), refs, strict=True):
                out[row] = {"module": minified, **ref}
        return out


@dataclass(frozen=True)
class ConsentLookup:
    """The GDPR consent record a record points to (Data_Processing_Basis_Details): {"name", "id"}."""

    null_share: float = 0.4

    def __call__(self, ctx: RenderContext, field: str) -> list[Any]:
        hashes = ctx.hashes(field)
        empty = null_mask(hashes, self.null_share).tolist()
        names = ctx.column(ctx.module.display_field)
        ids = _child_ids(hashes, 0x31, 0)
        return [
            None if is_empty else {"name": name, "id": consent_id}
            for name, consent_id, is_empty in zip(names, ids, empty, strict=True)
        ]


@dataclass(frozen=True)
class RecordImage:
    """Record_Image (data_type profileimage): the photo's encrypted id as a string, or null."""

    null_share: float = 0.55

    def __call__(self, ctx: RenderContext, field: str) -> list[Any]:
        hashes = ctx.hashes(field)
        empty = null_mask(hashes, self.null_share).tolist()
        second = rehash(hashes, 0x41).tolist()
        return [
            None if is_empty else f"{first:016x}{other:016x}{first ^ other:016x}"
            for first, other, is_empty in zip(hashes.tolist(), second, empty, strict=True)
        ]


def _attachment_times(ctx: RenderContext, hashes: np.ndarray) -> list[str]:
    """When a file was attached: between the record's creation and its last modification."""
    span = np.maximum(ctx.modified_s - ctx.created_s, 0)
    return ctx.times.format_seconds(ctx.created_s + (unit_floats(hashes) * span).astype(np.int64))


@dataclass(frozen=True)
class FileUploads:
    """A file upload field: [{File_Name__s, Size__s, File_Id__s, id, ...__s}] (record.json FileDetails)."""

    extensions: tuple[str, ...] = ("pdf", "docx", "xlsx", "csv")
    max_items: int = 2
    empty_share: float = 0.5

    def __call__(self, ctx: RenderContext, field: str) -> list[Any]:
        hashes = ctx.hashes(field)
        times = _attachment_times(ctx, hashes)
        subsets = _subsets(hashes, 1 << 16, self.max_items, self.empty_share)
        out = []
        for row, (chosen, value) in enumerate(zip(subsets, hashes.tolist(), strict=True)):
            user = minified_user(OWNERS[value % len(OWNERS)])
            files = []
            for n, pick in enumerate(chosen):
                ext = self.extensions[pick % len(self.extensions)]
                files.append(
                    {
                        "Created_Time__s": times[row],
                        "File_Name__s": f"contract-{pick:05d}.{ext}",
                        "Modified_Time__s": times[row],
                        "Created_By__s": user,
                        "Size__s": f"{(pick % 9_000) / 10 + 1:.2f} KB",
                        "id": str(CHILD_ID_BASE + (value + n * 7_919) % ID_SPACE),
                        "Owner__s": user,
                        "Modified_By__s": user,
                        "File_Id__s": f"{value:016x}{pick:08x}",
                    }
                )
            out.append(files)
        return out


@dataclass(frozen=True)
class ImageUploads:
    """An image upload field: [{Preview_Id__s, File_Name__s, ..., State__s}] (record.json Image_Upload)."""

    max_items: int = 3
    empty_share: float = 0.5

    def __call__(self, ctx: RenderContext, field: str) -> list[Any]:
        hashes = ctx.hashes(field)
        times = _attachment_times(ctx, hashes)
        subsets = _subsets(hashes, 1 << 16, self.max_items, self.empty_share)
        out = []
        for row, (chosen, value) in enumerate(zip(subsets, hashes.tolist(), strict=True)):
            user = minified_user(OWNERS[value % len(OWNERS)])
            out.append(
                [
                    {
                        "Preview_Id__s": f"{value:016x}{pick:08x}p",
                        "File_Name__s": f"site-photo-{pick:05d}.jpg",
                        "Description__s": None,
                        "Size__s": f"{(pick % 4_000) / 10 + 5:.2f} KB",
                        "id": str(CHILD_ID_BASE + (value + n * 6_151) % ID_SPACE),
                        "Sequence_Number__s": n + 1,
                        "State__s": "active",
                        "File_Id__s": f"{value:016x}{pick:08x}",
                        "Created_Time__s": times[row],
                        "Modified_Time__s": times[row],
                        "Created_By__s": user,
                        "Owner__s": user,
                        "Modified_By__s": user,
                    }
                    for n, pick in enumerate(chosen)
                ]
            )
        return out


@dataclass(frozen=True)
class SubformRows:
    """Subform rows: each has its own id, Parent_Id {"name", "id"} and Created_Time, then its fields.

    The row fields are fixed (Item, Quantity, Unit_Price, Line_Total); see the Subform API
    (https://www.zoho.com/crm/developer/docs/api/v8/subforms.html).
    """

    items: tuple[str, ...]
    max_rows: int = 3
    empty_share: float = 0.3

    def __call__(self, ctx: RenderContext, field: str) -> list[Any]:
        hashes = ctx.hashes(field)
        names = ctx.column(ctx.module.display_field)
        ids = ctx.store.columns[ctx.module.api_name].ids[ctx.indices].tolist()
        created = ctx.times.format_seconds(ctx.created_s)
        subsets = _subsets(hashes, 1 << 16, self.max_rows, self.empty_share)
        out = []
        for row, (chosen, value) in enumerate(zip(subsets, hashes.tolist(), strict=True)):
            parent = {"name": names[row], "id": str(ids[row])}
            lines = []
            for n, pick in enumerate(chosen):
                quantity = 1 + pick % 50
                price = round(10 + (pick * 37 % 99_000) / 100, 2)
                lines.append(
                    {
                        "Created_Time": created[row],
                        "Parent_Id": parent,
                        "id": str(CHILD_ID_BASE + (value + n * 3_571) % ID_SPACE),
                        "Item": self.items[pick % len(self.items)],
                        "Quantity": quantity,
                        "Unit_Price": price,
                        "Line_Total": round(quantity * price, 2),
                    }
                )
            out.append(lines)
        return out


TAG_FIELD = FieldSpec("Tag", "text", "Tag", Tags(), json_type_override="jsonarray")
"""The standard Tag field every module has: data_type "text", json_type "jsonarray" (Fields Metadata
API, https://www.zoho.com/crm/developer/docs/api/v8/field-meta.html); records carry
[{"name", "id", "color_code"}] (record.json, Record.Tag)."""
