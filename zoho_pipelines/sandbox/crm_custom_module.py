"""Service_Contracts: a custom module holding one field of every type Zoho CRM documents.

The standard modules keep realistic field sets (and costs); this module is where the pipeline meets
every data_type / json_type pair of the Fields Metadata API
(https://www.zoho.com/crm/developer/docs/api/v8/field-meta.html) with values shaped as the records
API returns them (https://www.zoho.com/crm/developer/docs/api/v8/get-records.html): lookups of
every kind, subform rows, file and image uploads, Record_Image, formulas by return type, a
rollup summary, a consent lookup and the Tag field. It also has a field named `External`, an SQL
reserved word that COQL only accepts quoted (see coql.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from zoho_pipelines.sandbox.crm_complex_values import (
    TAG_FIELD,
    ConsentLookup,
    FileUploads,
    ImageUploads,
    MultiModuleLookup,
    MultiSelectLookup,
    MultiUserLookup,
    RecordImage,
    SubformRows,
    UserLookup,
)
from zoho_pipelines.sandbox.crm_fieldspec import FieldSpec, ModuleSpec
from zoho_pipelines.sandbox.crm_values import (
    Choice,
    DateAround,
    DateTimeAround,
    DecimalRange,
    Derived,
    Digits,
    Flag,
    IntegerRange,
    LongText,
    MultiChoice,
    Template,
)

if TYPE_CHECKING:
    from zoho_pipelines.sandbox.crm_store import RenderContext

CUSTOM_MODULE = "Service_Contracts"
SUBFORM_MODULE = "Contract_Line_Items"
DEALS_LINKING_MODULE = "Service_Contracts_X_Deals"
USERS_LINKING_MODULE = "Service_Contracts_X_Users"
STATUSES = ("Draft", "Active", "On Hold", "Expired", "Cancelled")
SERVICE_LINES = ("Support", "Hosting", "Training", "Consulting", "Managed Backup")
PLANS = ("Basic", "Standard", "Premium", "Enterprise")
ITEMS = ("Support hours", "Hosting (monthly)", "On-site training", "Backup storage (TB)", "Health check")
NOTES = (
    "Renewal negotiated by phone; PO to follow.",
    'Customer asked for "gold" SLA, priced as premium.',
    "Überprüfung im März — Vertrag läuft weiter.",
    "SLA breach in Q2 credited 5%.",
    "",
)


def _days_to_renewal(ctx: RenderContext) -> list[Any]:
    """A formula over Now(): it changes every day without Modified_Time moving, as Zoho formulas do."""
    renewal_s = ctx.created_s + 365 * 86_400
    return np.round((renewal_s - ctx.now_s) / 86_400.0, 1).tolist()


def _monthly_value(ctx: RenderContext) -> list[Any]:
    return [None if value is None else round(value / 12.0, 2) for value in ctx.column("Contract_Value")]


def _status_label(ctx: RenderContext) -> list[Any]:
    return [
        f"{status} · {seats if seats is not None else '?'} seats"
        for status, seats in zip(ctx.column("Status"), ctx.column("Seats"), strict=True)
    ]


def _is_expired(ctx: RenderContext) -> list[Any]:
    return [status == "Expired" for status in ctx.column("Status")]


def _renewal_notice_date(ctx: RenderContext) -> list[Any]:
    starts = ctx.column("Start_Date")
    notice = np.array(starts, dtype="datetime64[D]") + np.timedelta64(335, "D")
    return np.datetime_as_string(notice, unit="D").tolist()


def _renewal_due_at(ctx: RenderContext) -> list[Any]:
    return ctx.times.format_seconds(ctx.created_s + 365 * 86_400)


def _total_billed(ctx: RenderContext) -> list[Any]:
    """The rollup summary: the sum of the record's subform line totals."""
    return [round(sum(line["Line_Total"] for line in lines), 2) for lines in ctx.column("Line_Items")]


def _autonumber(ctx: RenderContext) -> list[Any]:
    return [f"SC-{index + 1:06d}" for index in ctx.indices.tolist()]


def _formula(api_name: str, label: str, compute: Any, returns: str, **extra: Any) -> FieldSpec:
    data_type = "text" if returns == "text" else returns
    return FieldSpec(
        api_name,
        data_type,
        label,
        Derived(compute),
        custom=True,
        read_only=True,
        formula_return=returns,
        **extra,
    )


