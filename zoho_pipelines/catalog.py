"""The module catalog: which Zoho modules exist, how each is fetched, keyed and named.

The catalog is data (`catalog.toml`), in the spirit of Airbyte's declarative sources: a module is
a row of settings, not a class, so adding one is a line of configuration. This module only reads
that data, resolves a user's selection (`ZOHO_MODULES`) against it and names the lake and
warehouse targets every other layer uses.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

from zoho_pipelines.settings import load_code_location_settings

DEFAULT_CATALOG_PATH = Path(__file__).with_name("catalog.toml")
MODULES_ENV_VAR = "ZOHO_MODULES"

_API_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


class CatalogError(ValueError):
    """The catalog file or a module selection does not describe usable modules."""


class FetchStrategy(StrEnum):
    """How the client reads a module; the client owns the mechanics, the catalog the choice.

    AUTO lets the client pick (pages for small deltas, bulk for large ones); PAGES walks the
    list endpoint sorted by the cursor; WINDOWS asks for cursor time windows (Books' transaction
    lists filter on last_modified_time); COQL and BULK are CRM's query and Bulk Read APIs.
    """

    AUTO = "auto"
    PAGES = "pages"
    WINDOWS = "windows"
    COQL = "coql"
    BULK = "bulk"


class CursorFormat(StrEnum):
    """How the cursor field renders a modification time."""

    ISO8601 = "iso8601"  # "2024-03-05T10:15:30+05:30" (CRM) or "...-0800" (Books)
    EPOCH_MS = "epoch_ms"  # 1709633730000 (Projects' *_long fields)


@dataclass(frozen=True)
class ModuleSpec:
    """One syncable Zoho module and everything the layers need to know to move it."""

    app: str
    module: str
    api_name: str
    endpoint: str
    records_key: str
    primary_key: str
    cursor_field: str
    cursor_format: CursorFormat
    fetch: FetchStrategy
    deletions: bool
    parent: str | None = None
    fields: tuple[Mapping[str, Any], ...] = field(default=(), compare=False)

    @property
    def selector(self) -> str:
        """The module as written in ZOHO_MODULES."""
        return f"{self.app}:{self.module}"

    @property
    def lake_asset_key(self) -> tuple[str, str, str]:
        return ("lake", self.app, self.module)

    @property
    def warehouse_asset_key(self) -> tuple[str, str, str]:
        return ("warehouse", self.app, self.module)

    @property
    def group_name(self) -> str:
        return f"zoho_{self.app}"

    @property
    def warehouse_schema(self) -> str:
        return f"zoho_{self.app}"

    @property
    def warehouse_table(self) -> str:
        return self.module

    @property
    def has_field_metadata_api(self) -> bool:
        """CRM describes its fields at /settings/fields; the other apps rely on `fields` here."""
        return not self.fields


def snake_case(name: str) -> str:
    """`Sales_Orders` -> `sales_orders`, `CustomModule1` -> `custom_module1`."""
    return "_".join(part for part in _CAMEL_BOUNDARY.sub("_", name).lower().split("_") if part)


def _api_name_from_module(name: str) -> str:
    """A lower-case CRM name such as `price_books` reaches Zoho as `Price_Books`."""
    return "_".join(part[:1].upper() + part[1:] for part in name.split("_"))


def _field_metadata(fields: Mapping[str, Any], where: str) -> tuple[Mapping[str, Any], ...]:
    """Turn `name = "type"` / `name = {data_type=..., ...}` lines into Zoho metadata dicts."""
    rows = []
    for api_name, value in fields.items():
        if isinstance(value, str):
            row: dict[str, Any] = {"api_name": api_name, "data_type": value}
        elif isinstance(value, Mapping) and "data_type" in value:
            row = {"api_name": api_name, **value}
        else:
            raise CatalogError(f"{where}: field {api_name!r} needs a data_type")
        rows.append(MappingProxyType(row))
    return tuple(rows)


_APP_KEYS = frozenset(
    {"endpoint", "records_key", "primary_key", "cursor_field", "cursor_format", "fetch", "deletions"}
)
_MODULE_KEYS = _APP_KEYS | {"api_name", "parent", "fields"}


@dataclass(frozen=True)
class _App:
    name: str
    open: bool
    defaults: Mapping[str, Any]
    modules: Mapping[str, ModuleSpec]


class Catalog:
    """Every known module, by app, plus the rules to admit unlisted CRM modules."""

    def __init__(self, apps: Mapping[str, _App], default_selection: tuple[str, ...]) -> None:
        self._apps = dict(apps)
        self.default_selection = default_selection

    @classmethod
    def from_toml(cls, path: Path = DEFAULT_CATALOG_PATH) -> Catalog:
        try:
            document = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise CatalogError(f"cannot read module catalog {path}: {exc}") from exc
        return cls.from_mapping(document, source=str(path))

    @classmethod
    def from_mapping(cls, document: Mapping[str, Any], *, source: str = "catalog") -> Catalog:
        apps: dict[str, _App] = {}
        for app_name, app_table in document.get("apps", {}).items():
            defaults = {key: value for key, value in app_table.items() if key in _APP_KEYS}
            unknown = set(app_table) - _APP_KEYS - {"open", "modules"}
            if unknown:
                raise CatalogError(f"{source}: app {app_name!r} has unknown keys {sorted(unknown)}")
            modules = {
                module_name: _build_spec(app_name, module_name, defaults, row, f"{source}: {app_name}")
                for module_name, row in app_table.get("modules", {}).items()
            }
            apps[app_name] = _App(app_name, bool(app_table.get("open", False)), defaults, modules)
        catalog = cls(apps, tuple(document.get("default_selection", ())))
        catalog.select(",".join(catalog.default_selection))  # a broken default fails at load
        return catalog

    @property
    def apps(self) -> tuple[str, ...]:
        return tuple(self._apps)

    def modules(self, app: str | None = None) -> tuple[ModuleSpec, ...]:
        """Listed modules, of one app or of all."""
        apps = [self._app(app)] if app else self._apps.values()
        return tuple(spec for entry in apps for spec in entry.modules.values())

    def get(self, app: str, name: str) -> ModuleSpec:
        """A module by asset name or Zoho api name; open apps admit unlisted api names."""
        entry = self._app(app)
        if name in entry.modules:
            return entry.modules[name]
        folded = name.casefold()
        for spec in entry.modules.values():
            if folded in (spec.module.casefold(), spec.api_name.casefold()):
                return spec
        if not entry.open:
            known = ", ".join(sorted(entry.modules))
            raise CatalogError(f"unknown {app} module {name!r}; known: {known}")
        if not _API_NAME.match(name):
            raise CatalogError(f"{app} module api name {name!r} must be letters, digits and underscores")
        api_name = name if any(char.isupper() for char in name) else _api_name_from_module(name)
        return _build_spec(app, snake_case(api_name), entry.defaults, {"api_name": api_name}, app)

    def select(self, selection: str | None) -> tuple[ModuleSpec, ...]:
        """Resolve `crm:leads,crm:Vendors,books:*` (None or blank: the default selection).

        Order follows the selection; a module named twice (by asset and api name) appears once.
        """
        text = selection if selection and selection.strip() else ",".join(self.default_selection)
        chosen: dict[tuple[str, str], ModuleSpec] = {}
        for token in (part.strip() for part in text.split(",")):
            if not token:
                continue
            app, sep, name = token.partition(":")
            if not sep or not app.strip() or not name.strip():
                raise CatalogError(f"module selector {token!r} must look like app:module (e.g. crm:leads)")
            app, name = app.strip().lower(), name.strip()
            specs = self.modules(app) if name == "*" else (self.get(app, name),)
            for spec in specs:
                chosen.setdefault((spec.app, spec.module), spec)
        return tuple(chosen.values())

    def _app(self, app: str) -> _App:
        try:
            return self._apps[app]
        except KeyError:
            raise CatalogError(f"unknown Zoho app {app!r}; known: {', '.join(self._apps)}") from None


def _build_spec(
    app: str, module: str, defaults: Mapping[str, Any], row: Mapping[str, Any], where: str
) -> ModuleSpec:
    unknown = set(row) - _MODULE_KEYS
    if unknown:
        raise CatalogError(f"{where}.{module}: unknown keys {sorted(unknown)}")
    settings = {**defaults, **row}
    try:
        api_name = settings["api_name"]
        spec = ModuleSpec(
            app=app,
            module=module,
            api_name=api_name,
            endpoint=settings["endpoint"].replace("{api_name}", api_name),
            records_key=settings.get("records_key", api_name),
            primary_key=settings["primary_key"],
            cursor_field=settings["cursor_field"],
            cursor_format=CursorFormat(settings["cursor_format"]),
            fetch=FetchStrategy(settings["fetch"]),
            deletions=bool(settings["deletions"]),
            parent=settings.get("parent"),
            fields=_field_metadata(settings.get("fields", {}), f"{where}.{module}"),
        )
    except KeyError as exc:
        raise CatalogError(f"{where}.{module}: missing setting {exc.args[0]!r}") from None
    except ValueError as exc:
        raise CatalogError(f"{where}.{module}: {exc}") from None
    if module != snake_case(module):
        raise CatalogError(f"{where}.{module}: asset module names are snake case")
    return spec


@cache
def default_catalog() -> Catalog:
    """The catalog shipped with the package (read once per process: it is immutable)."""
    return Catalog.from_toml(DEFAULT_CATALOG_PATH)


def selected_modules(
    environ: Mapping[str, str] | None = None, catalog: Catalog | None = None
) -> tuple[ModuleSpec, ...]:
    """The modules ZOHO_MODULES selects (default: the CRM four).

    Without `environ`, ZOHO_MODULES comes from the settings (environment and `.env`) like every
    other variable. An error names the variable and its fix, so the CLI can print it as one line.
    """
    selection = (
        load_code_location_settings().zoho_modules if environ is None else environ.get(MODULES_ENV_VAR)
    )
    try:
        return (catalog or default_catalog()).select(selection)
    except CatalogError as exc:
        raise CatalogError(
            f"{MODULES_ENV_VAR}: {exc} (fix {MODULES_ENV_VAR} in the environment or .env)"
        ) from None


def check_crm_modules(specs: Iterable[ModuleSpec], org_modules: Iterable[Mapping[str, Any]]) -> None:
    """Fail, naming them, when selected CRM modules are not modules the org's API serves.

    CRM admits any api name in ZOHO_MODULES (custom modules), so only the org can say whether one
    exists: `org_modules` is its GET /crm/v8/settings/modules answer, where `api_supported` says
    whether the API serves a module (https://www.zoho.com/crm/developer/docs/api/v8/modules-api.html).
    Checked once before runs start, rather than each run meeting INVALID_MODULE.
    """
    served = sorted(str(module["api_name"]) for module in org_modules if module.get("api_supported", True))
    folded = {name.casefold() for name in served}
    missing = [
        spec.selector for spec in specs if spec.app == "crm" and spec.api_name.casefold() not in folded
    ]
    if missing:
        raise CatalogError(
            f"{MODULES_ENV_VAR}: this Zoho org has no CRM module {', '.join(missing)} "
            f"(fix {MODULES_ENV_VAR}; the org's modules: {', '.join(served)})"
        )


__all__ = [
    "DEFAULT_CATALOG_PATH",
    "MODULES_ENV_VAR",
    "Catalog",
    "CatalogError",
    "CursorFormat",
    "FetchStrategy",
    "ModuleSpec",
    "check_crm_modules",
    "default_catalog",
    "selected_modules",
    "snake_case",
]
