"""The onboarding steps themselves, against one org's Zoho APIs (`ZohoClient`).

Every step can run twice for the same deal (a Step Functions retry, a redelivered event, an
operator's redrive) and must leave Zoho as one run would, so every write first looks for its own
result:
- CreateZohoProject looks for a project carrying the deal's external key (Projects' External Key
  field) before creating one, because Zoho Projects itself does not refuse a second project with
  the same key. It looks at every project, of any age and status: a deal can be onboarded again
  hours or months later (a redrive, a deal reopened and won again), and a look-back window
  would miss the first project and make a second;
- SetupBilling finds or creates the Books customer of the deal's account, then finds (by the same
  external key, as reference_number) or creates the deal's first invoice; see `billing`;
- AIEnrichment profiles the account (industry, size band, region) and writes an onboarding brief,
  risks and next steps: by Claude on Amazon Bedrock when BEDROCK_MODEL_ID names a model, by rules
  otherwise, labelled with what produced it. The result is stored in the lake under its input
  digest, written to the deal's fields where they differ (with the rule-based Deal Score) and
  added as one Note whose title carries the digest; see `enrichment`;
- SendWelcomeSequence sets the deal's Next Step to "Welcome sequence started" with workflow
  triggers on, and the org's CRM workflow rule on that value sends the sequence. A workflow rather
  than a campaign membership because the e-mails, their timing and their owner stay editable in
  CRM by sales operations, and Zoho Campaigns needs no separate integration. The step skips the
  update when Next Step already holds the value, so a retry never fires the workflow (and its
  e-mails) twice.

State passed between steps is plain JSON (what Step Functions carries): `deal` from qualification,
then `project`, `billing`, `enrichment`, `welcome` beside it. No step depends on the time: each
finds its own earlier result by a key, not by when it was made.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from zoho_pipelines.ai.enrichment import DealEnricher, RulesEnricher
from zoho_pipelines.ai.store import EnrichmentStore
from zoho_pipelines.clock import SYSTEM_CLOCK, Clock
from zoho_pipelines.onboarding.billing import BooksBilling
from zoho_pipelines.onboarding.enrichment import DealEnrichmentStep
from zoho_pipelines.onboarding.errors import DealNotQualified, OnboardingError
from zoho_pipelines.zoho.client import ZohoClient
from zoho_pipelines.zoho.errors import ZohoAPIError

CLOSED_WON = "Closed Won"
DEAL_FIELDS = ("Deal_Name", "Stage", "Amount", "Account_Name", "Owner", "Closing_Date")
WELCOME_STEP = "Welcome sequence started"
NEXT_STEP_FIELD = "Next_Step"


def external_key(deal_id: str) -> str:
    """The deal's idempotency key: its project's External Key, its first invoice's reference."""
    return f"zoho-deal-{deal_id}"


class OnboardingSteps:
    def __init__(
        self,
        client: ZohoClient,
        *,
        enricher: DealEnricher | None = None,
        enrichment_store: EnrichmentStore | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        """`enricher` defaults to the rules, `enrichment_store` to the lake at LAKE_URL (opened when
        the first deal is enriched, so the other steps need no lake)."""
        self._client = client
        self._billing = BooksBilling(client.books)
        self._enrichment = DealEnrichmentStep(
            client.crm, enricher or RulesEnricher(), enrichment_store, clock
        )

    def qualify(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """The Closed Won event (EventBridge detail) -> the deal as the next steps need it."""
        deal_id = _deal_id(event)
        record = self._record("Deals", deal_id, DEAL_FIELDS)
        if record is None:
            raise DealNotQualified(f"deal {deal_id} does not exist (deleted since the event?)")
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
        }

    def create_project(self, state: Mapping[str, Any]) -> dict[str, Any]:
        """The deal's project: the one a previous attempt created, else a new one."""
        deal = state["deal"]
        key = external_key(deal["id"])
        existing = self._client.projects.find_by_external_key(key)
        if existing:
            return _project_summary(existing[0], created=False)
        project = self._client.projects.create_project(
            f"Onboarding: {deal['name']}",
            description=f"Onboarding for {deal['account_name'] or 'the account'} (CRM deal {deal['id']})",
            crm_account_id=deal["account_id"],
            crm_deal_id=deal["id"],
            external_key=key,
        )
        return _project_summary(project, created=True)

    def setup_billing(self, state: Mapping[str, Any]) -> dict[str, Any]:
        """The deal's Books customer (found or created) and its first invoice (found or created)."""
        deal = state["deal"]
        customer = self._billing.ensure_customer(deal)
        invoice = self._billing.ensure_invoice(deal, customer.record, external_key(deal["id"]))
        summary = {
            "organization_id": self._client.books.organization_id,
            "customer_id": str(customer.record["contact_id"]),
            "customer_name": customer.record.get("contact_name") or "",
            "customer_created": customer.created,
            "currency_code": customer.record.get("currency_code") or "",
            "invoice_id": None,
            "invoice_created": False,
        }
        if invoice is not None:
            summary.update(
                invoice_id=str(invoice.record["invoice_id"]),
                invoice_number=invoice.record.get("invoice_number"),
                invoice_status=invoice.record.get("status"),
                invoice_total=invoice.record.get("total"),
                invoice_created=invoice.created,
            )
        return summary

    def enrich(self, state: Mapping[str, Any]) -> dict[str, Any]:
        """The deal's enrichment, stored in the lake and written to its fields and a Note."""
        return self._enrichment.run(state["deal"])

    def send_welcome(self, state: Mapping[str, Any]) -> dict[str, Any]:
        """Mark the deal's next step, once; the org's workflow rule on that value sends the sequence."""
        deal_id = state["deal"]["id"]
        current = (self._record("Deals", deal_id, (NEXT_STEP_FIELD,)) or {}).get(NEXT_STEP_FIELD)
        triggered = current != WELCOME_STEP
        if triggered:
            self._update_deal(deal_id, {NEXT_STEP_FIELD: WELCOME_STEP}, trigger=("workflow",))
        return {"next_step": WELCOME_STEP, "triggered": triggered}

    def _record(self, module: str, record_id: str, fields: tuple[str, ...]) -> dict[str, Any] | None:
        for batch in self._client.crm.iter_by_ids(module, [record_id], fields):
            for record in batch:
                return record
        return None

    def _update_deal(self, deal_id: str, values: dict[str, Any], *, trigger: tuple[str, ...]) -> None:
        result = self._client.crm.update_records("Deals", [{"id": deal_id, **values}], trigger=trigger)
        if not result.all_ok:
            (failure,) = result.failed
            raise OnboardingError(f"deal {deal_id} update refused: {failure.code} {failure.message}")


def _deal_id(event: Mapping[str, Any]) -> str:
    ids = event.get("record_ids")
    if isinstance(ids, list) and len(ids) == 1 and str(ids[0]).isdigit():
        return str(ids[0])
    raise DealNotQualified("the event must name exactly one deal id")


def _project_summary(project: Mapping[str, Any], *, created: bool) -> dict[str, Any]:
    project_id = project.get("id_string") or project.get("id")
    if project_id is None:
        raise ZohoAPIError("Projects answered without a project id", method="POST", path="/restapi/portal")
    return {"id": str(project_id), "name": project.get("name"), "created": created}
