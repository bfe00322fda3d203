"""Files on CRM records: the Attachments related list, attachment downloads, file-upload fields.

- List: GET /crm/v8/{module}/{record_id}/Attachments with `fields` (required), `page`, `per_page`
  (max 200); 204 when the record has none; `info.more_records` says whether to ask for the next page.
  https://www.zoho.com/crm/developer/docs/api/v8/get-attachments.html
- Download: GET /crm/v8/{module}/{record_id}/Attachments/{id}, the file's bytes.
  https://www.zoho.com/crm/developer/docs/api/v8/download-attachments.html
- File-upload fields: the record's field holds the files' File_Id__s (records API); each
  downloads with GET /crm/v8/files?id={File_Id__s}.
  https://www.zoho.com/crm/developer/docs/api/v8/get-files.html

Downloads are streamed: the caller gets chunks as they arrive, so a large PDF never sits whole in
memory on its way to the lake.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from zoho_pipelines.zoho.crm_records import API, PER_PAGE
from zoho_pipelines.zoho.transport import ZohoTransport, json_body
from zoho_pipelines.zoho.windows import parse_zoho_datetime

LIST_FIELDS = ("File_Name", "Size", "Modified_Time", "$file_id", "$type", "$se_module", "Parent_Id")
CHUNK_BYTES = 1 << 20


ATTACHMENT, FILE_UPLOAD = "attachment", "file_upload"


@dataclass(frozen=True)
class Attachment:
    """One file on a record: on its Attachments related list, or in a file-upload field.

    A file-upload field's file has no attachment id; its `id` is then its File_Id__s, which is
    also what downloads it.
    """

    module: str
    record_id: str
    id: str
    file_name: str
    size: int | None
    modified_time: datetime
    file_id: str | None
    source: str = ATTACHMENT

    @property
    def extension(self) -> str:
        """The file name's extension, lower case ("bin" when it has none)."""
        stem, dot, suffix = self.file_name.rpartition(".")
        return suffix.lower() if dot and stem and suffix.isalnum() else "bin"


def _size(raw: object) -> int | None:
    try:
        return int(str(raw))
    except ValueError:
        return None  # some orgs report sizes like "12.5 KB"; then the size cannot gate a re-download


def file_upload(module: str, record_id: str, item: dict) -> Attachment:
    """A file-upload field's entry ({File_Name__s, File_Id__s, Size__s, Modified_Time__s, ...},
    record.json's FileDetails) as an Attachment; Size__s is text such as "12.50 KB", not bytes."""
    return Attachment(
        module=module,
        record_id=str(record_id),
        id=str(item["File_Id__s"]),
        file_name=str(item.get("File_Name__s") or item["File_Id__s"]),
        size=None,
        modified_time=parse_zoho_datetime(str(item["Modified_Time__s"])),
        file_id=str(item["File_Id__s"]),
        source=FILE_UPLOAD,
    )


class CrmAttachments:
    """Zoho CRM's attachment APIs for one org."""

    def __init__(self, transport: ZohoTransport) -> None:
        self._transport = transport

    def list(self, module: str, record_id: str) -> list[Attachment]:
        """Every attachment of one record, all pages."""
        found: list[Attachment] = []
        page = 1
        while True:
            response = self._transport.request(
                "GET",
                f"{API}/{module}/{record_id}/Attachments",
                params={"fields": ",".join(LIST_FIELDS), "page": page, "per_page": PER_PAGE},
            )
            body = json_body(response)  # {} on 204: no attachments
            found.extend(
                Attachment(
                    module=module,
                    record_id=str(record_id),
                    id=str(item["id"]),
                    file_name=str(item.get("File_Name") or item["id"]),
                    size=_size(item.get("Size")),
                    modified_time=parse_zoho_datetime(str(item["Modified_Time"])),
                    file_id=item.get("$file_id"),
                )
                for item in body.get("data") or []
            )
            if not (body.get("info") or {}).get("more_records"):
                return found
            page += 1

    @contextmanager
    def download(self, attachment: Attachment) -> Iterator[Iterator[bytes]]:
        """The file's bytes, as chunks while the response streams (either source)."""
        if attachment.source == FILE_UPLOAD:
            with self.download_file(attachment.id) as chunks:
                yield chunks
            return
        path = f"{API}/{attachment.module}/{attachment.record_id}/Attachments/{attachment.id}"
        with self._transport.stream("GET", path) as response:
            yield response.iter_bytes(CHUNK_BYTES)

    @contextmanager
    def download_file(self, file_id: str) -> Iterator[Iterator[bytes]]:
        """A file-upload field's file (its File_Id__s), as chunks while the response streams."""
        with self._transport.stream("GET", f"{API}/files", params={"id": file_id}) as response:
            yield response.iter_bytes(CHUNK_BYTES)
