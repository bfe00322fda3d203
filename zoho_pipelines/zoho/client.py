"""`ZohoClient`: one org's Zoho APIs behind one transport (token, limiter, counters).

A client built from settings publishes the org's remaining API credits as a CloudWatch metric
(zoho.credit_metric) whenever Zoho reports them, so the deployment can alarm before they run out.
"""

from __future__ import annotations

from zoho_pipelines.settings import Settings
from zoho_pipelines.zoho.books import BooksClient
from zoho_pipelines.zoho.credit_metric import CreditsGauge
from zoho_pipelines.zoho.crm import CrmClient
from zoho_pipelines.zoho.crm_bulk import BulkPolling
from zoho_pipelines.zoho.projects import ProjectsClient
from zoho_pipelines.zoho.retry import RetryPolicy
from zoho_pipelines.zoho.stats import ApiStats
from zoho_pipelines.zoho.transport import ZohoTransport


class ZohoClient:
    """Entry point for product code; close it (or use `with`) to release connections."""

    def __init__(
        self,
        transport: ZohoTransport,
        *,
        bulk_polling: BulkPolling | None = None,
        books_organization_id: str | None = None,
        projects_portal_id: str | None = None,
        credits_gauge: CreditsGauge | None = None,
    ) -> None:
        self.transport = transport
        if credits_gauge is not None:
            transport.stats.observe_credits_remaining(credits_gauge.observe)
        self.crm = CrmClient(transport, bulk_polling=bulk_polling)
        # Books and Projects discover their organization / portal on first use when none is set.
        self.books = BooksClient(transport, books_organization_id)
        self.projects = ProjectsClient(transport, transport.endpoints.projects_url, projects_portal_id)

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        retry_policy: RetryPolicy | None = None,
        bulk_polling: BulkPolling | None = None,
        credits_gauge: CreditsGauge | None = None,
    ) -> ZohoClient:
        """The client the environment describes (credentials, DC, overrides, edition limits),
        publishing the remaining credits to `credits_gauge` (default: the EMF line on stdout)."""
        return cls(
            ZohoTransport.from_settings(settings, retry_policy=retry_policy),
            bulk_polling=bulk_polling,
            books_organization_id=settings.zoho_books_organization_id,
            projects_portal_id=settings.zoho_projects_portal_id,
            credits_gauge=credits_gauge or CreditsGauge(),
        )

    @property
    def stats(self) -> ApiStats:
        return self.transport.stats

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> ZohoClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
