"""The COQL v8 limitations, as rules over a parsed query, each with Zoho's documented error.

Source for every rule: Zoho's "Query API - Limitations" page for v8
(https://www.zoho.com/crm/developer/docs/api/v8/COQL-Limitations.html) and the COQL FAQ post
"Kaizen #171: FAQs on COQL API" (https://help.zoho.com/portal/en/community/topic/kaizen-171-faqs-on-coql-api).
The error codes are those the v8 spec (coql.json) lists for COQL: SYNTAX_ERROR, INVALID_QUERY and
LIMIT_EXCEEDED, with its documented messages and detail keys (clause, by, limit, column_name, ...).
These are the limits that bite a client that builds queries from field metadata: a module with a
field called `External`, an image-upload field, a select list with many lookup names.
"""

from __future__ import annotations

from typing import Any, Protocol

import sqlglot
from sqlglot import exp

from zoho_pipelines.sandbox.crm_fieldspec import FieldSpec

MAX_SELECT_JOINS = 15
""""A maximum of 15 SELECT clause JOINs can be applied in a single query" (v8 limitations)."""
UNSUPPORTED_TYPES = frozenset({"imageupload"})
""""Image upload field is not supported" (v8 limitations)."""
RESERVED_WORDS = frozenset(
    """
    all alter and any as asc between by case cast check column constraint create cross current
    current_date current_time current_timestamp current_user delete desc distinct drop else end
    except exists external false fetch for foreign from full global grant group having in inner
    insert intersect into is join leading left like limit local natural not null of offset on or
    order outer primary references right select session_user some system_user table then to
    trailing true union unique update user using values when where window with
    """.split()  # noqa: SIM905 - a word list reads best as text
)
"""SQL reserved words (SQL:2016, the ones sqlglot would otherwise take as names). Zoho: "When using
SQL reserved keywords like External, you must enclose them in single or double quotes" (Kaizen
#171); field names that are reserved words must be quoted (v8 limitations)."""


class CoqlRuleError(Exception):
    """A query that breaks a documented COQL limit: code, message and details as Zoho sends them."""

    def __init__(self, code: str, message: str, details: dict[str, Any]) -> None:
        super().__init__(message)
        self.code, self.message, self.details = code, message, details


class _Joined(Protocol):
    @property
    def key(self) -> str: ...


def quoted_column(node: exp.Expression) -> exp.Expression:
    """A quoted name ('External', "Account_Name.Account_Name") read as the column it names.

    Zoho's COQL takes a quoted select/where/order item as a field name, not a string constant:
    that is how reserved words are written, and how its JOIN examples quote dotted columns
    (https://www.zoho.com/crm/developer/docs/api/v8/COQL-Joins.html).
    """
    if not (isinstance(node, exp.Literal) and node.is_string):
        return node
    column = sqlglot.parse_one(".".join(f"`{part}`" for part in node.this.split(".")), read="mysql")
    return column if isinstance(column, exp.Column) else node


def _unquoted_reserved(identifier: exp.Expression | None) -> bool:
    return (
        isinstance(identifier, exp.Identifier)
        and not identifier.args.get("quoted")
        and identifier.name.lower() in RESERVED_WORDS
    )


def reserved_word(node: exp.Expression) -> None:
    """SYNTAX_ERROR for a column whose name (or lookup) is an unquoted SQL reserved word."""
    if not isinstance(node, exp.Column):
        return
    for identifier in (node.this, node.args.get("table")):
        if _unquoted_reserved(identifier):
            assert isinstance(identifier, exp.Identifier)
            meta = identifier.meta or {}
            raise CoqlRuleError(
                "SYNTAX_ERROR",
                "invalid query formed",
                {"line": meta.get("line", 1), "column": meta.get("col", 0), "near": identifier.name},
            )


def check_supported(spec: FieldSpec, clause: str) -> None:
    """INVALID_QUERY for a field type COQL does not support (image upload)."""
    if spec.data_type in UNSUPPORTED_TYPES:
        raise CoqlRuleError(
            "INVALID_QUERY",
            "data type not supported",
            {"column_name": spec.api_name, "data_type": spec.data_type, "clause": clause},
        )


def check_joins(joined: list[_Joined]) -> None:
    """LIMIT_EXCEEDED past 15 select-column joins (each dotted lookup column is one)."""
    distinct = list(dict.fromkeys(column.key for column in joined))
    if len(distinct) > MAX_SELECT_JOINS:
        raise CoqlRuleError(
            "LIMIT_EXCEEDED",
            "select column joins limit exceeded",
            {"by": "select_column_joins", "limit": MAX_SELECT_JOINS, "clause": "select"},
        )


def check_criteria_pairs(node: exp.Expression) -> None:
    """SYNTAX_ERROR when and/or chains more than two criteria without brackets around each pair.

    "When the query involves more than two criteria, ensure that you enclose your criteria properly
    by grouping them in pairs, such as ((A and B) and C)" (Kaizen #171; v8 limitations). sqlglot
    reads `A and B and C` as And(And(A, B), C): a connective directly under another one, with no
    brackets between them, is the ambiguous form Zoho refuses.
    """
    if isinstance(node, exp.Paren):
        check_criteria_pairs(node.this)
        return
    if isinstance(node, exp.Not):
        check_criteria_pairs(node.this)
        return
    if not isinstance(node, exp.And | exp.Or):
        return
    for child in (node.this, node.expression):
        if isinstance(child, exp.And | exp.Or):
            raise CoqlRuleError(
                "SYNTAX_ERROR",
                "invalid query formed",
                {"clause": "where", "reason": "more than two criteria must be enclosed in brackets in pairs"},
            )
        check_criteria_pairs(child)
