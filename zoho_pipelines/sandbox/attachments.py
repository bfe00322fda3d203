"""CRM attachments and file downloads: the Attachments related list, its downloads, and /files.

Shapes follow Zoho's CRM v8 OpenAPI spec (../shared/reference/zoho-crm-oas-v8/):
- attachments.json `GET /crm/v8/{module}/{record_id}/Attachments`: `fields` is required; `page`,
  `per_page`, `page_token`; 200 `{data: [Attachment], info: {per_page, page, count,
  more_records}}` or 204 when the record has none. An Attachment carries Owner, Created_By,
  Modified_By, Parent_Id {id, name}, id, Created_Time, Modified_Time, File_Name, Size (a string,
  bytes), $editable, $file_id, $type, $se_module, $state, $link_url, $sharing_permission,
  $attachment_type.
  https://www.zoho.com/crm/developer/docs/api/v8/get-attachments.html
- attachments.json `GET /crm/v8/{module}/{record_id}/Attachments/{id}`: the file's bytes.
  https://www.zoho.com/crm/developer/docs/api/v8/download-attachments.html
- files.json `GET /crm/v8/files?id=...`: a file-upload field's file by its File_Id__s, served as
  application/x-download; 400 INVALID_DATA for an unknown id.
  https://www.zoho.com/crm/developer/docs/api/v8/get-files.html

Which Deals carry documents, and what the documents say, is a pure function of the seed: a
seed-chosen set of Deals each has a signed contract (two pages) and some also an invoice. The
truth behind every PDF is on `AttachmentCatalog`, for tests (`attachment_catalog(state)`).
"""

from __future__ import annotations

import random
import re
import threading
import weakref
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from zoho_pipelines.sandbox.crm_catalog import USERS
from zoho_pipelines.sandbox.crm_complex_values import FileUploads
from zoho_pipelines.sandbox.crm_records import (
    BadRequest,
    invalid_param,
    page_of,
    positive_int,
    resolve_module,
)
from zoho_pipelines.sandbox.documents_pdf import (
    ContractTruth,
    InvoiceTruth,
    contract_pdf,
    invoice_pdf,
)
from zoho_pipelines.sandbox.errors import crm_error, json_response
from zoho_pipelines.sandbox.state import SandboxState

ATTACHED_MODULE = "Deals"
ATTACHED_DEALS = 24
"""Deals with documents: few enough that the documents demo reads them all in seconds."""
INVOICE_SHARE = 0.5
MAX_PER_PAGE = 200
ATTACHMENT_ID_BASE = 5_725_767_900_000_000_000
DOWNLOAD_TYPE = "application/x-download"  # files.json: the 200 response's content type
ATTACHMENT_FIELDS = (
    "Owner",
    "Modified_By",
    "Created_By",
    "Parent_Id",
    "$sharing_permission",
    "$attachment_type",
    "id",
    "Modified_Time",
    "Created_Time",
    "File_Name",
    "Size",
    "$editable",
    "$file_id",
    "$type",
    "$se_module",
    "$state",
    "$link_url",
)
CUSTOMERS = (
    "Northwind Traders",
    "Contoso Pharmaceuticals",
    "Fabrikam Logistics",
    "Tailspin Toys",
    "Wide World Importers",
    "Adventure Works Cycles",
    "Litware Analytics",
    "Proseware Health",
)
VENDOR = "Zylker Cloud Services"
PRODUCTS = ("CRM seats (annual)", "Onboarding package", "Data migration", "Premium support", "Training day")
FILE_ID = re.compile(r"^[0-9a-f]{24}$")


@dataclass(frozen=True)
class SandboxAttachment:
    """One file on a record's Attachments related list, with the values printed in it."""

    id: int
    file_id: str
    record_id: int
    record_index: int
    file_name: str
    truth: ContractTruth | InvoiceTruth
    created_ms: int
    owner_index: int

    @property
    def kind(self) -> str:
        return "contract" if isinstance(self.truth, ContractTruth) else "invoice"


def _contract(rng: random.Random, number: int, customer: str, around: date) -> ContractTruth:
    start = around - timedelta(days=rng.randint(0, 90))
    return ContractTruth(
        contract_number=f"CTR-{number:06d}",
        customer_name=customer,
        start_date=start,
        end_date=start + timedelta(days=365 * rng.randint(1, 3) - 1),
        value=Decimal(rng.randint(5_000_00, 900_000_00)).scaleb(-2),
    )


