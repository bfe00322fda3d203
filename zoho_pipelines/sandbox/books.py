"""Zoho Books v3 endpoints of the sandbox: organizations, contacts, items, invoices, bills and
customer payments, listed with page/per_page and filtered on last_modified_time like Books.

Auth, latency, rate limits, faults and call statistics are the sandbox middleware's job; these
handlers only answer the Books protocol, including its error bodies ({"code": n, "message": ...}).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route

from zoho_pipelines.sandbox.books_data import (
    BASE_CURRENCY,
    CURRENCIES,
    ENTITIES,
    REPORT_NAMES,
    SINGULAR,
    BooksDataset,
    BooksSizes,
)
from zoho_pipelines.sandbox.lazy_records import epoch_ms, resolve_anchor

MAX_PER_PAGE = 200
DEFAULT_PER_PAGE = 200
SORT_COLUMNS = ("created_time", "last_modified_time")


class BooksError(Exception):
    """A Books-shaped failure: HTTP status plus Books' numeric code and message."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def books_json(payload: dict[str, Any], status: int = 200) -> Response:
    return Response(orjson.dumps(payload), status_code=status, media_type="application/json;charset=UTF-8")


@dataclass(frozen=True)
class Organization:
    """An organization's profile and its data set."""

    organization_id: str
    name: str
    is_default_org: bool
    data: BooksDataset

    def profile(self, timezone: str) -> dict[str, Any]:
        return {
            "organization_id": self.organization_id,
            "name": self.name,
            "contact_name": "Sandbox Admin",
            "email": "admin@sandbox.example",
            "is_default_org": self.is_default_org,
            "language_code": "en",
            "fiscal_year_start_month": 0,
            "account_created_date": "2020-01-01",
            "time_zone": timezone,
            "is_org_active": True,
            "currency_id": CURRENCIES[BASE_CURRENCY][0],
            "currency_code": BASE_CURRENCY,
            "currency_symbol": "$",
            "currency_format": "###,##0.00",
            "price_precision": 2,
        }


def build_organizations(
    *,
    seed: int,
    anchor: datetime,
    history_days: int,
    timezone: str,
    records_per_module: int,
    account_ids: np.ndarray,
    contact_ids: np.ndarray,
) -> list[Organization]:
    """The organizations the sandbox user belongs to.

    The first one listed is an empty, non-default organization on purpose: a client that takes
    the first organization instead of the default one reads nothing, and a test shows it.
    """
    main_id = 10_234_695 + seed * 1_000
    common = {"seed": seed, "anchor": anchor, "history_days": history_days, "timezone": timezone}
    empty = np.zeros(0, dtype=np.int64)
    return [
        Organization(
            str(main_id + 1),
            "Sandbox Holdings (empty)",
            False,
            BooksDataset(**common, sizes=BooksSizes.none(), account_ids=empty, contact_ids=empty),
        ),
        Organization(
            str(main_id),
            "Sandbox Traders",
            True,
            BooksDataset(
                **common,
                sizes=BooksSizes.for_records(records_per_module),
                account_ids=account_ids,
                contact_ids=contact_ids,
            ),
        ),
    ]


