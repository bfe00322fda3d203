"""Zoho API clients (CRM, Books, Projects) over one transport: auth, limits, retries, errors.

No Dagster and no storage here: this layer only speaks HTTP to Zoho and hands back batches.
"""

from zoho_pipelines.zoho.client import ZohoClient
from zoho_pipelines.zoho.crm import CrmClient
from zoho_pipelines.zoho.crm_bulk import BulkPolling
from zoho_pipelines.zoho.crm_notifications import WatchChannel
from zoho_pipelines.zoho.crm_updates import RecordOutcome, UpdateResult
from zoho_pipelines.zoho.errors import (
    ZohoAPIError,
    ZohoAuthError,
    ZohoConnectionError,
    ZohoInvalidDataError,
    ZohoNotFoundError,
    ZohoRateLimitError,
    ZohoServerError,
)
from zoho_pipelines.zoho.retry import RetryPolicy
from zoho_pipelines.zoho.transport import ZohoTransport

__all__ = [
    "BulkPolling",
    "CrmClient",
    "RecordOutcome",
    "RetryPolicy",
    "UpdateResult",
    "WatchChannel",
    "ZohoAPIError",
    "ZohoAuthError",
    "ZohoClient",
    "ZohoConnectionError",
    "ZohoInvalidDataError",
    "ZohoNotFoundError",
    "ZohoRateLimitError",
    "ZohoServerError",
    "ZohoTransport",
]
