"""The onboarding steps themselves, against one org's Zoho APIs (`ZohoClient`).

Every step can run twice for the same deal (a Step Functions retry, a redelivered event, an
operator's redrive) and must leave Zoho as one run would:
- creating the project first looks for a project carrying the deal's external key, because
  Zoho Projects itself does not refuse a second project with the same key;
- the CRM writes (score, welcome step) set values rather than add records, so repeating them is
  harmless;
- billing only reads: Zoho's own Books-CRM sync creates the Books customer for a CRM account.

State passed between steps is plain JSON (what Step Functions carries): `deal` from qualification,
then `project`, `billing`, `enrichment`, `welcome` beside it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from zoho_pipelines.zoho.client import ZohoClient
from zoho_pipelines.zoho.errors import ZohoAPIError
from zoho_pipelines.zoho.projects import EXTERNAL_KEY_COLUMN

CLOSED_WON = "Closed Won"
DEAL_FIELDS = ("Deal_Name", "Stage", "Amount", "Account_Name", "Owner", "Closing_Date")
ACCOUNT_FIELDS = ("Account_Name", "Industry", "Employees", "Annual_Revenue")
WELCOME_STEP = "Welcome sequence started"
# How far before qualification a project for this deal could have been created: clock skew
# between Lambda and Zoho, plus a previous execution for the same deal shortly before.
LOOKUP_MARGIN = timedelta(hours=1)


class OnboardingError(Exception):
    """A deal that cannot be onboarded as it stands; retrying will not change that."""


class DealNotQualified(OnboardingError):
    """The deal is not Closed Won, has no account, or has a malformed amount."""


class CustomerNotSynced(OnboardingError):
    """Books has no customer linked to the deal's CRM account (the Books-CRM sync is off or behind)."""


def external_key(deal_id: str) -> str:
    """The idempotency key a deal's project carries in Projects' External Key field."""
    return f"zoho-deal-{deal_id}"