def parse_books_time(value: str, data: BooksDataset) -> int:
    """A filter time in Books' format (or any ISO 8601) as epoch ms; naive means the org's zone."""
    try:
        moment = datetime.fromisoformat(value.strip().replace(" ", "+"))
    except ValueError:
        raise BooksError(400, 2, "Invalid value passed for last_modified_time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=data.zone)
    return epoch_ms(moment)


def _int_param(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BooksError(400, 2, f"Invalid value passed for {name}") from None
    if value < 1:
        raise BooksError(400, 2, f"Invalid value passed for {name}")
    return value


class BooksApi:
    """The handlers, bound to the organizations they serve.

    `modified_time_listing=False` makes list endpoints ignore last_modified_time and sort by
    creation, as some Books list endpoints do: clients must cope with both.
    """

    def __init__(
        self, organizations: list[Organization], timezone: str, *, modified_time_listing: bool = True
    ) -> None:
        self.organizations = {org.organization_id: org for org in organizations}
        self.timezone = timezone
        self.modified_time_listing = modified_time_listing

    def routes(self) -> list[BaseRoute]:
        return [
            Mount(
                "/books/v3",
                routes=[
                    Route("/organizations", self.list_organizations),
                    Route("/organizations/{organization_id}", self.get_organization),
                    Route("/{entity}", self.list_records),
                    Route("/{entity}/{record_id}", self.get_record),
                ],
            )
        ]

    def _organization(self, request: Request) -> Organization:
        organization_id = request.query_params.get("organization_id", "").strip()
        if not organization_id:
            raise BooksError(400, 2, "Invalid value passed for organization_id")
        org = self.organizations.get(organization_id)
        if org is None:
            raise BooksError(
                400, 6041, f"This user is not associated with the CompanyID/CompanyName:{organization_id}."
            )
        return org

    @staticmethod
    def _entity(request: Request) -> str:
        entity = request.path_params["entity"]
        if entity not in ENTITIES:
            raise BooksError(404, 5, "Invalid URL Passed")
        return entity

    async def list_organizations(self, request: Request) -> Response:
        profiles = [org.profile(self.timezone) for org in self.organizations.values()]
        return books_json({"code": 0, "message": "success", "organizations": profiles})

    async def get_organization(self, request: Request) -> Response:
        org = self.organizations.get(request.path_params["organization_id"])
        if org is None:
            return books_json({"code": 1002, "message": "Organization does not exist."}, 404)
        return books_json({"code": 0, "message": "success", "organization": org.profile(self.timezone)})

    async def list_records(self, request: Request) -> Response:
        try:
            entity = self._entity(request)
            org = self._organization(request)
            page = _int_param(request, "page", 1)
            per_page = min(_int_param(request, "per_page", DEFAULT_PER_PAGE), MAX_PER_PAGE)
            sort_column = request.query_params.get("sort_column") or "created_time"
            if sort_column not in SORT_COLUMNS:
                raise BooksError(400, 2, "Invalid value passed for sort_column")
            sort_order = (request.query_params.get("sort_order") or "D").upper()
            if sort_order not in ("A", "D"):
                raise BooksError(400, 2, "Invalid value passed for sort_order")
            since_raw = request.query_params.get("last_modified_time")
            since_ms = parse_books_time(since_raw, org.data) if since_raw else None
            if not self.modified_time_listing:
                sort_column, sort_order, since_raw, since_ms = "created_time", "D", None, None
        except BooksError as error:
            return books_json({"code": error.code, "message": error.message}, error.status)
        order = org.data.timelines[entity].select(
            modified_since_ms=since_ms,
            sort_by_modified=sort_column == "last_modified_time",
            descending=sort_order == "D",
        )
        start = (page - 1) * per_page
        window = order[start : start + per_page]
        page_context: dict[str, Any] = {
            "page": page,
            "per_page": per_page,
            "has_more_page": bool(order.shape[0] > start + per_page),
            "report_name": REPORT_NAMES[entity],
            "applied_filter": "Status.All",
            "sort_column": sort_column,
            "sort_order": sort_order,
        }
        if since_raw:
            page_context["search_criteria"] = [
                {"column_name": "last_modified_time", "search_text": since_raw, "comparator": "greater_equal"}
            ]
        rows = [org.data.list_row(entity, int(index)) for index in window]
        return books_json({"code": 0, "message": "success", entity: rows, "page_context": page_context})

    async def get_record(self, request: Request) -> Response:
        try:
            entity = self._entity(request)
            org = self._organization(request)
        except BooksError as error:
            return books_json({"code": error.code, "message": error.message}, error.status)
        raw_id = request.path_params["record_id"]
        index = org.data.timelines[entity].index_of(int(raw_id)) if raw_id.isdigit() else None
        if index is None:
            label = SINGULAR[entity].capitalize()
            return books_json({"code": 1002, "message": f"{label} does not exist."}, 404)
        record = org.data.render(entity, index)
        return books_json({"code": 0, "message": "success", SINGULAR[entity]: record})


def organizations_for(config: Any, crm: Any) -> list[Organization]:
    """The organizations a sandbox with this config and CRM serves (also the tests' ground truth)."""
    return build_organizations(
        seed=config.seed,
        anchor=resolve_anchor(config.anchor),
        history_days=config.history_days,
        timezone=config.timezone,
        records_per_module=config.records_per_module,
        account_ids=np.asarray(crm.ids("Accounts")),
        contact_ids=np.asarray(crm.ids("Contacts")),
    )


def routes(state: Any) -> list[BaseRoute]:
    """Books routes over the sandbox state; customers are the CRM's accounts."""
    return BooksApi(organizations_for(state.config, state.crm), state.config.timezone).routes()
