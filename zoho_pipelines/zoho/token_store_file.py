"""Token records in files, shared by every process that uses the same directory.

One JSON file per refresh token, named by a digest of its key (never the refresh token). A
compare-and-swap holds an exclusive `fcntl.flock` on a sibling lock file while it reads the
version and writes the new record; the write goes to a temporary file that replaces the record
atomically, so a reader without the lock sees the old record or the new one, never half of one.
The directory is 0700 and every file 0600: the record holds a live access token.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from zoho_pipelines.zoho.token_store import TokenKey, TokenRecord

DIRECTORY_MODE = 0o700
FILE_MODE = 0o600


class FileTokenStore:
    """Records under `directory` (created 0700 on first use)."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def path_for(self, key: TokenKey) -> Path:
        return self.directory / f"{key.digest}.json"

    def load(self, key: TokenKey) -> TokenRecord:
        try:
            text = self.path_for(key).read_text(encoding="utf-8")
        except FileNotFoundError:
            return TokenRecord()
        try:
            document = json.loads(text)
        except json.JSONDecodeError:
            return TokenRecord()  # unreadable: treated as absent, the next swap rewrites it
        return TokenRecord.from_document(document.get("record", {}))

    def swap(self, key: TokenKey, expected_version: int, record: TokenRecord) -> bool:
        with self._locked(key):
            if self.load(key).version != expected_version:
                return False
            stored = record.replace(version=expected_version + 1)
            document = {
                "key": {"accounts_url": key.accounts_url, "client_id": key.client_id},
                "record": stored.to_document(),
            }
            self._write_atomically(self.path_for(key), json.dumps(document).encode("utf-8"))
            return True

    @contextlib.contextmanager
    def _locked(self, key: TokenKey) -> Iterator[None]:
        self._ensure_directory()
        descriptor = os.open(self.directory / f"{key.digest}.lock", os.O_RDWR | os.O_CREAT, FILE_MODE)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            yield
        finally:
            os.close(descriptor)  # closing releases the lock

    def _ensure_directory(self) -> None:
        if not self.directory.is_dir():
            self.directory.mkdir(parents=True, exist_ok=True)
            os.chmod(self.directory, DIRECTORY_MODE)  # mkdir's mode is filtered by the umask

    def _write_atomically(self, path: Path, payload: bytes) -> None:
        # mkstemp creates the file 0600 from the start: the token is never readable by others.
        descriptor, temporary = tempfile.mkstemp(dir=self.directory, prefix=".token-", suffix=".tmp")
        try:
            # No fsync: a cache. After a power cut the record is at worst empty, which reads as
            # absent and costs one mint; meanwhile every refresh would wait for the disk.
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(payload)
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise
