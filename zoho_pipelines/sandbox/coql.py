"""COQL (POST /crm/{v}/coql): the SELECT subset integrations use, parsed with sqlglot.

Supported: a select list of fields, and of a lookup's target fields with a dot
(`Account_Name.Account_Name`, answered under that dotted key), one module in FROM, WHERE with
= != < <= > >= in / not in,
between / not between, is [not] null, [not] like, and/or and parentheses, ORDER BY several
columns asc/desc, and `LIMIT offset, count` or `LIMIT count OFFSET offset` (at most 2,000 rows a
call and 100,000 rows deep). Anything else gets the error Zoho gives, in Zoho's shape.

The limits Zoho documents for COQL v8 are enforced (see coql_rules for each, with its source):
at most 15 select-column joins, no image-upload fields, SQL reserved words as field names only
when quoted ('External', "External" or `External`), and more than two WHERE criteria bracketed in
pairs. A quoted name is a column, as in Zoho's own examples (`select 'Account_Name.Account_Name'`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
import sqlglot
from sqlglot import exp
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from zoho_pipelines.gc_tuning import fewer_gc_passes
from zoho_pipelines.sandbox.coql_rules import (
    CoqlRuleError,
    check_criteria_pairs,
    check_joins,
    check_supported,
    quoted_column,
    reserved_word,
)
from zoho_pipelines.sandbox.crm_catalog import MODULES, FieldSpec, ModuleSpec
from zoho_pipelines.sandbox.crm_filter import (
    STORED_COLUMNS,
    Condition,
    FilterOperatorError,
    FilterValueError,
    Group,
    Predicate,
    comparable,
    evaluate,
    field_spec,
    stored_values,
    validate,
)
from zoho_pipelines.sandbox.crm_store import CrmStore
from zoho_pipelines.sandbox.errors import crm_error, json_response

MAX_LIMIT = 2_000
MAX_DEPTH = 100_000
MAX_COLUMNS = 50
DEFAULT_LIMIT = 200
COMPARISONS = {exp.EQ: "=", exp.NEQ: "!=", exp.LT: "<", exp.LTE: "<=", exp.GT: ">", exp.GTE: ">="}


class CoqlError(Exception):
    def __init__(self, code: str, message: str, details: dict[str, Any]) -> None:
        super().__init__(message)
        self.code, self.message, self.details = code, message, details


@dataclass(frozen=True)
class RelatedColumn:
    """`<lookup>.<field>`: a field of the record a lookup points to."""

    lookup: FieldSpec
    target: FieldSpec

    @property
    def key(self) -> str:
        return f"{self.lookup.api_name}.{self.target.api_name}"


@dataclass(frozen=True)
class CoqlQuery:
    module: ModuleSpec
    columns: list[str]
    where: Predicate | None
    order: list[tuple[FieldSpec, bool]]  # (field, descending)
    offset: int
    limit: int
    related: tuple[RelatedColumn, ...] = ()


def credits_for_limit(limit: int) -> int:
    """Zoho charges COQL by LIMIT: 1-200 one credit, 201-1,000 two, 1,001-2,000 three."""
    return 1 if limit <= 200 else 2 if limit <= 1_000 else 3


def _syntax(clause: str) -> CoqlError:
    return CoqlError("SYNTAX_ERROR", "invalid query formed", {"clause": clause})


def _column(module: ModuleSpec, node: exp.Expression, clause: str) -> FieldSpec:
    node = quoted_column(node)
    reserved_word(node)
    spec = _plain_column(module, node, clause)
    check_supported(spec, clause)
    return spec


def _plain_column(module: ModuleSpec, node: exp.Expression, clause: str) -> FieldSpec:
    if not isinstance(node, exp.Column) or node.table:
        raise CoqlError(
            "INVALID_QUERY", "column given seems to be invalid", {"column_name": node.sql(), "clause": clause}
        )
    spec = field_spec(module, node.name)
    if spec is None:
        raise CoqlError(
            "INVALID_QUERY", "column given seems to be invalid", {"column_name": node.name, "clause": clause}
        )
    return spec


def _related_column(module: ModuleSpec, node: exp.Expression) -> RelatedColumn | None:
    """`Lookup.Field` in a select list, when the lookup and its target's field exist."""
    node = quoted_column(node)
    if not isinstance(node, exp.Column) or not node.table or node.args.get("db"):
        return None
    lookup = module.by_name.get(node.table)
    if lookup is None or lookup.data_type != "lookup" or lookup.lookup_module not in MODULES:
        raise CoqlError(
            "INVALID_QUERY",
            "column given seems to be invalid",
            {"column_name": node.sql(), "clause": "select"},
        )
    target = field_spec(MODULES[lookup.lookup_module], node.name)
    if target is None:
        raise CoqlError(
            "INVALID_QUERY",
            "column given seems to be invalid",
            {"column_name": node.sql(), "clause": "select"},
        )
    check_supported(target, "select")
    return RelatedColumn(lookup, target)


def _literal(node: exp.Expression) -> Any:
    if isinstance(node, exp.Literal):
        return node.this if node.is_string else float(node.this) if "." in node.this else int(node.this)
    if isinstance(node, exp.Boolean):
        return node.this
    if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal):
        return -_literal(node.this)
    raise CoqlError("INVALID_QUERY", "value given seems to be invalid for the column", {"near": node.sql()})


def _condition(module: ModuleSpec, node: exp.Expression) -> Predicate:
    if isinstance(node, exp.Paren):
        return _condition(module, node.this)
    if isinstance(node, exp.And | exp.Or):
        operator = "and" if isinstance(node, exp.And) else "or"
        return Group(operator, (_condition(module, node.this), _condition(module, node.expression)))
    negated = isinstance(node, exp.Not)
    inner = node.this if negated else node
    if inner.args.get("negate"):  # sqlglot spells `x not like y` as Like(negate=True)
        negated = not negated
    if isinstance(inner, exp.Is) and isinstance(inner.expression, exp.Null):
        return Condition(_column(module, inner.this, "where"), "is not null" if negated else "is null")
    if isinstance(inner, exp.In):
        values = tuple(_literal(value) for value in inner.expressions)
        return Condition(_column(module, inner.this, "where"), "not in" if negated else "in", values)
    if isinstance(inner, exp.Between):
        values = (_literal(inner.args["low"]), _literal(inner.args["high"]))
        return Condition(
            _column(module, inner.this, "where"), "not between" if negated else "between", values
        )
    if isinstance(inner, exp.Like):
        return Condition(
            _column(module, inner.this, "where"),
            "not like" if negated else "like",
            (_literal(inner.expression),),
        )
    if not negated and type(node) in COMPARISONS:
        return Condition(
            _column(module, node.this, "where"), COMPARISONS[type(node)], (_literal(node.expression),)
        )
    raise _syntax("where")


def _int(node: exp.Expression | None, default: int) -> int:
    if node is None:
        return default
    value = node.expression if isinstance(node, exp.Limit | exp.Offset) else node
    if not isinstance(value, exp.Literal) or value.is_string or not str(value.this).isdigit():
        raise _syntax("limit")
    return int(value.this)


