"""The mapping from document labels to named values, and from named values to CRM fields (mapping.toml).

Kept as data so an operator can teach the flow a new label or a new target field without a code
change; the parsing of values (dates in the common printed forms, amounts with currency and
thousands separators) is the only code, and it is shared by every extractor.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path

from zoho_pipelines.documents.model import ExtractedContent

DATE_FORMATS = ("%Y-%m-%d", "%B %d, %Y", "%b %d, %Y", "%d %B %Y", "%d %b %Y", "%m/%d/%Y", "%m/%d/%y")
_NOT_AMOUNT = re.compile(r"[^\d.\-]")


class MappingError(ValueError):
    """mapping.toml does not describe a usable mapping."""


@dataclass(frozen=True)
class FieldRule:
    name: str
    labels: tuple[str, ...]
    type: str  # date | amount | text


@dataclass(frozen=True)
class KindRule:
    name: str
    file_name_patterns: tuple[str, ...]
    fields: tuple[FieldRule, ...]


@dataclass(frozen=True)
class WritebackRule:
    kind: str
    module: str
    field: str
    zoho_field: str


@dataclass(frozen=True)
class DocumentMapping:
    kinds: tuple[KindRule, ...]
    writebacks: tuple[WritebackRule, ...]

    def kind_of(self, file_name: str) -> str | None:
        lowered = file_name.lower()
        for kind in self.kinds:
            if any(pattern in lowered for pattern in kind.file_name_patterns):
                return kind.name
        return None

    def kind(self, name: str) -> KindRule:
        for kind in self.kinds:
            if kind.name == name:
                return kind
        raise MappingError(f"no kind {name!r} in the mapping")

    def writebacks_for(self, kind: str, module: str) -> list[WritebackRule]:
        return [rule for rule in self.writebacks if rule.kind == kind and rule.module == module]

    def named_values(self, kind: str, content: ExtractedContent) -> tuple[dict[str, str], dict[str, float]]:
        """The kind's named values found in `content`, parsed, with the confidence of each.

        The first key-value pair (in reading order) whose label matches and whose value parses
        wins; a value that does not parse is not a value.
        """
        values: dict[str, str] = {}
        confidences: dict[str, float] = {}
        for rule in self.kind(kind).fields:
            for item in content.key_values:
                if normalize_label(item.key) not in rule.labels:
                    continue
                parsed = parse_value(rule.type, item.value)
                if parsed is not None:
                    values[rule.name], confidences[rule.name] = parsed, item.confidence
                    break
        return values, confidences


def normalize_label(label: str) -> str:
    return " ".join(label.replace(":", " ").split()).lower()


def parse_date(text: str) -> date | None:
    cleaned = " ".join(text.split())
    for pattern in DATE_FORMATS:
        try:
            return datetime.strptime(cleaned, pattern).date()
        except ValueError:
            continue
    return None


def parse_amount(text: str) -> Decimal | None:
    digits = _NOT_AMOUNT.sub("", text.replace(",", ""))
    try:
        return Decimal(digits) if digits else None
    except InvalidOperation:
        return None


def parse_value(kind: str, text: str) -> str | None:
    """`text` as the canonical string of `kind`: ISO date, plain decimal, or stripped text."""
    if kind == "date":
        parsed = parse_date(text)
        return parsed.isoformat() if parsed else None
    if kind == "amount":
        amount = parse_amount(text)
        return str(amount) if amount is not None else None
    stripped = text.strip()
    return stripped or None


def load_mapping(path: Path | None = None) -> DocumentMapping:
    """The mapping at `path`, or the one shipped with the package."""
    text = (
        path.read_text(encoding="utf-8")
        if path
        else resources.files("zoho_pipelines.documents").joinpath("mapping.toml").read_text(encoding="utf-8")
    )
    data = tomllib.loads(text)
    try:
        kinds = tuple(
            KindRule(
                name,
                tuple(pattern.lower() for pattern in spec["file_name_patterns"]),
                tuple(
                    FieldRule(field, tuple(normalize_label(label) for label in rule["labels"]), rule["type"])
                    for field, rule in spec["fields"].items()
                ),
            )
            for name, spec in data["kinds"].items()
        )
        writebacks = tuple(
            WritebackRule(rule["kind"], rule["module"], rule["field"], rule["zoho_field"])
            for rule in data.get("writeback", [])
        )
    except (KeyError, TypeError) as error:
        raise MappingError(f"mapping.toml: missing or malformed entry {error}") from None
    mapping = DocumentMapping(kinds, writebacks)
    for kind in kinds:
        for field in kind.fields:
            if field.type not in ("date", "amount", "text"):
                raise MappingError(f"{kind.name}.{field.name}: unknown type {field.type!r}")
    for rule in writebacks:
        if rule.field not in {field.name for field in mapping.kind(rule.kind).fields}:
            raise MappingError(f"writeback {rule.zoho_field}: {rule.kind} has no field {rule.field!r}")
    return mapping
