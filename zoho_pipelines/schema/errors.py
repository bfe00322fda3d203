"""Errors of the schema layer; each says which module and field is at fault and what to do."""

from __future__ import annotations


class SchemaError(ValueError):
    """Zoho field metadata cannot be mapped to one well-formed table schema."""


class SchemaDriftError(SchemaError):
    """A field changed type in a way the stored table cannot absorb by adding columns."""

    def __init__(self, *, module: str, field: str, old_type: str, new_type: str, advice: str) -> None:
        self.module = module
        self.field = field
        self.old_type = old_type
        self.new_type = new_type
        self.advice = advice
        super().__init__(
            f"{module}: field {field!r} changed type from {old_type} to {new_type}, "
            f"which the stored columns cannot hold. {advice}"
        )


class RecordValueError(ValueError):
    """A record value does not fit its field's type.

    The message names module, record id and field so the record can be found in Zoho; the
    offending value is shown shortened, as it may be personal data.
    """

    def __init__(self, *, module: str, record_id: object, field: str, problem: str) -> None:
        self.module = module
        self.record_id = record_id
        self.field = field
        self.problem = problem
        super().__init__(f"{module}: record {record_id!r}, field {field!r}: {problem}")
