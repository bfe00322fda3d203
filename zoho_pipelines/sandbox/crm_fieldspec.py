"""What a CRM field and module are, as Zoho's Fields Metadata API describes them, and the org's users.

Kept apart from the catalogue of modules (crm_catalog, crm_custom_module) so that every module
definition can share these types without importing one another.

data_type / json_type pairs follow Zoho's Fields Metadata API
(https://www.zoho.com/crm/developer/docs/api/v8/field-meta.html): a client must decide a column's
shape by both, because the same data_type can travel in different JSON shapes (the standard `Tag`
field is data_type "text" but json_type "jsonarray"), and a formula or rollup summary field takes
its json_type from its return type.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from zoho_pipelines.sandbox.crm_values import Derived, Generator

JSON_TYPES = {
    "text": "string",
    "textarea": "string",
    "email": "string",
    "phone": "string",
    "website": "string",
    "autonumber": "string",
    "picklist": "string",
    "date": "string",
    "datetime": "string",
    "bigint": "string",
    "integer": "integer",
    "double": "double",
    "percent": "double",
    "currency": "double",
    "boolean": "boolean",
    "lookup": "jsonobject",
    "ownerlookup": "jsonobject",
    "userlookup": "jsonobject",
    "consent_lookup": "jsonobject",
    "multi_module_lookup": "jsonobject",
    "multiselectpicklist": "jsonarray",
    "multiselectlookup": "jsonarray",
    "multiuserlookup": "jsonarray",
    "subform": "jsonarray",
    "fileupload": "jsonarray",
    "imageupload": "jsonarray",
    "profileimage": "string",
}
"""Zoho's json_type for each data_type (bigint travels as a string: it exceeds 2**53)."""

DEFAULT_LENGTHS = {
    "text": 255,
    "textarea": 32_000,
    "email": 100,
    "phone": 30,
    "website": 255,
    "autonumber": 255,
    "picklist": 120,
    "multiselectpicklist": 2_000,
    "integer": 9,
    "bigint": 18,
    "double": 16,
    "percent": 5,
    "currency": 16,
    "date": 20,
    "datetime": 120,
    "boolean": 5,
    "lookup": 120,
    "ownerlookup": 120,
    "userlookup": 120,
}
NOT_WRITABLE_TYPES = frozenset(
    {"subform", "fileupload", "imageupload", "profileimage", "consent_lookup", "multiselectlookup"}
    | {"multiuserlookup", "multi_module_lookup"}
)
"""Types the sandbox's PUT refuses: Zoho writes them through their own APIs (files, photos, linking
modules, subform rows), and the pipelines only read them."""


@dataclass(frozen=True)
class FieldSpec:
    api_name: str
    data_type: str
    label: str
    generate: Generator | None = field(default=None, repr=False)
    """None for the system fields the store renders from its columns (times, Created_By...)."""
    custom: bool = False
    read_only: bool = False
    mandatory: bool = False
    unique: bool = False
    volatile: bool = False
    """Changes when the record is edited (its hash takes the record version)."""
    picklist: tuple[str, ...] = ()
    lookup_module: str | None = None
    """lookup: the target; multiselectlookup / multiuserlookup: the connected module."""
    length: int | None = None
    decimal_place: int | None = None
    formula_return: str | None = None
    rollup_return: str | None = None
    json_type_override: str | None = None
    """For the rare field whose json_type is not its data_type's (the standard Tag field)."""
    linking_module: str | None = None
    """multiselectlookup / multiuserlookup: the linking module Zoho creates for the pair."""
    modules: tuple[str, ...] = ()
    """multi_module_lookup: the modules a value may point into."""
    subform_module: str | None = None

    @property
    def json_type(self) -> str:
        if self.json_type_override is not None:
            return self.json_type_override
        returned = self.formula_return or self.rollup_return
        if returned is not None:
            return JSON_TYPES[returned]
        return JSON_TYPES[self.data_type]

    @property
    def max_length(self) -> int:
        return self.length or DEFAULT_LENGTHS.get(self.data_type, 255)

    @property
    def metadata_data_type(self) -> str:
        """data_type as the Fields Metadata API reports it (formula and rollup keep their kind)."""
        if self.formula_return is not None:
            return "formula"
        if self.rollup_return is not None:
            return "rollup_summary"
        return self.data_type


@dataclass(frozen=True)
class ModuleSpec:
    api_name: str
    number: int
    singular: str
    display_field: str
    fields: tuple[FieldSpec, ...] = field(repr=False)
    custom: bool = False
    """A custom module (generated_type "custom" in the Modules API), like the ones orgs add."""
    plural: str | None = None
    by_name: dict[str, FieldSpec] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {spec.api_name: spec for spec in self.fields})

    @property
    def module_id(self) -> str:
        return str(5_725_767_000_000_002_175 + self.number * 3)

    @property
    def plural_label(self) -> str:
        return self.plural or self.api_name

    @property
    def volatile_fields(self) -> tuple[str, ...]:
        return tuple(spec.api_name for spec in self.fields if spec.volatile)

    @property
    def stored_volatile_fields(self) -> tuple[str, ...]:
        """Volatile fields with values of their own (derived ones follow their sources)."""
        return tuple(
            spec.api_name for spec in self.fields if spec.volatile and not isinstance(spec.generate, Derived)
        )


USERS: tuple[dict[str, str], ...] = tuple(
    {"name": name, "id": str(5_725_767_000_000_412_001 + n * 1_009), "email": email}
    for n, (name, email) in enumerate(
        [
            ("Patricia Boyle", "patricia.boyle@zylker-sandbox.com"),
            ("Ravi Shankar", "ravi.shankar@zylker-sandbox.com"),
            ("Zoë Müller", "zoe.mueller@zylker-sandbox.com"),
            ("田中 太郎", "taro.tanaka@zylker-sandbox.com"),
            ("Olúwásèun Adébáyọ̀", "seun.adebayo@zylker-sandbox.com"),
            ("Seán O'Connor", "sean.oconnor@zylker-sandbox.com"),
            ("María José García", "mariajose.garcia@zylker-sandbox.com"),
            ("Sandbox API User", "api.user@zylker-sandbox.com"),
        ]
    )
)
API_USER = USERS[-1]
USER_IDS = frozenset(user["id"] for user in USERS)
