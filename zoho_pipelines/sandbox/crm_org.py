"""GET /crm/{v}/org: the organization the sandbox pretends to be.

Shaped by Zoho's v8 spec (org.json, Response_Wrapper -> Org, every required key present) and the
Organization API page (https://www.zoho.com/crm/developer/docs/api/v8/get-org-data.html). A client
reads the org's time zone, currency and max_per_page from here; the time zone is the one the
sandbox renders date-times in, so the two can never disagree.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from zoho_pipelines.sandbox.crm_fieldspec import API_USER
from zoho_pipelines.sandbox.crm_values import TimeFormatter
from zoho_pipelines.sandbox.errors import json_response
from zoho_pipelines.sandbox.state import SandboxState

ORG_ID = "5725767000000131027"
MAX_PER_PAGE = 200


def org_details(state: SandboxState) -> dict[str, Any]:
    """The org object: every key org.json marks required, with the sandbox's own values."""
    config = state.config
    assert config.anchor is not None
    times = TimeFormatter(config.timezone)
    created = config.anchor - timedelta(days=config.history_days + 365)
    return {
        "country": "India",
        "photo_id": None,
        "city": "Chennai",
        "description": None,
        "mc_status": False,
        "gapps_enabled": False,
        "translation_enabled": False,
        "street": None,
        "domain_name": "org60012345",
        "alias": "zylker-sandbox",
        "currency": "Indian Rupee",
        "id": ORG_ID,
        "state": "Tamil Nadu",
        "fax": None,
        "zip": None,
        "employee_count": "250",
        "website": "https://www.zylker.example.com",
        "currency_symbol": "₹",
        "mobile": None,
        "currency_locale": "en_IN",
        "primary_zuid": "60012345",
        "zia_portal_id": None,
        "time_zone": config.timezone,
        "zgid": "60012346",
        "country_code": "IN",
        "deletable_org_account": False,
        "license_details": {
            "paid_expiry": times.format_datetime(config.anchor + timedelta(days=365)),
            "users_license_purchased": 10,
            "trial_type": None,
            "trial_expiry": None,
            "paid": True,
            "paid_type": "enterprise",
            "trial_action": "",
        },
        "hierarchy_preferences": {"type": "Role_Hierarchy", "strictly_reporting": False},
        "phone": "+91 44 0000 0000",
        "company_name": "Zylker Sandbox",
        "privacy_settings": True,
        "primary_email": API_USER["email"],
        "iso_code": "INR",
        "hipaa_compliance_enabled": False,
        "lite_users_enabled": False,
        "max_per_page": MAX_PER_PAGE,
        "ezgid": "60012346",
        "call_icon": "",
        "oauth_presence": True,
        "zia_zgid": 60012347,
        "checkin_preferences": {"restricted_event_types": None},
        "type": "Sandbox",
        "created_time": times.format_datetime(created),
    }


def org_routes(state: SandboxState) -> list[BaseRoute]:
    async def org(request: Request) -> Response:
        return json_response({"org": [org_details(state)]})

    return [Route("/crm/{version}/org", org, methods=["GET"])]