def parse(text: str) -> CoqlQuery:
    try:
        tree = sqlglot.parse_one(text, read="mysql")
    except sqlglot.errors.ParseError as error:
        first = error.errors[0] if error.errors else {}
        raise CoqlError(
            "SYNTAX_ERROR",
            "invalid query formed",
            {"line": first.get("line", 1), "column": first.get("col", 0), "near": first.get("highlight", "")},
        ) from None
    if not isinstance(tree, exp.Select):
        raise _syntax("select")
    source = tree.args.get("from_") or tree.args.get("from")
    if source is None or not isinstance(source.this, exp.Table):
        raise _syntax("from")
    module = MODULES.get(source.this.name)
    if module is None:
        raise CoqlError(
            "INVALID_QUERY", "invalid query formed", {"module": source.this.name, "clause": "from"}
        )
    if tree.args.get("joins") or tree.args.get("group"):
        raise CoqlError(
            "INVALID_QUERY", "invalid query formed", {"clause": "select", "reason": "not supported"}
        )
    if any(isinstance(node, exp.Star) for node in tree.expressions):
        raise _syntax("select")
    related = [_related_column(module, node) for node in tree.expressions]
    columns = [
        _column(module, node, "select").api_name
        for node, dotted in zip(tree.expressions, related, strict=True)
        if dotted is None
    ]
    if not columns and not any(related):
        raise _syntax("select")
    if len(tree.expressions) > MAX_COLUMNS:
        raise CoqlError(
            "LIMIT_EXCEEDED", "select columns limit exceeded", {"by": "select", "limit": MAX_COLUMNS}
        )
    check_joins([column for column in related if column is not None])
    if tree.args.get("where"):
        check_criteria_pairs(tree.args["where"].this)
    where = _condition(module, tree.args["where"].this) if tree.args.get("where") else None
    if where is not None:
        try:
            validate(where)
        except FilterValueError as error:
            raise CoqlError(
                "INVALID_QUERY",
                "value given seems to be invalid for the column",
                {"column_name": error.spec.api_name, "expected_data_type": error.spec.data_type},
            ) from None
        except FilterOperatorError as error:
            raise CoqlError(
                "INVALID_QUERY",
                "data type not supported",
                {
                    "column_name": error.spec.api_name,
                    "operator": error.operator,
                    "data_type": error.spec.data_type,
                },
            ) from None
    order_node = tree.args.get("order")
    order = [
        (_column(module, item.this, "order by"), bool(item.args.get("desc")))
        for item in (order_node.expressions if order_node else [])
    ]
    limit = _int(tree.args.get("limit"), DEFAULT_LIMIT)
    offset = _int(tree.args.get("offset"), 0)
    if not 1 <= limit <= MAX_LIMIT:
        raise CoqlError("LIMIT_EXCEEDED", "limit exceeded", {"by": "limit", "limit": MAX_LIMIT})
    if offset + limit > MAX_DEPTH:
        raise CoqlError("LIMIT_EXCEEDED", "limit exceeded", {"by": "offset", "limit": MAX_DEPTH})
    return CoqlQuery(
        module,
        list(dict.fromkeys(columns)),
        where,
        order,
        offset,
        limit,
        tuple(dict.fromkeys(column for column in related if column is not None)),
    )


def _sort(store: CrmStore, query: CoqlQuery, rows: np.ndarray) -> np.ndarray:
    """Stable multi-column sort: nulls first ascending, last descending (as SQL engines do).

    Ids and record times (never null) sort as arrays; other fields are rendered and compared.
    `rows` ascend, and ids grow with the row index, so a last key `id asc` (every incremental
    read's tie-break) is already in place: the stable sorts by the keys before it keep it.
    """
    order = np.arange(len(rows))
    module = query.module.api_name
    keys = list(query.order)
    if keys and keys[-1][0].api_name == "id" and not keys[-1][1]:
        keys.pop()
    for spec, descending in reversed(keys):
        current = rows[order]
        if spec.api_name in STORED_COLUMNS:
            keys = stored_values(store, module, spec.api_name, current)
            order = order[np.argsort(-keys if descending else keys, kind="stable")]
            continue
        rendered = store.render_columns(module, current, [spec.api_name])[spec.api_name]
        comparables = [comparable(spec, value) for value in rendered]
        positions = sorted(
            range(len(order)),
            key=lambda i: (comparables[i] is not None, comparables[i] if comparables[i] is not None else 0),
            reverse=descending,
        )
        order = order[np.array(positions, dtype=np.int64)]
    return rows[order]


LOOKUP_TYPES = frozenset({"lookup", "ownerlookup", "userlookup"})


def _coql_values(spec: FieldSpec, values: list[Any]) -> list[Any]:
    """COQL returns lookups (and owners) as just their id; other values as the records API does."""
    if spec.data_type not in LOOKUP_TYPES:
        return values
    return [{"id": value["id"]} if isinstance(value, dict) and "id" in value else value for value in values]


