"""Every Zoho CRM field type, as the Fields Metadata API describes it and the records API sends it.

Shapes from https://www.zoho.com/crm/developer/docs/api/v8/field-meta.html (data_type, json_type,
formula.return_type, rollup_summary.return_type) and
https://www.zoho.com/crm/developer/docs/api/v8/get-records.html (record values), plus the Tag field
([{"name", "id", "color_code"}], data_type text, json_type jsonarray) every module carries.

Each case says what a well-formed value must become in its column(s), and gives a value that breaks
the field's type (as formulas and integrations can produce) which must land untouched in
`_unfitted`. `expected` is written out by hand, independently of the normaliser under test.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

JSON = object()
"""Marks a column that holds the value as JSON text: compared after json.loads with the value."""


@dataclass(frozen=True)
class FieldCase:
    """One field: its metadata, a value as Zoho sends it, the columns it must fill."""

    label: str
    metadata: dict[str, Any]
    value: Any
    expected: dict[str, Any]
    mistyped: Any = None
    """A value that does not fit (None: anything fits a JSON column)."""

    @property
    def api_name(self) -> str:
        return str(self.metadata["api_name"])


def _meta(api_name: str, data_type: str, json_type: str, **more: Any) -> dict[str, Any]:
    return {"api_name": api_name, "data_type": data_type, "json_type": json_type, **more}


def _user(name: str, user_id: str, email: str) -> dict[str, str]:
    return {"name": name, "id": user_id, "email": email}


CASES: tuple[FieldCase, ...] = (
    FieldCase(
        "text",
        _meta("Name", "text", "string", length=120),
        "Stark Standard contract",
        {"name": "Stark Standard contract"},
        mistyped={"first": "Stark"},
    ),
    FieldCase(
        "textarea",
        _meta("Notes", "textarea", "string", length=32000),
        'Überprüfung im März — "gold" SLA\nline two',
        {"notes": 'Überprüfung im März — "gold" SLA\nline two'},
        mistyped=["a", "list"],
    ),
    FieldCase("email", _meta("Email", "email", "string"), "ops@zylker.test", {"email": "ops@zylker.test"}),
    FieldCase("phone", _meta("Phone", "phone", "string"), "+1-555-3194976", {"phone": "+1-555-3194976"}),
    FieldCase(
        "website",
        _meta("Portal_URL", "website", "string"),
        "https://support.example.com/Premium",
        {"portal_url": "https://support.example.com/Premium"},
    ),
    FieldCase(
        "picklist",
        _meta("Status", "picklist", "string", pick_list_values=[{"display_value": "Active"}]),
        "Active",
        {"status": "Active"},
        mistyped={"display_value": "Active"},
    ),
    FieldCase(
        "multiselectpicklist",
        _meta("Service_Lines", "multiselectpicklist", "jsonarray"),
        ["Support", "Managed Backup"],
        {"service_lines": ["Support", "Managed Backup"]},
        mistyped="Support;Hosting",
    ),
    FieldCase("integer", _meta("Seats", "integer", "integer"), 19286, {"seats": 19286}, mistyped=3.7),
    FieldCase(
        "bigint (sent as a string)",
        _meta("Billing_Reference", "bigint", "string"),
        "900000000000000123",
        {"billing_reference": 900000000000000123},
        mistyped="90000000000000012x",
    ),
    FieldCase(
        "double with decimal_place (Decimal field)",
        _meta("Uptime_SLA", "double", "double", decimal_place=3),
        99.999,
        {"uptime_sla": Decimal("99.999")},
        mistyped=99.9995,
    ),
    FieldCase(
        "double without decimal_place",
        _meta("Ratio", "double", "double"),
        0.3333333333333333,
        {"ratio": 0.3333333333333333},
        mistyped="a third",
    ),
    FieldCase(
        "currency",
        _meta("Contract_Value", "currency", "double", decimal_place=2),
        1847799.49,
        {"contract_value": Decimal("1847799.49")},
        mistyped=1999.999,
    ),
    FieldCase(
        "percent",
        _meta("Discount", "percent", "double", decimal_place=2),
        12.5,
        {"discount": Decimal("12.50")},
        mistyped=True,
    ),
    FieldCase(
        "boolean", _meta("Auto_Renew", "boolean", "boolean"), True, {"auto_renew": True}, mistyped="yes"
    ),
    FieldCase(
        "date",
        _meta("Start_Date", "date", "string"),
        "2025-10-27",
        {"start_date": date(2025, 10, 27)},
        "27/10/2025",
    ),
    FieldCase(
        "datetime",
        _meta("Signed_At", "datetime", "string"),
        "2026-11-10T12:59:58+05:30",
        {"signed_at": datetime(2026, 11, 10, 7, 29, 58, tzinfo=UTC)},
        mistyped="2026-11-10T12:59:58",
    ),
    FieldCase(
        "autonumber",
        _meta("Contract_Number", "autonumber", "string"),
        "SC-000765",
        {"contract_number": "SC-000765"},
    ),
    FieldCase(
        "lookup",
        _meta("Account_Name", "lookup", "jsonobject", lookup={"module": {"api_name": "Accounts"}}),
        {"name": "Wonka Holdings Ltd", "id": "5726067000000040304"},
        {"account_name_id": "5726067000000040304", "account_name_name": "Wonka Holdings Ltd"},
        mistyped=["5726067000000040304"],
    ),
    FieldCase(
        "ownerlookup",
        _meta("Owner", "ownerlookup", "jsonobject"),
        _user("Zoë Müller", "5725767000000414019", "zoe@zylker.test"),
        {"owner_id": "5725767000000414019", "owner_name": "Zoë Müller"},
    ),
    FieldCase(
        "userlookup",
        _meta("Account_Manager", "userlookup", "jsonobject"),
        {"name": "田中 太郎", "id": "5725767000000415028"},
        {"account_manager_id": "5725767000000415028", "account_manager_name": "田中 太郎"},
        mistyped=True,
    ),
    FieldCase(
        "multiselectlookup",
        _meta("Related_Deals", "multiselectlookup", "jsonarray"),
        [{"Related_Deals": {"name": "Zylker — Migration", "id": "5726167000000045253"}, "id": "57257675643"}],
        {"related_deals": JSON},
    ),
    FieldCase(
        "multiuserlookup",
        _meta("Reviewers", "multiuserlookup", "jsonarray"),
        [{"Reviewers": {"name": "Zoë Müller", "id": "5725767000000414019"}, "id": "5725767444159463244"}],
        {"reviewers": JSON},
    ),
    FieldCase(
        "multi_module_lookup",
        _meta("Regarding", "multi_module_lookup", "jsonobject"),
        {
            "module": {"api_name": "Leads", "id": "5725767000000002178"},
            "name": "Aiko",
            "id": "5725867000000053165",
        },
        {"regarding": JSON},
    ),
    FieldCase(
        "subform",
        _meta("Line_Items", "subform", "jsonarray"),
        [
            {
                "Item": "Support hours",
                "Quantity": 10,
                "Unit_Price": 120.5,
                "Line_Total": 1205.0,
                "Parent_Id": {"name": "Stark Standard contract", "id": "5726267000000024254"},
                "id": "5725767194140300110",
                "Created_Time": "2026-11-10T12:59:58+05:30",
            }
        ],
        {"line_items": JSON},
    ),
    FieldCase(
        "fileupload",
        _meta("Signed_Documents", "fileupload", "jsonarray"),
        [{"File_Name__s": "contract.pdf", "Size__s": "48213", "File_Id__s": "abc123", "id": "57257675"}],
        {"signed_documents": JSON},
    ),
    FieldCase(
        "imageupload",
        _meta("Site_Photos", "imageupload", "jsonarray"),
        [{"File_Name__s": "site.jpg", "Size__s": "1024", "Encrypted_Id": "2cceafa194d", "id": "57257676"}],
        {"site_photos": JSON},
    ),
    FieldCase(
        "profileimage (Record_Image)",
        _meta("Record_Image", "profileimage", "string"),
        "a1b2c3d4e5f60718293a4b5c6d7e8f90",
        {"record_image": "a1b2c3d4e5f60718293a4b5c6d7e8f90"},
        mistyped=[{"File_Id__s": "x"}],
    ),
    FieldCase(
        "formula returning double",
        _meta("Days_To_Renewal", "formula", "double", formula={"return_type": "double"}, decimal_place=1),
        347.8,
        {"days_to_renewal": Decimal("347.8")},
        mistyped="#Error",
    ),
    FieldCase(
        "formula returning currency",
        _meta("Monthly_Value", "formula", "double", formula={"return_type": "currency"}, decimal_place=2),
        153983.29,
        {"monthly_value": Decimal("153983.29")},
        mistyped="N/A",
    ),
    FieldCase(
        "formula returning text",
        _meta("Status_Label", "formula", "string", formula={"return_type": "text"}),
        "On Hold · 19286 seats",
        {"status_label": "On Hold · 19286 seats"},
    ),
    FieldCase(
        "formula returning boolean",
        _meta("Is_Expired", "formula", "boolean", formula={"return_type": "boolean"}),
        False,
        {"is_expired": False},
        mistyped="false-ish",
    ),
    FieldCase(
        "formula returning date",
        _meta("Renewal_Notice_Date", "formula", "string", formula={"return_type": "date"}),
        "2026-09-27",
        {"renewal_notice_date": date(2026, 9, 27)},
        mistyped="2026-13-45",
    ),
    FieldCase(
        "formula returning datetime",
        _meta("Renewal_Due_At", "formula", "string", formula={"return_type": "datetime"}),
        "2027-11-10T12:59:58+05:30",
        {"renewal_due_at": datetime(2027, 11, 10, 7, 29, 58, tzinfo=UTC)},
        mistyped=1_794_303_598_000,
    ),
    FieldCase(
        "rollup_summary",
        _meta("Total_Billed", "rollup_summary", "double", rollup_summary={"return_type": "currency"}),
        30757.2,
        {"total_billed": Decimal("30757.20")},
        mistyped=30757.205,
    ),
    FieldCase(
        "consent_lookup",
        _meta("Data_Processing_Basis_Details", "consent_lookup", "jsonobject"),
        {"name": "Stark Standard contract", "id": "5725767595814151567"},
        {"data_processing_basis_details": JSON},
    ),
    FieldCase(
        "Tag (text sent as jsonarray)",
        _meta("Tag", "text", "jsonarray"),
        [{"name": "Trade show 2026", "id": "5725767000000346375", "color_code": "#F48435"}],
        {"tag": JSON},
    ),
)
"""One case per documented type (formulas once per return type)."""

MISTYPED = tuple(case for case in CASES if case.mistyped is not None)
