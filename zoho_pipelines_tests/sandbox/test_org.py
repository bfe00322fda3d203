"""GET /crm/v8/org as Zoho's v8 spec (org.json) and Organization API page describe it.

https://www.zoho.com/crm/developer/docs/api/v8/get-org-data.html; the required keys below are
org.json's Org.required, written out so a reviewer can compare them with the spec.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

from zoho_pipelines.sandbox.server import RunningSandbox
from zoho_pipelines_tests.sandbox.helpers import api_client

ORG_REQUIRED = (
    "country", "photo_id", "city", "description", "mc_status", "gapps_enabled", "translation_enabled",
    "street", "domain_name", "alias", "currency", "id", "state", "fax", "zip", "currency_symbol", "mobile",
    "currency_locale", "primary_zuid", "zia_portal_id", "time_zone", "zgid", "country_code",
    "deletable_org_account", "license_details", "hierarchy_preferences", "phone", "company_name",
    "privacy_settings", "primary_email", "iso_code", "hipaa_compliance_enabled", "lite_users_enabled",
    "max_per_page", "ezgid", "call_icon", "oauth_presence", "zia_zgid", "checkin_preferences",
)  # fmt: skip
LICENSE_REQUIRED = (
    "paid_expiry", "users_license_purchased", "trial_type", "trial_expiry", "paid", "paid_type",
    "trial_action",
)  # fmt: skip


def test_org_has_every_required_key(sandbox: RunningSandbox) -> None:
    with api_client(sandbox) as client:
        body = client.get("/crm/v8/org").json()
        records = client.get("/crm/v8/Deals", params={"fields": "Modified_Time", "per_page": 1}).json()
    assert list(body) == ["org"]
    org: dict[str, Any] = body["org"][0]
    assert [key for key in ORG_REQUIRED if key not in org] == []
    assert [key for key in LICENSE_REQUIRED if key not in org["license_details"]] == []
    assert set(org["hierarchy_preferences"]) == {"type", "strictly_reporting"}
    assert org["type"] in ("Bigin", "Production", "Developer", "Sandbox")
    assert isinstance(org["max_per_page"], int)
    assert org["max_per_page"] == 200
    assert isinstance(org["zia_zgid"], int)
    # The org's zone is the one record date-times are rendered in.
    assert org["time_zone"] == sandbox.config.timezone
    offset = datetime.fromisoformat(records["data"][0]["Modified_Time"]).utcoffset()
    assert offset == datetime.fromisoformat(org["created_time"]).utcoffset()


def test_org_needs_a_token(sandbox: RunningSandbox) -> None:
    response = httpx.get(f"{sandbox.url}/crm/v8/org")
    assert response.status_code == 401
    assert response.json()["code"] in ("INVALID_TOKEN", "AUTHENTICATION_FAILURE", "OAUTH_SCOPE_MISMATCH")
