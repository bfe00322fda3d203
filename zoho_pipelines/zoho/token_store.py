"""Where processes share one Zoho access token: the record, its key and the stores' contract.

Zoho lets one refresh token mint ten access tokens per ten minutes, then blocks minting for the
rest of the window. Dagster runs, sensors and the onboarding Lambdas all call Zoho for the same
org, so they must share one token instead of minting their own. A store holds one small record
per (accounts server, client id, refresh token) and offers exactly two operations: read it, and
replace it only if nobody changed it since (compare-and-swap on a version number). Everything
else (the lease that makes refreshing single-flight, waiting out a blocked window) is built on
those two in `zoho_pipelines.zoho.auth`, once for every store.

Stores: `memory` (one process), `file` (processes sharing a directory: fcntl locks, 0600 files)
and `dynamodb` (processes on AWS: conditional writes to a KMS-encrypted table).
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
from dataclasses import dataclass, field
from typing import Any, Protocol

from zoho_pipelines.redaction import register_secret
from zoho_pipelines.settings import ConfigurationError, Settings, TokenStoreKind

KEY_VERSION = "v1"


@dataclass(frozen=True)
class TokenKey:
    """Which refresh token a record belongs to, without the refresh token itself.

    The refresh token is represented by a truncated SHA-256: refresh tokens are long random
    secrets, so the digest reveals nothing, yet a rotated refresh token gets a record of its own.
    """

    accounts_url: str
    client_id: str
    refresh_token_sha256: str

    @classmethod
    def of(cls, accounts_url: str, client_id: str, refresh_token: str) -> TokenKey:
        digest = hashlib.sha256(refresh_token.encode("utf-8")).hexdigest()[:32]
        return cls(accounts_url.rstrip("/"), client_id, digest)

    @property
    def name(self) -> str:
        """The record's id in a store: readable (URL, client id), and never a secret."""
        return f"{KEY_VERSION}|{self.accounts_url}|{self.client_id}|{self.refresh_token_sha256}"

    @property
    def digest(self) -> str:
        """A file-name-safe id for the record."""
        return hashlib.sha256(self.name.encode("utf-8")).hexdigest()[:40]


@dataclass(frozen=True)
class TokenRecord:
    """The shared state of one refresh token. Times are seconds since the epoch.

    `lease_owner`/`lease_until`: who is minting now (others wait rather than mint too);
    `blocked_until`: Zoho refused to mint, nobody should ask again before then;
    `mints`: when recent tokens were minted, to tell how long a blocked window lasts.
    `refused_when_fresh`: Books or Projects refused this access token right after it replaced one
    they had refused, so their 401s on it are not about its life (a missing scope, say): nobody
    drops it for them, in any process (see zoho.transport's STATUS_401_MEANS_INVALID_TOKEN).
    `version` is the store's; a record read at version n can only replace version n.
    """

    version: int = 0
    access_token: str | None = field(default=None, repr=False)
    api_domain: str | None = None
    expires_at: float = 0.0
    lease_owner: str | None = None
    lease_until: float = 0.0
    blocked_until: float = 0.0
    mints: tuple[float, ...] = ()
    refused_when_fresh: bool = False

    def usable(self, now: float) -> bool:
        return self.access_token is not None and now < self.expires_at

    def leased_to_other(self, owner: str, now: float) -> bool:
        return self.lease_owner is not None and self.lease_owner != owner and now < self.lease_until

    def replace(self, **changes: Any) -> TokenRecord:
        return dataclasses.replace(self, **changes)

    def to_document(self) -> dict[str, Any]:
        """The record as JSON-able data (the file store's format, the DynamoDB item's attributes)."""
        return {
            "version": self.version,
            "access_token": self.access_token,
            "api_domain": self.api_domain,
            "expires_at": self.expires_at,
            "lease_owner": self.lease_owner,
            "lease_until": self.lease_until,
            "blocked_until": self.blocked_until,
            "mints": list(self.mints),
            "refused_when_fresh": self.refused_when_fresh,
        }

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> TokenRecord:
        """Parse a stored record; the access token is registered for redaction on the way in."""
        token = document.get("access_token") or None
        register_secret(token)
        return cls(
            version=int(document.get("version", 0)),
            access_token=str(token) if token else None,
            api_domain=document.get("api_domain") or None,
            expires_at=float(document.get("expires_at", 0.0)),
            lease_owner=document.get("lease_owner") or None,
            lease_until=float(document.get("lease_until", 0.0)),
            blocked_until=float(document.get("blocked_until", 0.0)),
            mints=tuple(float(moment) for moment in document.get("mints") or ()),
            refused_when_fresh=bool(document.get("refused_when_fresh", False)),
        )


class TokenStore(Protocol):
    """A shared home for token records with compare-and-swap writes."""

    def load(self, key: TokenKey) -> TokenRecord:
        """The current record (version 0 and empty when there is none)."""
        ...

    def swap(self, key: TokenKey, expected_version: int, record: TokenRecord) -> bool:
        """Store `record` as version `expected_version + 1` if the stored version is still
        `expected_version`; False (and nothing written) when someone else got there first."""
        ...


class MemoryTokenStore:
    """One process's store: threads share it, other processes do not see it."""

    def __init__(self) -> None:
        self._records: dict[str, TokenRecord] = {}
        self._lock = threading.Lock()

    def load(self, key: TokenKey) -> TokenRecord:
        with self._lock:
            return self._records.get(key.name, TokenRecord())

    def swap(self, key: TokenKey, expected_version: int, record: TokenRecord) -> bool:
        with self._lock:
            if self._records.get(key.name, TokenRecord()).version != expected_version:
                return False
            self._records[key.name] = record.replace(version=expected_version + 1)
            return True


def token_store_from_settings(settings: Settings) -> TokenStore:
    """The store ZOHO_TOKEN_STORE names: `file` (default, under the home), `dynamodb` or `memory`."""
    kind = settings.zoho_token_store
    if kind is TokenStoreKind.MEMORY:
        return MemoryTokenStore()
    if kind is TokenStoreKind.DYNAMODB:
        if not settings.zoho_token_table:
            raise ConfigurationError("ZOHO_TOKEN_STORE=dynamodb needs ZOHO_TOKEN_TABLE (the table's name)")
        from zoho_pipelines.zoho.token_store_dynamodb import DynamoDbTokenStore  # boto3 only when used

        return DynamoDbTokenStore(settings.zoho_token_table, endpoint_url=settings.aws_endpoint_url)
    from zoho_pipelines.zoho.token_store_file import FileTokenStore

    return FileTokenStore(settings.resolved_token_cache_dir)
