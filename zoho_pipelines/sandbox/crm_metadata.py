"""Field and module metadata (GET /crm/{v}/settings/fields and /settings/modules).

Rendered from the catalogue with every property Zoho's v8 spec marks as required, so a client
that maps fields to types from this endpoint sees the same shape it would see from Zoho.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from zoho_pipelines.sandbox.crm_catalog import API_USER, MODULES, FieldSpec, ModuleSpec
from zoho_pipelines.sandbox.crm_custom_module import LINE_ITEMS
from zoho_pipelines.sandbox.crm_values import stable_salt
from zoho_pipelines.sandbox.errors import crm_error, json_response

SUBFORM_MODULES = {LINE_ITEMS.api_name: LINE_ITEMS}
"""Subform modules answer /settings/fields but are not listed by /settings/modules as modules."""
PROFILES = (
    {"name": "Administrator", "id": "5725767000000026011"},
    {"name": "Standard", "id": "5725767000000026014"},
)
LAYOUT = {"api_name": "Standard", "name": "Standard", "id": "5725767000000091055"}
AUTONUMBER_PREFIXES = {"Lead_Number__c": "LD-", "Account_Number": "ACC-"}
METADATA_TIME = "2026-01-05T09:30:00+05:30"
UI_TYPES = {
    "text": 1,
    "textarea": 3,
    "email": 25,
    "phone": 33,
    "website": 21,
    "picklist": 2,
    "multiselectpicklist": 100,
    "integer": 32,
    "bigint": 36,
    "double": 38,
    "percent": 39,
    "currency": 36,
    "boolean": 301,
    "date": 24,
    "datetime": 333,
    "lookup": 133,
    "ownerlookup": 8,
    "userlookup": 20,
    "autonumber": 76,
    "formula": 52,
    "rollup_summary": 52,
    "multiselectlookup": 51,
    "multiuserlookup": 47,
    "multi_module_lookup": 141,
    "subform": 55,
    "fileupload": 91,
    "imageupload": 92,
    "profileimage": 132,
    "consent_lookup": 155,
}
FORMULA_EXPRESSIONS = {
    "double": "Datecomp(Now(),${Created_Time})/1440",
    "currency": "${Contract_Value}/12",
    "text": "Concat(${Status},' · ',Tostring(${Seats}),' seats')",
    "boolean": "${Status}=='Expired'",
    "date": "Adddate(${Start_Date},335,'DAY')",
    "datetime": "Adddate(${Created_Time},365,'DAY')",
}


def field_id(module: ModuleSpec, sequence: int) -> str:
    return str(5_725_767_000_000_100_000 + module.number * 1_000 + sequence)


def _pick_list_values(spec: FieldSpec) -> list[dict[str, Any]]:
    if spec.data_type not in ("picklist", "multiselectpicklist"):
        return []
    values = spec.picklist if spec.mandatory else ("-None-", *spec.picklist)
    return [
        {
            "display_value": value,
            "sequence_number": number,
            "reference_value": value,
            "colour_code": None,
            "actual_value": value,
            "id": str(5_725_767_000_000_200_000 + int(stable_salt(spec.api_name, value)) % 99_991),
            "type": "used",
        }
        for number, value in enumerate(values, start=1)
    ]


def _minified_module(api_name: str) -> dict[str, str]:
    """{"api_name", "id"} of a module, including linking and subform modules the org does not list."""
    if api_name in MODULES:
        return {"api_name": api_name, "id": MODULES[api_name].module_id}
    return {"api_name": api_name, "id": str(5_725_767_000_000_600_000 + int(stable_salt(api_name)) % 99_991)}


def _linking(spec: FieldSpec, connected: str) -> dict[str, Any] | None:
    """multiselectlookup / multiuserlookup: the linking module and the two lookups it holds."""
    if spec.linking_module is None:
        return None
    return {
        "display_label": spec.label,
        "linking_module": _minified_module(spec.linking_module),
        "connected_module": _minified_module(connected),
        "lookup_apiname": spec.api_name,
        "api_name": spec.api_name,
        "connectedfield_apiname": spec.api_name,
        "connectedlookup_apiname": spec.api_name,
        "id": str(5_725_767_000_000_700_000 + int(stable_salt(spec.linking_module)) % 99_991),
        "record_access": False,
    }


def _rollup(spec: FieldSpec, module: ModuleSpec) -> dict[str, Any] | None:
    if spec.rollup_return is None:
        return None
    subform = next((field for field in module.fields if field.subform_module), None)
    related = subform.subform_module if subform else None
    return {
        "return_type": spec.rollup_return,
        "expression": {
            "function_parameters": [{"api_name": "Line_Total"}],
            "criteria": {"comparator": None, "field": {"api_name": None, "id": None}, "value": None},
            "function": "SUM",
        },
        "based_on_module": {"api_name": related, "id": _minified_module(related)["id"] if related else None},
        "related_list": {"api_name": subform.api_name if subform else None, "id": None},
        "rollup_based_on": "subform",
    }


def _lookup(spec: FieldSpec) -> dict[str, Any] | None:
    if spec.data_type != "lookup" or spec.lookup_module is None:
        return None
    target = MODULES[spec.lookup_module]
    return {
        "display_label": spec.label,
        "api_name": spec.api_name,
        "module": {"api_name": target.api_name, "id": target.module_id},
        "id": None,
        "query_details": {},
        "revalidate_filter_during_edit": False,
        "show_fields": [],
    }


def field_metadata(module: ModuleSpec, spec: FieldSpec, sequence: int) -> dict[str, Any]:
    minified_module = {"api_name": module.api_name, "id": module.module_id}
    return {
        "associated_module": minified_module,
        "data_type": spec.metadata_data_type,
        "operation_type": {
            "web_update": not spec.read_only,
            "api_create": not spec.read_only,
            "web_create": not spec.read_only,
            "api_update": not spec.read_only,
        },
        "system_mandatory": spec.mandatory,
        "webhook": True,
        "sequence_number": sequence,
        "blueprint_supported": not spec.read_only,
        "virtual_field": False,
        "field_read_only": spec.read_only,
        "customizable_properties": [] if spec.custom else ["tooltip"],
        "read_only": spec.read_only,
        "custom_field": spec.custom,
        "businesscard_supported": spec.data_type in ("text", "email", "phone"),
        "filterable": spec.data_type != "textarea",
        "visible": True,
        "available_in_user_layout": True,
        "display_field": spec.api_name == module.display_field,
        "pick_list_values_sorted_lexically": False,
        "sortable": spec.data_type not in ("textarea", "multiselectpicklist"),
        "layout_associations": [LAYOUT],
        "separator": False,
        "searchable": spec.data_type in ("text", "email", "phone", "picklist"),
        "enable_colour_code": False,
        "mass_update": not spec.read_only,
        "json_type": spec.json_type,
        "created_source": "crm" if spec.custom else "default",
        "type": "used",
        "display_label": spec.label,
        "field_label": spec.label,
        "column_name": spec.api_name.upper(),
        "api_name": spec.api_name,
        "display_type": -1,
        "ui_type": UI_TYPES[spec.metadata_data_type],
        "colour_code_enabled_by_system": False,
        "length": spec.max_length,
        "decimal_place": spec.decimal_place,
        "quick_sequence_number": str(sequence),
        "email_parser": {"fields_update_supported": False, "record_operations_supported": False},
        "rollup_summary": _rollup(spec, module),
        "refer_from_field": {"id": None, "api_name": None},
        "created_time": None if not spec.custom else METADATA_TIME,
        "modified_time": None if not spec.custom else METADATA_TIME,
        "show_type": 7,
        "category": 0,
        "id": field_id(module, sequence),
        "multi_module_lookup": (
            {
                "display_label": spec.label,
                "api_name": spec.api_name,
                "modules": [_minified_module(name) for name in spec.modules],
            }
            if spec.modules
            else None
        ),
        "sharing_properties": {"share_preference_enabled": False},
        "currency": {"rounding_option": "normal", "precision": 2} if spec.data_type == "currency" else None,
        "file_upolad_optionlist": [],
        "lookup": _lookup(spec),
        "profiles": [
            {**profile, "permission_type": "read_only" if spec.read_only else "read_write"}
            for profile in PROFILES
        ],
        "view_type": {
            "view": True,
            "edit": not spec.read_only,
            "quick_create": spec.mandatory,
            "create": not spec.read_only,
        },
        "unique": {"casesensitive": "false"} if spec.unique else None,
        "sub_module": {"api_name": None, "id": None},
        "subform": (
            {"module": spec.subform_module, "id": _minified_module(spec.subform_module)["id"]}
            if spec.subform_module
            else None
        ),
        "external": {"show": False, "type": None, "allow_multiple_config": False},
        "formula": (
            {"return_type": spec.formula_return, "expression": FORMULA_EXPRESSIONS[spec.formula_return]}
            if spec.formula_return
            else None
        ),
        "private": {"restricted": False, "type": None, "export": True},
        "convert_mapping": {"Contacts": None, "Deals": None, "Accounts": None},
        "multiselectlookup": (
            _linking(spec, spec.lookup_module or "") if spec.data_type == "multiselectlookup" else None
        ),
        "multiuserlookup": (_linking(spec, "users") if spec.data_type == "multiuserlookup" else None)
        or {
            "display_label": None,
            "linking_module": {"api_name": None, "id": None},
            "connected_module": {"api_name": None, "id": None},
            "lookup_apiname": None,
            "api_name": None,
            "connectedfield_apiname": None,
            "connectedlookup_apiname": None,
            "id": None,
            "record_access": None,
        },
        "autonumber": {"starting_number_length": 7, "prefix": None, "suffix": None, "start_number": None},
        "auto_number": (
            {"prefix": AUTONUMBER_PREFIXES.get(spec.api_name), "start_number": 1}
            if spec.data_type == "autonumber"
            else None
        ),
        "pick_list_values": _pick_list_values(spec),
        "crypt": {"mode": None, "status": None},
        "tooltip": {"name": "", "value": ""},
        "history_tracking": {"module": {}, "duration_configured_field": {"api_name": None, "id": None}},
        "association_details": {
            "related_field": {"api_name": None, "id": None},
            "lookup_field": {"api_name": None, "id": None},
        },
        "allowed_modules": [],
        "additional_column": None,
        "common.picklist": None,
        "hipaa_compliance_enabled": False,
        "hipaa_compliance": {"restricted_in_export": False, "restricted": False},
        "_update_existing_records": False,
        "number_separator": spec.data_type in ("integer", "double", "currency"),
        "textarea": {"type": "large"} if spec.data_type == "textarea" else {},
        "static_field": False,
    }


@cache
def module_fields(module_name: str) -> list[dict[str, Any]]:
    module = MODULES.get(module_name) or SUBFORM_MODULES[module_name]
    return [field_metadata(module, spec, n) for n, spec in enumerate(module.fields, start=1)]


def default_view(module: ModuleSpec) -> dict[str, Any]:
    """The module's default "All <records>" custom view, as the spec's custom_views schema has it.

    modules.json types `custom_view` as an object (custom_views.json#custom_views), not null;
    https://www.zoho.com/crm/developer/docs/api/v8/module-meta.html.
    """
    owner = {"name": API_USER["name"], "id": API_USER["id"], "email": API_USER["email"]}
    shown = [spec for spec in module.fields if spec.data_type not in ("subform", "textarea")][:6]
    modified = next(spec for spec in module.fields if spec.api_name == "Modified_Time")
    return {
        "display_value": f"All {module.plural_label}",
        "system_name": f"ALLVIEWS{module.number}",
        "category": "public_views",
        "created_time": None,
        "modified_time": None,
        "last_accessed_time": METADATA_TIME,
        "name": f"All {module.plural_label}",
        "created_by": owner,
        "modified_by": owner,
        "module": {"name": module.api_name, "id": module.module_id},
        "criteria": {
            "comparator": None,
            "field": {"api_name": None, "id": None},
            "value": None,
            "group_operator": None,
            "group": [],
        },
        "default": True,
        "system_defined": True,
        "locked": False,
        "favorite": None,
        "offline": False,
        "access_type": "public",
        "shared_to": [],
        "fields": [
            {"id": field_id(module, module.fields.index(spec) + 1), "api_name": spec.api_name, "_pin": False}
            for spec in shown
        ],
        "sort_by": {"id": field_id(module, module.fields.index(modified) + 1), "api_name": "Modified_Time"},
        "sort_order": "desc",
        "id": str(5_725_767_000_000_087_501 + module.number * 100),
    }


def module_metadata(module: ModuleSpec) -> dict[str, Any]:
    owner = {"name": API_USER["name"], "id": API_USER["id"], "email": API_USER["email"]}
    return {
        "has_more_profiles": False,
        "sub_menu_available": False,
        "common.search_supported": True,
        "deletable": module.custom,
        "description": None,
        "creatable": True,
        "recycle_bin_on_delete": True,
        "inventory_template_supported": False,
        "modified_time": METADATA_TIME,
        "plural_label": module.plural_label,
        "presence_sub_menu": False,
        "triggers_supported": True,
        "id": module.module_id,
        "chart_view": False,
        "isBlueprintSupported": True,
        "visibility": 1,
        "visible": True,
        "convertable": module.api_name == "Leads",
        "editable": True,
        "emailTemplate_support": True,
        "email_parser_supported": module.api_name in ("Leads", "Contacts"),
        "filter_supported": True,
        "show_as_tab": True,
        "web_link": None,
        "sequence_number": module.number + 1,
        "singular_label": module.singular,
        "viewable": True,
        "api_supported": True,
        "api_name": module.api_name,
        "quick_create": True,
        "generated_type": "custom" if module.custom else "default",
        "feeds_required": False,
        "scoring_supported": module.api_name in ("Leads", "Contacts", "Accounts", "Deals"),
        "webform_supported": module.api_name in ("Leads", "Contacts"),
        "arguments": [],
        "module_name": module.api_name,
        "chart_view_supported": True,
        "profile_count": len(PROFILES),
        "business_card_field_limit": 5,
        "track_current_data": True,
        "modified_by": owner,
        "profiles": list(PROFILES),
        "parent_module": {},
        "activity_badge": "Enabled",
        "$field_states": [],
        "business_card_fields": [],
        "per_page": 200,
        "$properties": [],
        "$on_demand_properties": [],
        "search_layout_fields": [module.display_field],
        "kanban_view_supported": True,
        "lookup_field_properties": {
            "fields": [{"sequence_number": 1, "api_name": module.display_field, "id": field_id(module, 1)}]
        },
        "kanban_view": False,
        "related_lists": [],
        "filter_status": True,
        "related_list_properties": {
            "sort_by": {"api_name": None, "id": None},
            "fields": [module.display_field],
            "sort_order": None,
        },
        "display_field": {"api_name": module.display_field, "id": field_id(module, 1)},
        "layouts": [LAYOUT],
        "fields": [],
        "custom_view": default_view(module),
        "zia_view": False,
        "default_mapping_fields": [],
        "status": "visible",
        "layout_associations": [LAYOUT],
    }


def metadata_routes() -> list[BaseRoute]:
    async def fields(request: Request) -> Response:
        module = request.query_params.get("module")
        if not module:
            return crm_error(
                400,
                "REQUIRED_PARAM_MISSING",
                "One of the expected parameter is missing",
                {"param_name": "module"},
            )
        if module not in MODULES and module not in SUBFORM_MODULES:
            return crm_error(
                400, "INVALID_MODULE", "the module name given seems to be invalid", {"param_name": "module"}
            )
        return json_response({"fields": module_fields(module)})

    async def modules(request: Request) -> Response:
        return json_response({"modules": [module_metadata(spec) for spec in MODULES.values()]})

    async def one_module(request: Request) -> Response:
        spec = MODULES.get(request.path_params["api_name"])
        if spec is None:
            return crm_error(
                400, "INVALID_MODULE", "the module name given seems to be invalid", {"resource_path_index": 0}
            )
        return json_response({"modules": [module_metadata(spec)]})

    return [
        Route("/crm/{version}/settings/fields", fields, methods=["GET"]),
        Route("/crm/{version}/settings/modules", modules, methods=["GET"]),
        Route("/crm/{version}/settings/modules/{api_name}", one_module, methods=["GET"]),
    ]