class OnboardingSteps:
    def __init__(
        self, client: ZohoClient, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self._client = client
        self._clock = clock

    def qualify(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """The Closed Won event (EventBridge detail) -> the deal as the next steps need it."""
        deal_id = _deal_id(event)
        records = [
            r for batch in self._client.crm.iter_by_ids("Deals", [deal_id], DEAL_FIELDS) for r in batch
        ]
        if not records:
            raise DealNotQualified(f"deal {deal_id} does not exist (deleted since the event?)")
        record = records[0]
        if record.get("Stage") != CLOSED_WON:
            raise DealNotQualified(f"deal {deal_id} is at stage {record.get('Stage')!r}, not {CLOSED_WON}")
        account = record.get("Account_Name")
        if not isinstance(account, dict) or not account.get("id"):
            raise DealNotQualified(f"deal {deal_id} has no account to onboard")
        amount = record.get("Amount")
        if amount is not None and (isinstance(amount, bool) or not isinstance(amount, int | float)):
            raise DealNotQualified(f"deal {deal_id} has a malformed amount")
        owner = record.get("Owner") if isinstance(record.get("Owner"), dict) else {}
        return {
            "deal": {
                "id": deal_id,
                "name": record.get("Deal_Name") or f"Deal {deal_id}",
                "amount": float(amount or 0),
                "account_id": str(account["id"]),
                "account_name": account.get("name") or "",
                "owner_id": str(owner.get("id") or ""),
                "closing_date": record.get("Closing_Date"),
            },
            "qualified_at": self._clock().isoformat(),
        }

    def create_project(self, state: Mapping[str, Any]) -> dict[str, Any]:
        """The deal's project: the one a previous attempt created, else a new one."""
        deal = state["deal"]
        key = external_key(deal["id"])
        existing = self._find_project(
            key, since=datetime.fromisoformat(state["qualified_at"]) - LOOKUP_MARGIN
        )
        if existing is not None:
            return _project_summary(existing, created=False)
        project = self._client.projects.create_project(
            f"Onboarding: {deal['name']}",
            description=f"Onboarding for {deal['account_name'] or 'the account'} (CRM deal {deal['id']})",
            crm_account_id=deal["account_id"],
            crm_deal_id=deal["id"],
            external_key=key,
        )
        return _project_summary(project, created=True)

    def _find_project(self, key: str, *, since: datetime) -> dict[str, Any] | None:
        # Any project created for this deal was created (so last modified) after `since`.
        until = self._clock() + timedelta(minutes=5)
        for batch in self._client.projects.iter_projects(since, until):
            for project in batch:
                if _custom_field(project, EXTERNAL_KEY_COLUMN) == key:
                    return project
        return None

    def setup_billing(self, state: Mapping[str, Any]) -> dict[str, Any]:
        """The Books customer that Zoho's Books-CRM sync made for the deal's account."""
        account_id = state["deal"]["account_id"]
        since = datetime(2000, 1, 1, tzinfo=UTC)
        for batch in self._client.books.iter_records("contacts", since, self._clock() + timedelta(minutes=5)):
            for contact in batch:
                if contact.get("zcrm_account_id") == account_id and contact.get("contact_type") != "vendor":
                    return {
                        "customer_id": str(contact["contact_id"]),
                        "customer_name": contact.get("contact_name") or "",
                        "currency_code": contact.get("currency_code") or "",
                        "organization_id": self._client.books.organization_id,
                    }
        raise CustomerNotSynced(f"no Books customer is linked to CRM account {account_id}")

    def enrich(self, state: Mapping[str, Any]) -> dict[str, Any]:
        """A 0-10 fit score from the deal and its account, written to the deal's Deal Score."""
        deal = state["deal"]
        accounts = [
            r
            for batch in self._client.crm.iter_by_ids("Accounts", [deal["account_id"]], ACCOUNT_FIELDS)
            for r in batch
        ]
        account = accounts[0] if accounts else {}
        score = fit_score(deal["amount"], account.get("Employees"), account.get("Annual_Revenue"))
        self._update_deal(deal["id"], {"Deal_Score__c": score}, trigger=())
        return {"score": score, "industry": account.get("Industry")}

    def send_welcome(self, state: Mapping[str, Any]) -> dict[str, Any]:
        """Mark the deal's next step; the org's workflow rule on that value sends the sequence."""
        deal_id = state["deal"]["id"]
        self._update_deal(deal_id, {"Next_Step": WELCOME_STEP}, trigger=("workflow",))
        return {"next_step": WELCOME_STEP}

    def _update_deal(self, deal_id: str, values: dict[str, Any], *, trigger: tuple[str, ...]) -> None:
        result = self._client.crm.update_records("Deals", [{"id": deal_id, **values}], trigger=trigger)
        if not result.all_ok:
            (failure,) = result.failed
            raise OnboardingError(f"deal {deal_id} update refused: {failure.code} {failure.message}")


def fit_score(amount: float, employees: Any, annual_revenue: Any) -> float:
    """Bigger deals from bigger accounts score higher; account figures Zoho lacks are left out
    rather than counted as zero."""
    parts = [min(amount / 100_000, 1.0)]
    if isinstance(employees, int | float) and not isinstance(employees, bool):
        parts.append(min(float(employees) / 5_000, 1.0))
    if isinstance(annual_revenue, int | float) and not isinstance(annual_revenue, bool):
        parts.append(min(float(annual_revenue) / 50_000_000, 1.0))
    return round(10 * sum(parts) / len(parts), 3)


def _deal_id(event: Mapping[str, Any]) -> str:
    ids = event.get("record_ids")
    if isinstance(ids, list) and len(ids) == 1 and str(ids[0]).isdigit():
        return str(ids[0])
    raise DealNotQualified("the event must name exactly one deal id")


def _custom_field(project: Mapping[str, Any], column: str) -> str | None:
    for field in project.get("custom_fields") or ():
        if isinstance(field, dict) and field.get("column_name") == column:
            return str(field.get("value") or "")
    return None


def _project_summary(project: Mapping[str, Any], *, created: bool) -> dict[str, Any]:
    project_id = project.get("id_string") or project.get("id")
    if project_id is None:
        raise ZohoAPIError("Projects answered without a project id", method="POST", path="/restapi/portal")
    return {"id": str(project_id), "name": project.get("name"), "created": created}
