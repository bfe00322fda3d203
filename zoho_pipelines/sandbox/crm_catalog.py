"""The sandbox org's CRM modules and fields, as data.

Each field says what Zoho's field metadata says about it (data_type, length, picklist values,
lookup target, custom or not, read-only or not) and how its values are generated. The records,
the field metadata endpoint, COQL, Bulk Read and update validation all read this one catalogue,
so they cannot disagree with one another.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from zoho_pipelines.sandbox.crm_complex_values import TAG_FIELD
from zoho_pipelines.sandbox.crm_custom_module import SERVICE_CONTRACTS
from zoho_pipelines.sandbox.crm_fieldspec import API_USER as API_USER
from zoho_pipelines.sandbox.crm_fieldspec import DEFAULT_LENGTHS as DEFAULT_LENGTHS
from zoho_pipelines.sandbox.crm_fieldspec import JSON_TYPES as JSON_TYPES
from zoho_pipelines.sandbox.crm_fieldspec import USER_IDS as USER_IDS
from zoho_pipelines.sandbox.crm_fieldspec import USERS as USERS
from zoho_pipelines.sandbox.crm_fieldspec import FieldSpec, ModuleSpec
from zoho_pipelines.sandbox.crm_values import (
    Choice,
    DateAround,
    DateTimeAround,
    DecimalRange,
    Derived,
    Digits,
    Flag,
    Generator,
    IntegerRange,
    LongText,
    MultiChoice,
    Template,
    pick,
    rehash,
)

if TYPE_CHECKING:
    from zoho_pipelines.sandbox.crm_store import RenderContext

# ---- people and pools -----------------------------------------------------------------------

FIRST_NAMES = (
    "James", "Mary", "Ravi", "Priya", "José", "Zoë", "Łukasz", "Søren", "Aiko", "Chen", "Fatima",
    "Olúwásèun", "Nguyễn", "Björk", "Mohammed", "Elena", "Sanjay", "Anaïs", "Hiroshi", "Amara",
    "D'Angelo", "Siobhán", "Mateus", "Ingrid", "Kwame", "Lakshmi", "Noah", "Chloé", "Dmitri", "Yuki",
)  # fmt: skip
LAST_NAMES = (
    "Smith", "García", "Müller", "O'Brien", "Kowalski", "Nakamura", "Patel", "Okafor", "Johansson",
    "Dubois", "Rossi", "Wang", "Iyer", "Fernández", "van der Berg", "Al-Sayed", "Kim", "Novák",
    "Sørensen", "MacLeod", "Nguyen", "Schröder", "Da Silva", "Ivanova", "Mensah", "Kapoor", "Lee",
)  # fmt: skip
ASCII_FOLD = str.maketrans(
    {"é": "e", "ë": "e", "ł": "l", "Ł": "L", "ø": "o", "ö": "o", "ü": "u", "á": "a", "ï": "i", "í": "i",
     "ú": "u", "ó": "o", "è": "e", "ễ": "e", "ọ": "o", "̀": "", "'": "", " ": "", "-": "", "ñ": "n"}
)  # fmt: skip
COMPANY_STEMS = (
    "Zylker", "Acme", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Tyrell", "Cyberdyne", "Hooli",
    "Vandelay", "Wonka", "Aperture", "Nakatomi", "Dunder", "Soylent", "Müller & Söhne", "Café Olé",
)  # fmt: skip
COMPANY_KINDS = ("Systems", "Foods", "Logistics", "Analytics", "Labs", "Holdings", "Traders", "Bio", "Energy")
COMPANY_SUFFIXES = ("Inc.", "Ltd", "GmbH", "Pvt. Ltd.", "S.A.", "LLC", "K.K.", "& Co.", ", Inc.")
DOMAINS = ("example.com", "zylker.test", "mail.example.org", "acme.example", "globex.example.net")
CITIES = (
    ("Chennai", "Tamil Nadu", "India"), ("Bengaluru", "Karnataka", "India"), ("Austin", "Texas", "USA"),
    ("München", "Bayern", "Germany"), ("São Paulo", "SP", "Brazil"), ("Zürich", "ZH", "Switzerland"),
    ("Osaka", "Osaka", "Japan"), ("Lagos", "Lagos", "Nigeria"), ("Dublin", "Leinster", "Ireland"),
    ("Toronto", "Ontario", "Canada"), ("Sydney", "NSW", "Australia"), ("Paris", "Île-de-France", "France"),
)  # fmt: skip
STREETS = (
    "Main St",
    "Rue de la Paix",
    "Hauptstraße",
    "MG Road",
    "Avenida Paulista",
    "King's Road",
    "1st Ave",
)
NOTE_FRAGMENTS = (
    'Met at "Expo 2026", asked about pricing, follow up next week.',
    "Prefers e-mail; do not call before 10:00.",
    'Budget approved, pending legal review (clause 4.2, "termination").',
    "Café ☕ meeting went well — très bien!",
    "Launch planned 🚀 Q3; needs SSO, audit log, and API access.",
    "中文备注：客户对产品很感兴趣。",
    "Price, quantity, and discount to be confirmed",
    "Line with a tab\tinside and a backslash \\ too",
    "Customer said: 'we'll sign \"as is\", no changes'",
    "Emoji check 👍🏽🔥 and Zoë's ümlauts",
    "",
)
INDUSTRIES = (
    "ASP (Application Service Provider)", "Data/Telecom OEM", "ERP (Enterprise Resource Planning)",
    "Government/Military", "Large Enterprise", "Management ISV", "MSP (Management Service Provider)",
    "Network Equipment Enterprise", "Non-management ISV", "Optical Networking", "Service Provider",
    "Small/Medium Enterprise", "Storage Equipment", "Storage Service Provider", "Systems Integrator",
    "Wireless Industry",
)  # fmt: skip
LEAD_SOURCES = (
    "Advertisement", "Cold Call", "Employee Referral", "External Referral", "Online Store", "Partner",
    "Public Relations", "Sales Email Alias", "Seminar Partner", "Internal Seminar", "Trade Show",
    "Web Download", "Web Research", "Chat",
)  # fmt: skip
LEAD_STATUSES = (
    "Attempted to Contact", "Contact in Future", "Contacted", "Junk Lead", "Lost Lead", "Not Contacted",
    "Pre-Qualified", "Not Qualified",
)  # fmt: skip
RATINGS = ("Acquired", "Active", "Market Failed", "Project Cancelled", "Shut Down")
REGIONS = ("APAC", "EMEA", "North America", "LATAM", "India", "ANZ")
AI_REGIONS = (*REGIONS, "Unknown")
AI_SIZE_BANDS = ("1-10", "11-50", "51-200", "201-1000", "1001-5000", "5001+", "Unknown")
STAGE_PROBABILITY = {
    "Qualification": 10,
    "Needs Analysis": 20,
    "Value Proposition": 40,
    "Id. Decision Makers": 60,
    "Proposal/Price Quote": 75,
    "Negotiation/Review": 90,
    "Closed Won": 100,
    "Closed Lost": 0,
    "Closed-Lost to Competition": 0,
}
STAGES = tuple(STAGE_PROBABILITY)
LOSS_REASONS = ("Price", "Lost to Competitor", "No Budget", "Timing", "Product Fit", "No Decision")


def _slug(text: str) -> str:
    return text.translate(ASCII_FOLD).lower()


def _full_name(ctx: RenderContext) -> list[Any]:
    return [
        f"{first} {last}" if first else last
        for first, last in zip(ctx.column("First_Name"), ctx.column("Last_Name"), strict=True)
    ]


def _email(ctx: RenderContext) -> list[Any]:
    """first.last.<index>@domain: unique per record, and the index makes duplicates checkable."""
    domains = pick(DOMAINS, rehash(ctx.hashes("Email"), 3))
    return [
        f"{_slug(first or 'x')}.{_slug(last)}.{index}@{domain}"
        for first, last, index, domain in zip(
            ctx.column("First_Name"), ctx.column("Last_Name"), ctx.indices.tolist(), domains, strict=True
        )
    ]


def _website(source: str) -> Generator:
    def compute(ctx: RenderContext) -> list[Any]:
        return [
            None if name is None else f"https://www.{_slug(name.split()[0]).strip('&.,')}.example.com"
            for name in ctx.column(source)
        ]

    return Derived(compute)


def _city_part(part: int, salt_field: str = "City") -> Generator:
    def compute(ctx: RenderContext) -> list[Any]:
        return [city[part] for city in pick(CITIES, ctx.hashes(salt_field))]

    return Derived(compute)


def _probability(ctx: RenderContext) -> list[Any]:
    return [STAGE_PROBABILITY[stage] for stage in ctx.column("Stage")]


def _expected_revenue(ctx: RenderContext) -> list[Any]:
    return [
        None if amount is None else round(amount * probability / 100.0, 2)
        for amount, probability in zip(ctx.column("Amount"), ctx.column("Probability"), strict=True)
    ]


def _loss_reason(ctx: RenderContext) -> list[Any]:
    reasons = pick(LOSS_REASONS, ctx.hashes("Reason_For_Loss__s"))
    return [
        reason if stage.startswith("Closed") and stage != "Closed Won" else None
        for stage, reason in zip(ctx.column("Stage"), reasons, strict=True)
    ]


def _signed_on(ctx: RenderContext) -> list[Any]:
    stamps = DateTimeAround(20, 0)(ctx, "Signed_On__c")
    return [
        stamp if stage == "Closed Won" else None
        for stage, stamp in zip(ctx.column("Stage"), stamps, strict=True)
    ]


def _age_days(ctx: RenderContext) -> list[Any]:
    """A formula over 'now': it drifts without Modified_Time moving, as Zoho formulas do."""
    return np.round((ctx.now_s - ctx.created_s) / 86_400.0, 1).tolist()


def _autonumber(prefix: str) -> Generator:
    return Derived(lambda ctx: [f"{prefix}-{index + 1:07d}" for index in ctx.indices.tolist()])


NAME_FIELDS = (
    FieldSpec(
        "Salutation",
        "picklist",
        "Salutation",
        Choice(("Mr.", "Mrs.", "Ms.", "Dr.", "Prof."), 0.3),
        picklist=("Mr.", "Mrs.", "Ms.", "Dr.", "Prof."),
    ),
    FieldSpec("First_Name", "text", "First Name", Choice(FIRST_NAMES, 0.03), length=40),
    FieldSpec("Last_Name", "text", "Last Name", Choice(LAST_NAMES), mandatory=True, length=80),
    FieldSpec("Full_Name", "text", "Full Name", Derived(_full_name), read_only=True),
)


def _system_fields() -> tuple[FieldSpec, ...]:
    return (
        FieldSpec("Created_By", "userlookup", "Created By", read_only=True),
        FieldSpec("Modified_By", "userlookup", "Modified By", read_only=True),
        FieldSpec("Created_Time", "datetime", "Created Time", read_only=True),
        FieldSpec("Modified_Time", "datetime", "Modified Time", read_only=True),
        FieldSpec("Last_Activity_Time", "datetime", "Last Activity Time", read_only=True),
        TAG_FIELD,
    )


OWNER = FieldSpec("Owner", "ownerlookup", "Lead Owner", mandatory=True)

LEADS = ModuleSpec(
    "Leads",
    1,
    "Lead",
    "Full_Name",
    (
        OWNER,
        *NAME_FIELDS,
        FieldSpec(
            "Company",
            "text",
            "Company",
            Template("{} {} {}", (COMPANY_STEMS, COMPANY_KINDS, COMPANY_SUFFIXES)),
            mandatory=True,
            length=200,
        ),
        FieldSpec(
            "Designation",
            "text",
            "Title",
            Choice(("CEO", "CTO", "VP Sales", "Buyer", "Engineer", "Analyst"), 0.1),
        ),
        FieldSpec("Email", "email", "Email", Derived(_email), unique=True),
        FieldSpec(
            "Secondary_Email",
            "email",
            "Secondary Email",
            Template("{}@{}", (("info", "sales", "hello", "ops"), DOMAINS), null_share=0.7),
        ),
        FieldSpec("Phone", "phone", "Phone", Digits("+1-555-", 7, 0.05), volatile=True),
        FieldSpec("Mobile", "phone", "Mobile", Digits("+91 98", 8, 0.2)),
        FieldSpec("Fax", "phone", "Fax", Digits("+44 20 7", 7, 0.85)),
        FieldSpec("Website", "website", "Website", _website("Company")),
        FieldSpec("Lead_Source", "picklist", "Lead Source", Choice(LEAD_SOURCES, 0.1), picklist=LEAD_SOURCES),
        FieldSpec(
            "Lead_Status",
            "picklist",
            "Lead Status",
            Choice(LEAD_STATUSES),
            volatile=True,
            picklist=LEAD_STATUSES,
        ),
        FieldSpec("Industry", "picklist", "Industry", Choice(INDUSTRIES, 0.15), picklist=INDUSTRIES),
        FieldSpec("No_of_Employees", "integer", "No. of Employees", IntegerRange(1, 250_000, 0.2)),
        FieldSpec(
            "Annual_Revenue",
            "currency",
            "Annual Revenue",
            DecimalRange(10_000, 900_000_000, 2, 0.3),
            decimal_place=2,
        ),
        FieldSpec("Rating", "picklist", "Rating", Choice(RATINGS, 0.4), volatile=True, picklist=RATINGS),
        FieldSpec("Email_Opt_Out", "boolean", "Email Opt Out", Flag(0.08)),
        FieldSpec("Skype_ID", "text", "Skype ID", Template("live:{}", (FIRST_NAMES,), 0.8), length=50),
        FieldSpec("Twitter", "text", "Twitter", Template("@{}_{}", (COMPANY_STEMS, REGIONS), 0.6), length=50),
        FieldSpec(
            "Street", "text", "Street", Template("{} {}", (("12", "221B", "7/3", "1600", "88"), STREETS), 0.1)
        ),
        FieldSpec("City", "text", "City", _city_part(0)),
        FieldSpec("State", "text", "State", _city_part(1)),
        FieldSpec("Zip_Code", "text", "Zip Code", Digits("", 6, 0.1), length=30),
        FieldSpec("Country", "text", "Country", _city_part(2)),
        FieldSpec("Description", "textarea", "Description", LongText(NOTE_FRAGMENTS, 3, 0.2), volatile=True),
        *_system_fields(),
        FieldSpec(
            "Unsubscribed_Mode",
            "picklist",
            "Unsubscribed Mode",
            Choice(("Manual", "Unsubscribe link", "Consent form"), 0.95),
            read_only=True,
            picklist=("Manual", "Unsubscribe link", "Consent form"),
        ),
        FieldSpec(
            "Unsubscribed_Time", "datetime", "Unsubscribed Time", DateTimeAround(25, 0, 0.95), read_only=True
        ),
        FieldSpec("Region__c", "picklist", "Region", Choice(REGIONS), custom=True, picklist=REGIONS),
        FieldSpec("Lead_Score__c", "integer", "Lead Score", IntegerRange(0, 100), custom=True, volatile=True),
        FieldSpec(
            "Budget__c",
            "currency",
            "Budget",
            DecimalRange(500, 2_500_000, 2, 0.35),
            custom=True,
            decimal_place=2,
        ),
        FieldSpec(
            "Interest_Areas__c",
            "multiselectpicklist",
            "Interest Areas",
            MultiChoice(("CRM", "Books", "Projects", "Desk", "Analytics", "People")),
            custom=True,
            picklist=("CRM", "Books", "Projects", "Desk", "Analytics", "People"),
        ),
        FieldSpec(
            "Preferred_Contact_Date__c",
            "date",
            "Preferred Contact Date",
            DateAround(10, 60, 0.25),
            custom=True,
        ),
        FieldSpec(
            "Next_Follow_Up__c",
            "datetime",
            "Next Follow Up",
            DateTimeAround(5, 30, 0.2),
            custom=True,
            volatile=True,
        ),
        FieldSpec(
            "Win_Probability__c",
            "percent",
            "Win Probability",
            DecimalRange(0, 100, 2),
            custom=True,
            decimal_place=2,
        ),
        FieldSpec(
            "Partner_Ref__c",
            "bigint",
            "Partner Reference",
            IntegerRange(10**15, 9 * 10**17, 0.3, as_text=True),
            custom=True,
        ),
        FieldSpec("Is_Qualified__c", "boolean", "Is Qualified", Flag(0.3), custom=True, volatile=True),
        FieldSpec(
            "Qualification_Notes__c",
            "textarea",
            "Qualification Notes",
            LongText(NOTE_FRAGMENTS, 2, 0.4),
            custom=True,
        ),
        FieldSpec(
            "Discount_Rate__c",
            "double",
            "Discount Rate",
            DecimalRange(0, 0.35, 4),
            custom=True,
            decimal_place=4,
        ),
        FieldSpec(
            "Referral_Code__c",
            "text",
            "Referral Code",
            Template("REF-{}-{}", (REGIONS, COMPANY_STEMS), 0.5),
            custom=True,
        ),
        FieldSpec(
            "LinkedIn_Profile__c",
            "website",
            "LinkedIn Profile",
            Template("https://www.linkedin.com/in/{}-{}", (FIRST_NAMES, LAST_NAMES), 0.4),
            custom=True,
        ),
        FieldSpec(
            "Campaign_Code__c",
            "text",
            "Campaign Code",
            Template("CMP-{}{}", (("24", "25", "26"), ("A", "B", "C"))),
            custom=True,
        ),
        FieldSpec(
            "Preferred_Language__c",
            "picklist",
            "Preferred Language",
            Choice(("English", "Deutsch", "Español", "日本語", "हिन्दी", "Français")),
            custom=True,
            picklist=("English", "Deutsch", "Español", "日本語", "हिन्दी", "Français"),
        ),
        FieldSpec(
            "Employee_Band__c",
            "picklist",
            "Employee Band",
            Choice(("1-10", "11-50", "51-200", "201-1000", "1000+")),
            custom=True,
            picklist=("1-10", "11-50", "51-200", "201-1000", "1000+"),
        ),
        FieldSpec(
            "Tech_Stack__c",
            "multiselectpicklist",
            "Tech Stack",
            MultiChoice(("AWS", "Azure", "GCP", "Salesforce", "SAP", "Snowflake", "Databricks"), 4),
            custom=True,
            picklist=("AWS", "Azure", "GCP", "Salesforce", "SAP", "Snowflake", "Databricks"),
        ),
        FieldSpec(
            "Product_Interest__c",
            "picklist",
            "Product Interest",
            Choice(("Zoho One", "CRM Plus", "Books", "Bigin"), 0.2),
            custom=True,
            picklist=("Zoho One", "CRM Plus", "Books", "Bigin"),
        ),
        FieldSpec("Last_Demo_Date__c", "date", "Last Demo Date", DateAround(90, 0, 0.5), custom=True),
        FieldSpec("Demo_Attended__c", "boolean", "Demo Attended", Flag(0.4), custom=True),
        FieldSpec("Marketing_Consent__c", "boolean", "Marketing Consent", Flag(0.7), custom=True),
        FieldSpec("Consent_Time__c", "datetime", "Consent Time", DateTimeAround(60, 0, 0.3), custom=True),
        FieldSpec(
            "Lead_Age_Days__c",
            "double",
            "Lead Age (days)",
            Derived(_age_days),
            custom=True,
            read_only=True,
            decimal_place=1,
            formula_return="double",
        ),
        FieldSpec(
            "Lead_Number__c", "autonumber", "Lead Number", _autonumber("LD"), custom=True, read_only=True
        ),
        FieldSpec("Hot_Lead__c", "boolean", "Hot Lead", Flag(0.15), custom=True, volatile=True),
        FieldSpec(
            "Time_Zone__c",
            "picklist",
            "Time Zone",
            Choice(("Asia/Kolkata", "Europe/Berlin", "America/Chicago", "Asia/Tokyo")),
            custom=True,
            picklist=("Asia/Kolkata", "Europe/Berlin", "America/Chicago", "Asia/Tokyo"),
        ),
        FieldSpec(
            "Annual_Budget_Cycle__c",
            "picklist",
            "Budget Cycle",
            Choice(("Jan-Dec", "Apr-Mar", "Jul-Jun"), 0.3),
            custom=True,
            picklist=("Jan-Dec", "Apr-Mar", "Jul-Jun"),
        ),
        FieldSpec(
            "Seats_Requested__c", "integer", "Seats Requested", IntegerRange(1, 5_000, 0.25), custom=True
        ),
        FieldSpec(
            "Competitor_Mentioned__c",
            "text",
            "Competitor Mentioned",
            Choice(("Salesforce", "HubSpot", "Pipedrive", "Freshsales", "Dynamics 365"), 0.6),
            custom=True,
        ),
    ),
)

CONTACTS = ModuleSpec(
    "Contacts",
    2,
    "Contact",
    "Full_Name",
    (
        FieldSpec("Owner", "ownerlookup", "Contact Owner", mandatory=True),
        *NAME_FIELDS,
        FieldSpec("Account_Name", "lookup", "Account Name", lookup_module="Accounts"),
        FieldSpec("Email", "email", "Email", Derived(_email), unique=True),
        FieldSpec(
            "Secondary_Email",
            "email",
            "Secondary Email",
            Template("{}@{}", (("me", "home", "private"), DOMAINS), null_share=0.75),
        ),
        FieldSpec("Phone", "phone", "Phone", Digits("+1-555-", 7, 0.05), volatile=True),
        FieldSpec("Mobile", "phone", "Mobile", Digits("+49 151 ", 8, 0.3)),
        FieldSpec("Home_Phone", "phone", "Home Phone", Digits("+33 1 ", 8, 0.8)),
        FieldSpec(
            "Title",
            "text",
            "Title",
            Choice(("Director", "Manager", "Engineer", "Buyer", "CFO"), 0.1),
            length=100,
        ),
        FieldSpec(
            "Department",
            "text",
            "Department",
            Choice(("Sales", "IT", "Finance", "Operations"), 0.3),
            length=30,
        ),
        FieldSpec("Lead_Source", "picklist", "Lead Source", Choice(LEAD_SOURCES, 0.1), picklist=LEAD_SOURCES),
        FieldSpec("Date_of_Birth", "date", "Date of Birth", DateAround(25_000, -7_000, 0.6)),
        FieldSpec(
            "Mailing_Street", "text", "Mailing Street", Template("{} {}", (("4", "17", "300"), STREETS), 0.1)
        ),
        FieldSpec("Mailing_City", "text", "Mailing City", _city_part(0, "Mailing_City")),
        FieldSpec("Mailing_State", "text", "Mailing State", _city_part(1, "Mailing_City")),
        FieldSpec("Mailing_Zip", "text", "Mailing Zip", Digits("", 5, 0.1), length=30),
        FieldSpec("Mailing_Country", "text", "Mailing Country", _city_part(2, "Mailing_City")),
        FieldSpec("Description", "textarea", "Description", LongText(NOTE_FRAGMENTS, 3, 0.3), volatile=True),
        FieldSpec("Email_Opt_Out", "boolean", "Email Opt Out", Flag(0.05)),
        *_system_fields(),
        FieldSpec("Region__c", "picklist", "Region", Choice(REGIONS), custom=True, picklist=REGIONS),
        FieldSpec(
            "Preferred_Channel__c",
            "picklist",
            "Preferred Channel",
            Choice(("Email", "Phone", "WhatsApp", "In person")),
            custom=True,
            picklist=("Email", "Phone", "WhatsApp", "In person"),
        ),
        FieldSpec(
            "Interests__c",
            "multiselectpicklist",
            "Interests",
            MultiChoice(("Webinars", "Newsletters", "Events", "Beta")),
            custom=True,
            picklist=("Webinars", "Newsletters", "Events", "Beta"),
        ),
        FieldSpec(
            "NPS_Score__c", "integer", "NPS Score", IntegerRange(0, 10, 0.4), custom=True, volatile=True
        ),
        FieldSpec(
            "Last_Login__c", "datetime", "Last Login", DateTimeAround(30, 0, 0.2), custom=True, volatile=True
        ),
        FieldSpec(
            "Lifetime_Value__c",
            "currency",
            "Lifetime Value",
            DecimalRange(0, 1_500_000, 2, 0.3),
            custom=True,
            decimal_place=2,
        ),
        FieldSpec("VIP__c", "boolean", "VIP", Flag(0.05), custom=True),
    ),
)

ACCOUNT_TYPES = (
    "Analyst",
    "Competitor",
    "Customer",
    "Distributor",
    "Integrator",
    "Investor",
    "Partner",
    "Prospect",
)
ACCOUNTS = ModuleSpec(
    "Accounts",
    3,
    "Account",
    "Account_Name",
    (
        FieldSpec("Owner", "ownerlookup", "Account Owner", mandatory=True),
        FieldSpec(
            "Account_Name",
            "text",
            "Account Name",
            Template("{} {} {}", (COMPANY_STEMS, COMPANY_KINDS, COMPANY_SUFFIXES)),
            mandatory=True,
            length=200,
        ),
        FieldSpec("Account_Number", "text", "Account Number", _autonumber("ACC"), length=40),
        FieldSpec(
            "Account_Site",
            "text",
            "Account Site",
            Choice(("HQ", "Branch", "Remote", "Plant"), 0.4),
            length=80,
        ),
        FieldSpec("Parent_Account", "lookup", "Parent Account", lookup_module="Accounts"),
        FieldSpec(
            "Account_Type",
            "picklist",
            "Account Type",
            Choice(ACCOUNT_TYPES, 0.1),
            volatile=True,
            picklist=ACCOUNT_TYPES,
        ),
        FieldSpec("Industry", "picklist", "Industry", Choice(INDUSTRIES, 0.1), picklist=INDUSTRIES),
        FieldSpec(
            "Annual_Revenue",
            "currency",
            "Annual Revenue",
            DecimalRange(50_000, 5_000_000_000, 2, 0.25),
            decimal_place=2,
        ),
        FieldSpec("Rating", "picklist", "Rating", Choice(RATINGS, 0.5), picklist=RATINGS),
        FieldSpec("Phone", "phone", "Phone", Digits("+1-800-", 7, 0.05), volatile=True),
        FieldSpec("Fax", "phone", "Fax", Digits("+1-800-9", 6, 0.8)),
        FieldSpec("Website", "website", "Website", _website("Account_Name")),
        FieldSpec(
            "Ticker_Symbol",
            "text",
            "Ticker Symbol",
            Template("{}{}", (("Z", "A", "G", "N"), ("YLK", "CME", "LBX")), 0.7),
            length=30,
        ),
        FieldSpec(
            "Ownership",
            "picklist",
            "Ownership",
            Choice(("Public", "Private", "Subsidiary", "Partnership"), 0.2),
            picklist=("Public", "Private", "Subsidiary", "Partnership"),
        ),
        FieldSpec("Employees", "integer", "Employees", IntegerRange(1, 400_000, 0.15)),
        FieldSpec("SIC_Code", "integer", "SIC Code", IntegerRange(100, 9_999, 0.5)),
        FieldSpec(
            "Billing_Street", "text", "Billing Street", Template("{} {}", (("1", "42", "500"), STREETS))
        ),
        FieldSpec("Billing_City", "text", "Billing City", _city_part(0, "Billing_City")),
        FieldSpec("Billing_State", "text", "Billing State", _city_part(1, "Billing_City")),
        FieldSpec("Billing_Code", "text", "Billing Code", Digits("", 6), length=30),
        FieldSpec("Billing_Country", "text", "Billing Country", _city_part(2, "Billing_City")),
        FieldSpec("Shipping_City", "text", "Shipping City", _city_part(0, "Shipping_City")),
        FieldSpec("Shipping_Country", "text", "Shipping Country", _city_part(2, "Shipping_City")),
        FieldSpec("Description", "textarea", "Description", LongText(NOTE_FRAGMENTS, 2, 0.3), volatile=True),
        *_system_fields(),
        FieldSpec("Region__c", "picklist", "Region", Choice(REGIONS), custom=True, picklist=REGIONS),
        FieldSpec(
            "Customer_Tier__c",
            "picklist",
            "Customer Tier",
            Choice(("Bronze", "Silver", "Gold", "Platinum")),
            custom=True,
            volatile=True,
            picklist=("Bronze", "Silver", "Gold", "Platinum"),
        ),
        FieldSpec(
            "Health_Score__c",
            "percent",
            "Health Score",
            DecimalRange(0, 100, 1),
            custom=True,
            volatile=True,
            decimal_place=1,
        ),
        FieldSpec(
            "Contract_Value__c",
            "currency",
            "Contract Value",
            DecimalRange(1_000, 3_000_000, 2, 0.4),
            custom=True,
            decimal_place=2,
        ),
        FieldSpec("Renewal_Date__c", "date", "Renewal Date", DateAround(30, 365, 0.3), custom=True),
        FieldSpec(
            "Segments__c",
            "multiselectpicklist",
            "Segments",
            MultiChoice(("SMB", "Mid-Market", "Enterprise", "Public Sector")),
            custom=True,
            picklist=("SMB", "Mid-Market", "Enterprise", "Public Sector"),
        ),
        FieldSpec("Is_Strategic__c", "boolean", "Is Strategic", Flag(0.1), custom=True),
        FieldSpec(
            "External_Ref__c",
            "bigint",
            "External Reference",
            IntegerRange(10**17, 9 * 10**17, 0.2, as_text=True),
            custom=True,
        ),
    ),
)

DEAL_TYPES = ("Qualified", "New Business", "Existing Business")
DEALS = ModuleSpec(
    "Deals",
    4,
    "Deal",
    "Deal_Name",
    (
        FieldSpec("Owner", "ownerlookup", "Deal Owner", mandatory=True),
        FieldSpec(
            "Deal_Name",
            "text",
            "Deal Name",
            Template(
                "{} — {} {}",
                (
                    COMPANY_STEMS,
                    ("Renewal", "Expansion", "Pilot", "Migration", "Upsell"),
                    ("2025", "2026", "FY27"),
                ),
            ),
            mandatory=True,
            length=120,
        ),
        FieldSpec("Account_Name", "lookup", "Account Name", lookup_module="Accounts"),
        FieldSpec("Contact_Name", "lookup", "Contact Name", lookup_module="Contacts"),
        FieldSpec(
            "Amount",
            "currency",
            "Amount",
            DecimalRange(1_000, 750_000, 2, 0.15),
            volatile=True,
            decimal_place=2,
        ),
        FieldSpec("Closing_Date", "date", "Closing Date", DateAround(60, 120), mandatory=True, volatile=True),
        FieldSpec(
            "Stage", "picklist", "Stage", Choice(STAGES), mandatory=True, volatile=True, picklist=STAGES
        ),
        FieldSpec("Probability", "percent", "Probability (%)", Derived(_probability), volatile=True),
        FieldSpec(
            "Expected_Revenue",
            "currency",
            "Expected Revenue",
            Derived(_expected_revenue),
            read_only=True,
            volatile=True,
            decimal_place=2,
        ),
        FieldSpec("Type", "picklist", "Type", Choice(DEAL_TYPES, 0.2), picklist=DEAL_TYPES),
        FieldSpec("Lead_Source", "picklist", "Lead Source", Choice(LEAD_SOURCES, 0.2), picklist=LEAD_SOURCES),
        FieldSpec(
            "Next_Step",
            "text",
            "Next Step",
            Choice(("Send proposal", "Schedule demo", "Legal review", "Call CFO"), 0.3),
            volatile=True,
            length=100,
        ),
        FieldSpec(
            "Pipeline",
            "picklist",
            "Pipeline",
            Choice(("Standard (Standard)", "Enterprise")),
            picklist=("Standard (Standard)", "Enterprise"),
        ),
        FieldSpec(
            "Reason_For_Loss__s",
            "picklist",
            "Reason For Loss",
            Derived(_loss_reason),
            volatile=True,
            picklist=LOSS_REASONS,
        ),
        FieldSpec("Description", "textarea", "Description", LongText(NOTE_FRAGMENTS, 3, 0.25), volatile=True),
        *_system_fields(),
        FieldSpec("Region__c", "picklist", "Region", Choice(REGIONS), custom=True, picklist=REGIONS),
        FieldSpec(
            "Discount__c", "percent", "Discount", DecimalRange(0, 40, 2, 0.3), custom=True, decimal_place=2
        ),
        FieldSpec(
            "Competitors__c",
            "multiselectpicklist",
            "Competitors",
            MultiChoice(("Salesforce", "HubSpot", "Pipedrive", "Dynamics 365")),
            custom=True,
            picklist=("Salesforce", "HubSpot", "Pipedrive", "Dynamics 365"),
        ),
        FieldSpec(
            "Contract_Length_Months__c",
            "integer",
            "Contract Length (months)",
            IntegerRange(1, 60, 0.1),
            custom=True,
        ),
        FieldSpec("Signed_On__c", "datetime", "Signed On", Derived(_signed_on), custom=True, volatile=True),
        FieldSpec("Is_Renewal__c", "boolean", "Is Renewal", Flag(0.3), custom=True),
        # Empty until a signed contract's end date is written back (zoho_pipelines.documents).
        FieldSpec("Contract_End_Date", "date", "Contract End Date", DateAround(0, 0, 1.0), custom=True),
        FieldSpec(
            "Deal_Score__c",
            "double",
            "Deal Score",
            DecimalRange(0, 10, 3),
            custom=True,
            volatile=True,
            decimal_place=3,
        ),
        # Filled only by the onboarding's AI enrichment (empty until a deal is enriched).
        FieldSpec("AI_Industry__c", "text", "AI Industry", Choice(("",), 1.0), custom=True, length=80),
        FieldSpec(
            "AI_Size_Band__c",
            "picklist",
            "AI Size Band",
            Choice(AI_SIZE_BANDS, 1.0),
            custom=True,
            picklist=AI_SIZE_BANDS,
        ),
        FieldSpec(
            "AI_Region__c", "picklist", "AI Region", Choice(AI_REGIONS, 1.0), custom=True, picklist=AI_REGIONS
        ),
    ),
)

STANDARD_MODULES = (LEADS, CONTACTS, ACCOUNTS, DEALS)
MODULES: dict[str, ModuleSpec] = {spec.api_name: spec for spec in (*STANDARD_MODULES, SERVICE_CONTRACTS)}
"""Every module of the sandbox org: the four standard ones, then the custom Service_Contracts
(one field of each documented type; see crm_custom_module)."""
LOOKUP_NULL_SHARE = {"Parent_Account": 0.85, "Contact_Name": 0.1, "Account_Name": 0.05}