def _invoice(rng: random.Random, number: int, customer: str, around: date) -> InvoiceTruth:
    lines = tuple(
        (product, rng.randint(1, 20), Decimal(rng.randint(50_00, 5_000_00)).scaleb(-2))
        for product in rng.sample(PRODUCTS, rng.randint(1, 3))
    )
    return InvoiceTruth(
        number=f"INV-{number:06d}",
        invoice_date=around - timedelta(days=rng.randint(0, 30)),
        vendor=VENDOR,
        customer_name=customer,
        lines=lines,
    )


class AttachmentCatalog:
    """The sandbox org's documents: generated once from the seed, rendered to PDF on first download."""

    def __init__(self, state: SandboxState) -> None:
        store = state.crm
        columns = store.columns[ATTACHED_MODULE]
        rng = random.Random(f"attachments:{state.config.seed}")
        candidates = [
            index for index in range(columns.initial_count) if store.is_live(ATTACHED_MODULE, index)
        ]
        chosen = sorted(rng.sample(candidates, min(ATTACHED_DEALS, len(candidates))))
        anchor_ms = int(store.anchor.timestamp() * 1000)
        self._by_record: dict[int, list[SandboxAttachment]] = {}
        self._by_file_id: dict[str, SandboxAttachment] = {}
        self._pdfs: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self._state = state
        serial = 0
        for index in chosen:
            record_id = store.record_id(ATTACHED_MODULE, index)
            created = int(columns.created_ms[index])
            customer = rng.choice(CUSTOMERS)
            truths: list[ContractTruth | InvoiceTruth] = [
                _contract(rng, 1000 + serial, customer, store.anchor.date())
            ]
            if rng.random() < INVOICE_SHARE:
                truths.append(_invoice(rng, 5000 + serial, customer, store.anchor.date()))
            for truth in truths:
                serial += 1
                attachment_id = ATTACHMENT_ID_BASE + serial * 1_001
                kind = "contract" if isinstance(truth, ContractTruth) else "invoice"
                attachment = SandboxAttachment(
                    id=attachment_id,
                    file_id=f"{rng.getrandbits(96):024x}",
                    record_id=record_id,
                    record_index=index,
                    file_name=f"{kind}-{record_id}-{serial}.pdf",
                    truth=truth,
                    created_ms=created + rng.randint(0, max(anchor_ms - created, 0)),
                    owner_index=rng.randrange(len(USERS) - 1),
                )
                self._by_record.setdefault(record_id, []).append(attachment)
                self._by_file_id[attachment.file_id] = attachment

    @property
    def attachments(self) -> list[SandboxAttachment]:
        return [attachment for items in self._by_record.values() for attachment in items]

    def for_record(self, record_id: int) -> list[SandboxAttachment]:
        return self._by_record.get(record_id, [])

    def by_file_id(self, file_id: str) -> SandboxAttachment | None:
        return self._by_file_id.get(file_id)

    def content(self, attachment: SandboxAttachment) -> bytes:
        with self._lock:
            cached = self._pdfs.get(attachment.file_id)
        if cached is None:
            truth = attachment.truth
            cached = contract_pdf(truth) if isinstance(truth, ContractTruth) else invoice_pdf(truth)
            with self._lock:
                self._pdfs[attachment.file_id] = cached
        return cached

    def render(self, attachment: SandboxAttachment, fields: list[str]) -> dict[str, Any]:
        store = self._state.crm
        user = USERS[attachment.owner_index]
        minified = {"id": user["id"], "name": user["name"], "email": user["email"]}
        deal_name = store.render(ATTACHED_MODULE, [attachment.record_index], ["Deal_Name"])[0]["Deal_Name"]
        when = store.times.format_ms(attachment.created_ms)
        full = {
            "Owner": minified,
            "Modified_By": minified,
            "Created_By": minified,
            "Parent_Id": {"id": str(attachment.record_id), "name": deal_name},
            "$sharing_permission": "full_access",
            "$attachment_type": 1,
            "id": str(attachment.id),
            "Modified_Time": when,
            "Created_Time": when,
            "File_Name": attachment.file_name,
            "Size": str(len(self.content(attachment))),
            "$editable": True,
            "$file_id": attachment.file_id,
            "$type": "Attachment",
            "$se_module": ATTACHED_MODULE,
            "$state": "active",
            "$link_url": None,
        }
        return {name: full[name] for name in ("id", *fields) if name in full}

    def file_upload_content(self, file_id: str) -> tuple[str, bytes] | None:
        """A file-upload field's file: an attachment's file id, or a Service_Contracts
        Signed_Documents id (`crm_complex_values.FileUploads`), whose PDFs are contracts."""
        attachment = self.by_file_id(file_id)
        if attachment is not None:
            return attachment.file_name, self.content(attachment)
        if not FILE_ID.match(file_id):
            return None
        pick = int(file_id[16:], 16)
        extension = FileUploads.extensions[pick % len(FileUploads.extensions)]
        name = f"contract-{pick:05d}.{extension}"
        if extension != "pdf":
            return name, f"{name}: generated by the Zoho sandbox\n".encode()
        return name, contract_pdf(file_upload_truth(file_id, self._state.crm.anchor.date()))


