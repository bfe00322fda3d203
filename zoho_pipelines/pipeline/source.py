"""Reading one module's modification window from Zoho, whatever its app and fetch strategy.

The catalog says *what* to read and which strategy suits it; the clients know *how*. This module
is the one place that maps the two, so the sync itself never branches on the app.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from zoho_pipelines.catalog import FetchStrategy, ModuleSpec
from zoho_pipelines.zoho.client import ZohoClient

Record = dict[str, Any]


class UnsupportedStrategyError(ValueError):
    """The catalog asks for a fetch strategy this module's app cannot serve."""


@dataclass(frozen=True)
class ModuleSource:
    """One catalog module, read through one org's clients."""

    client: ZohoClient
    spec: ModuleSpec

    def field_metadata(self) -> Sequence[Mapping[str, Any]]:
        """Zoho's current field metadata: CRM describes itself; Books and Projects come from the catalog.

        CRM's is read through the client's lookup namer, which caches it for the COQL reads that
        follow: the schema and the selects then agree, and a sync makes one metadata call, not two.
        """
        if self.spec.app == "crm":
            return self.client.crm.lookup_names.field_metadata(self.spec.api_name)
        return self.spec.fields

    def records(self, fields: Sequence[str], start: datetime, end: datetime) -> Iterator[list[Record]]:
        """Batches of the records modified in [start, end), each record once."""
        spec = self.spec
        if spec.app == "crm":
            return self._crm_records(fields, start, end)
        if spec.fetch is FetchStrategy.COQL or spec.fetch is FetchStrategy.BULK:
            raise UnsupportedStrategyError(
                f"{spec.selector}: fetch={spec.fetch.value} exists only for CRM; use pages or windows"
            )
        if spec.app == "books":
            return self.client.books.iter_records(spec.api_name, start, end)
        if spec.app == "projects" and spec.module == "projects":
            return self.client.projects.iter_projects(start, end)
        if spec.app == "projects" and spec.module == "tasks":
            return self.client.projects.iter_tasks(None, start, end)
        raise UnsupportedStrategyError(f"{spec.selector}: no reader for this app/module")

    def deletions(self, start: datetime, end: datetime) -> Iterator[list[Record]]:
        """Deletion entries (id, deleted_time) in [start, end); nothing where Zoho reports none."""
        if self.spec.deletions and self.spec.app == "crm":
            return self.client.crm.iter_deleted(self.spec.api_name, start, end)
        return iter(())

    def _crm_records(self, fields: Sequence[str], start: datetime, end: datetime) -> Iterator[list[Record]]:
        crm, module = self.client.crm, self.spec.api_name
        match self.spec.fetch:
            case FetchStrategy.PAGES:
                return crm.iter_modified(module, fields, start, end)
            case FetchStrategy.AUTO:
                return crm.iter_modified_auto(module, fields, start, end)
            case FetchStrategy.WINDOWS:
                return crm.iter_modified_parallel(module, fields, start, end)
            case FetchStrategy.COQL | FetchStrategy.BULK:
                # COQL answers a lookup with its id only, and Bulk Read flattens it to an id in
                # CSV text: every `<lookup>_name` column would come out empty, and a merge of such
                # a partition over a full read would blank names already in the table.
                raise UnsupportedStrategyError(
                    f"{self.spec.selector}: fetch={self.spec.fetch.value} returns lookups without "
                    "their names, so the batch pipeline does not offer it; use auto, pages or windows"
                )
        raise UnsupportedStrategyError(f"{self.spec.selector}: unknown fetch strategy {self.spec.fetch}")