SERVICE_CONTRACTS = ModuleSpec(
    CUSTOM_MODULE,
    5,
    "Service Contract",
    "Name",
    (
        FieldSpec("Owner", "ownerlookup", "Service Contract Owner", mandatory=True),
        FieldSpec(
            "Name",
            "text",
            "Service Contract Name",
            Template("{} {} contract", (("Zylker", "Acme", "Globex", "Initech", "Stark"), PLANS)),
            mandatory=True,
            length=120,
        ),
        FieldSpec(
            "Contract_Number",
            "autonumber",
            "Contract Number",
            Derived(_autonumber),
            custom=True,
            read_only=True,
        ),
        FieldSpec("Account_Name", "lookup", "Account", lookup_module="Accounts", custom=True),
        FieldSpec("Primary_Contact", "lookup", "Primary Contact", lookup_module="Contacts", custom=True),
        FieldSpec(
            "Email",
            "email",
            "Email",
            Template("{}@{}", (("billing", "it", "ops"), ("example.com", "zylker.test")), 0.1),
            custom=True,
        ),
        FieldSpec("Phone", "phone", "Phone", Digits("+1-555-", 7, 0.1), custom=True),
        FieldSpec(
            "Portal_URL",
            "website",
            "Portal URL",
            Template("https://support.example.com/{}", (PLANS,), 0.3),
            custom=True,
        ),
        FieldSpec(
            "Status", "picklist", "Status", Choice(STATUSES), custom=True, volatile=True, picklist=STATUSES
        ),
        FieldSpec(
            "Service_Lines",
            "multiselectpicklist",
            "Service Lines",
            MultiChoice(SERVICE_LINES),
            custom=True,
            picklist=SERVICE_LINES,
        ),
        FieldSpec("Seats", "integer", "Seats", IntegerRange(1, 20_000, 0.1), custom=True, volatile=True),
        FieldSpec(
            "Billing_Reference",
            "bigint",
            "Billing Reference",
            IntegerRange(10**15, 9 * 10**17, 0.2, as_text=True),
            custom=True,
        ),
        FieldSpec(
            "Uptime_SLA",
            "double",
            "Uptime SLA",
            DecimalRange(95, 99.999, 3),
            custom=True,
            decimal_place=3,
        ),
        FieldSpec(
            "Contract_Value",
            "currency",
            "Contract Value",
            DecimalRange(1_000, 2_000_000, 2, 0.1),
            custom=True,
            volatile=True,
            decimal_place=2,
        ),
        FieldSpec(
            "Discount", "percent", "Discount", DecimalRange(0, 30, 2, 0.4), custom=True, decimal_place=2
        ),
        FieldSpec("Auto_Renew", "boolean", "Auto Renew", Flag(0.6), custom=True),
        FieldSpec("Start_Date", "date", "Start Date", DateAround(400, 30), custom=True),
        FieldSpec("Signed_At", "datetime", "Signed At", DateTimeAround(400, 0, 0.2), custom=True),
        FieldSpec("Notes", "textarea", "Notes", LongText(NOTES, 2, 0.3), custom=True, volatile=True),
        FieldSpec(
            "External",
            "text",
            "External",
            Template("EXT-{}", (("A1", "B2", "C3", "D4"),), 0.5),
            custom=True,
            length=50,
        ),
        FieldSpec("Account_Manager", "userlookup", "Account Manager", UserLookup(), custom=True),
        FieldSpec(
            "Related_Deals",
            "multiselectlookup",
            "Related Deals",
            MultiSelectLookup("Deals", "Related_Deals"),
            custom=True,
            lookup_module="Deals",
            linking_module=DEALS_LINKING_MODULE,
        ),
        FieldSpec(
            "Reviewers",
            "multiuserlookup",
            "Reviewers",
            MultiUserLookup("Reviewers"),
            custom=True,
            linking_module=USERS_LINKING_MODULE,
        ),
        FieldSpec(
            "Regarding",
            "multi_module_lookup",
            "Regarding",
            MultiModuleLookup(("Leads", "Contacts", "Accounts", "Deals")),
            custom=True,
            modules=("Leads", "Contacts", "Accounts", "Deals"),
        ),
        FieldSpec(
            "Line_Items",
            "subform",
            "Line Items",
            SubformRows(ITEMS),
            custom=True,
            subform_module=SUBFORM_MODULE,
        ),
        FieldSpec("Signed_Documents", "fileupload", "Signed Documents", FileUploads(), custom=True),
        FieldSpec("Site_Photos", "imageupload", "Site Photos", ImageUploads(), custom=True),
        FieldSpec("Record_Image", "profileimage", "Service Contract Image", RecordImage()),
        _formula("Days_To_Renewal", "Days To Renewal", _days_to_renewal, "double", decimal_place=1),
        _formula("Monthly_Value", "Monthly Value", _monthly_value, "currency", decimal_place=2),
        _formula("Status_Label", "Status Label", _status_label, "text"),
        _formula("Is_Expired", "Is Expired", _is_expired, "boolean"),
        _formula("Renewal_Notice_Date", "Renewal Notice Date", _renewal_notice_date, "date"),
        _formula("Renewal_Due_At", "Renewal Due At", _renewal_due_at, "datetime"),
        FieldSpec(
            "Total_Billed",
            "currency",
            "Total Billed",
            Derived(_total_billed),
            custom=True,
            read_only=True,
            decimal_place=2,
            rollup_return="currency",
        ),
        FieldSpec(
            "Data_Processing_Basis_Details",
            "consent_lookup",
            "Data Processing Basis Details",
            ConsentLookup(),
            read_only=True,
        ),
        TAG_FIELD,
        FieldSpec("Created_By", "userlookup", "Created By", read_only=True),
        FieldSpec("Modified_By", "userlookup", "Modified By", read_only=True),
        FieldSpec("Created_Time", "datetime", "Created Time", read_only=True),
        FieldSpec("Modified_Time", "datetime", "Modified Time", read_only=True),
        FieldSpec("Last_Activity_Time", "datetime", "Last Activity Time", read_only=True),
    ),
    custom=True,
    plural="Service Contracts",
)


LINE_ITEMS = ModuleSpec(
    SUBFORM_MODULE,
    6,
    "Contract Line Item",
    "Item",
    (
        FieldSpec("Item", "text", "Item", custom=True),
        FieldSpec("Quantity", "integer", "Quantity", custom=True),
        FieldSpec("Unit_Price", "currency", "Unit Price", custom=True, decimal_place=2),
        FieldSpec("Line_Total", "currency", "Line Total", custom=True, read_only=True, decimal_place=2),
        FieldSpec("Parent_Id", "lookup", "Parent Id", lookup_module=CUSTOM_MODULE, read_only=True),
        FieldSpec("Created_Time", "datetime", "Created Time", read_only=True),
    ),
    custom=True,
    plural="Contract Line Items",
)
"""The subform's own module: its fields are what GET /settings/fields?module=Contract_Line_Items
describes (the Subform API: "fields?module={subform api name}"); its rows live in their parent's
Line_Items value (SubformRows), never as records of their own."""