def file_upload_truth(file_id: str, around: date) -> ContractTruth:
    """The contract behind a Signed_Documents file id (a pure function of the id)."""
    rng = random.Random(f"file-upload:{file_id}")
    return _contract(rng, int(file_id[16:], 16) % 1_000_000, rng.choice(CUSTOMERS), around)


_CATALOGS: weakref.WeakKeyDictionary[SandboxState, AttachmentCatalog] = weakref.WeakKeyDictionary()
_CATALOGS_LOCK = threading.Lock()


def attachment_catalog(state: SandboxState) -> AttachmentCatalog:
    """The documents of `state`'s org (built on first use); tests read the truth from it."""
    with _CATALOGS_LOCK:
        catalog = _CATALOGS.get(state)
        if catalog is None:
            catalog = _CATALOGS[state] = AttachmentCatalog(state)
        return catalog


def _download(name: str, content: bytes) -> Response:
    return Response(
        content,
        media_type=DOWNLOAD_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def attachment_routes(state: SandboxState) -> list[BaseRoute]:
    store = state.crm

    def live_record(request: Request) -> tuple[str, int]:
        module = resolve_module(request)
        raw = request.path_params["record_id"]
        index = store.index_of(module.api_name, int(raw)) if raw.isdigit() else None
        if index is None or not store.is_live(module.api_name, index):
            raise BadRequest(
                crm_error(400, "INVALID_DATA", "the related id given seems to be invalid", {"id": raw})
            )
        return module.api_name, int(raw)

    async def list_attachments(request: Request) -> Response:
        try:
            module, record_id = live_record(request)
            raw_fields = request.query_params.get("fields")
            if not raw_fields:
                return crm_error(
                    400,
                    "REQUIRED_PARAM_MISSING",
                    "One of the expected parameter is missing",
                    {"param_name": "fields"},
                )
            fields = [name.strip() for name in raw_fields.split(",") if name.strip()]
            unknown = [name for name in fields if name not in ATTACHMENT_FIELDS]
            if unknown:
                raise invalid_param("fields", api_name=unknown[0])
            per_page = positive_int(request, "per_page", MAX_PER_PAGE, MAX_PER_PAGE)
            page = positive_int(request, "page", 1)
        except BadRequest as bad:
            return bad.response
        catalog = attachment_catalog(state)
        items = catalog.for_record(record_id) if module == ATTACHED_MODULE else []
        chosen, info = page_of(items, page, per_page)
        if not chosen:
            return Response(status_code=204)
        return json_response({"data": [catalog.render(item, fields) for item in chosen], "info": info})

    async def download_attachment(request: Request) -> Response:
        try:
            module, record_id = live_record(request)
        except BadRequest as bad:
            return bad.response
        catalog = attachment_catalog(state)
        raw = request.path_params["attachment_id"]
        items = catalog.for_record(record_id) if module == ATTACHED_MODULE else []
        match = next((item for item in items if str(item.id) == raw), None)
        if match is None:
            return crm_error(
                400, "INVALID_DATA", "the id given seems to be invalid", {"resource_path_index": 2}
            )
        return _download(match.file_name, catalog.content(match))

    async def download_file(request: Request) -> Response:
        file_id = request.query_params.get("id") or ""
        found = attachment_catalog(state).file_upload_content(file_id) if file_id else None
        if found is None:
            return crm_error(400, "INVALID_DATA", "the id given seems to be invalid", {"param_name": "id"})
        return _download(*found)

    return [
        Route("/crm/{version}/files", download_file, methods=["GET"]),
        Route("/crm/{version}/{module}/{record_id}/Attachments", list_attachments, methods=["GET"]),
        Route(
            "/crm/{version}/{module}/{record_id}/Attachments/{attachment_id}",
            download_attachment,
            methods=["GET"],
        ),
    ]