class MatchingRows:
    """The matching rows of recent queries in their order, kept while the module is unchanged.

    A window read asks the same WHERE and ORDER BY page after page with a growing offset; matching
    and sorting the whole window again for each page was most of a COQL call's cost. Entries are
    keyed by the module's change generation, so any write makes them miss.
    """

    def __init__(self, size: int = 16) -> None:
        self._size = size
        self._rows: dict[tuple[Any, ...], np.ndarray] = {}

    def __call__(self, store: CrmStore, query: CoqlQuery) -> np.ndarray:
        module = query.module.api_name
        key = (
            module,
            store.columns[module].generation,
            query.where,
            tuple((spec.api_name, descending) for spec, descending in query.order),
        )
        rows = self._rows.get(key)
        if rows is None:
            rows = _matching_rows(store, query)
            if len(self._rows) >= self._size:
                del self._rows[next(iter(self._rows))]
            self._rows[key] = rows
        return rows


def _matching_rows(store: CrmStore, query: CoqlQuery) -> np.ndarray:
    module = query.module.api_name
    rows = store.live_indices(module)
    if query.where is not None:
        rows = evaluate(store, module, query.where, rows)
    if query.order:
        rows = _sort(store, query, rows)
    return rows


def execute(
    store: CrmStore, query: CoqlQuery, matching: MatchingRows | None = None
) -> tuple[list[dict[str, Any]], bool]:
    """Rows (dicts keyed id, the selected fields, then the dotted ones) and whether more match.

    Values are rendered column by column for the chosen rows only, so a call costs what it returns.
    """
    spec, module = query.module, query.module.api_name
    rows = _matching_rows(store, query) if matching is None else matching(store, query)
    chosen = rows[query.offset : query.offset + query.limit]
    fields = [name for name in query.columns if name != "id"]
    lookups = [column.lookup.api_name for column in query.related]
    rendered = store.render_columns(module, chosen, list(dict.fromkeys([*fields, *lookups])))
    columns = [_coql_values(spec.by_name[name], rendered[name]) for name in fields]
    columns += [_related_values(store, column, rendered[column.lookup.api_name]) for column in query.related]
    keys = ("id", *fields, *(column.key for column in query.related))
    ids = [str(value) for value in store.columns[module].ids[chosen].tolist()]
    data = [dict(zip(keys, row, strict=True)) for row in zip(ids, *columns, strict=True)]
    return data, len(rows) > query.offset + query.limit


def _related_values(store: CrmStore, column: RelatedColumn, lookups: list[Any]) -> list[Any]:
    """The target field of each lookup (None where the lookup is empty), as COQL renders it."""
    target_module = column.lookup.lookup_module
    assert target_module is not None
    target = store.columns[target_module]
    wanted = np.array([-1 if value is None else int(value["id"]) for value in lookups], dtype=np.int64)
    known = target.ids[: target.count]
    positions = np.minimum(np.searchsorted(known, wanted), len(known) - 1)
    found = known[positions] == wanted
    rendered = store.render_columns(target_module, positions[found], [column.target.api_name])
    values = iter(_coql_values(column.target, rendered[column.target.api_name]))
    return [next(values) if hit else None for hit in found.tolist()]


def coql_routes(store: CrmStore) -> list[BaseRoute]:
    matching = MatchingRows()

    async def run(request: Request) -> Response:
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return crm_error(400, "INVALID_DATA", "body", {})
        text = body.get("select_query") if isinstance(body, dict) else None
        if not isinstance(text, str) or not text.strip():
            return crm_error(
                400,
                "MANDATORY_NOT_FOUND",
                "required field not found",
                {"api_name": "select_query", "json_path": "$.select_query"},
            )
        try:
            query = parse(text)
        except (CoqlError, CoqlRuleError) as error:
            return crm_error(400, error.code, error.message, error.details)
        request.state.zoho_credits = credits_for_limit(query.limit)
        with fewer_gc_passes():  # up to 2,000 rows of dicts built and encoded at once
            data, more = execute(store, query, matching)
            if not data:
                return Response(status_code=204)
            return json_response({"data": data, "info": {"count": len(data), "more_records": more}})

    return [Route("/crm/{version}/coql", run, methods=["POST"])]
