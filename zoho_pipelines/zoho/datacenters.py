"""Where each Zoho data center lives.

An org exists in exactly one data center and its refresh token only works against that DC's
accounts server, so the DC picks the accounts server and the default API domain. The overrides
(ZOHO_ACCOUNTS_URL / ZOHO_API_URL) exist for the sandbox and proxies, which serve every product
from a single origin, hence Projects follows the API override too.
"""

from __future__ import annotations

from dataclasses import dataclass

from zoho_pipelines.settings import DataCenter

_ACCOUNTS = {
    DataCenter.COM: "https://accounts.zoho.com",
    DataCenter.EU: "https://accounts.zoho.eu",
    DataCenter.IN: "https://accounts.zoho.in",
    DataCenter.COM_AU: "https://accounts.zoho.com.au",
    DataCenter.JP: "https://accounts.zoho.jp",
    DataCenter.CA: "https://accounts.zohocloud.ca",
    DataCenter.SA: "https://accounts.zoho.sa",
    DataCenter.COM_CN: "https://accounts.zoho.com.cn",
}
_PROJECTS = {
    DataCenter.CA: "https://projectsapi.zohocloud.ca",
}


@dataclass(frozen=True)
class ZohoEndpoints:
    """Base URLs (no trailing slash) of one org's accounts server and product APIs."""

    accounts_url: str
    api_url: str
    projects_url: str


def endpoints(
    dc: DataCenter | str, accounts_url: str | None = None, api_url: str | None = None
) -> ZohoEndpoints:
    """Endpoints of `dc`; an explicit accounts or API URL replaces the DC's default."""
    center = DataCenter(dc)
    default_api = f"https://www.zohoapis.{center.value}"
    projects = _PROJECTS.get(center, f"https://projectsapi.zoho.{center.value}")
    api = api_url.rstrip("/") if api_url else default_api
    return ZohoEndpoints(
        accounts_url=(accounts_url or _ACCOUNTS[center]).rstrip("/"),
        api_url=api,
        projects_url=api if api_url else projects,
    )
