from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from zoho_pipelines.events.model import parse_webhook
from zoho_pipelines.events.patterns import PatternError, matches, validate_pattern
from zoho_pipelines.events.routing import ROUTES, Target, TargetKind, envelope, routes_for

RECEIVED = datetime(2025, 6, 15, 12, 0, tzinfo=UTC)


def targets_for(fields: dict) -> set[Target]:
    (event,) = parse_webhook(fields, received_at=RECEIVED)
    return {route.target for route in routes_for(envelope(event))}


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"module": "Leads", "operation": "insert", "id": "1"}, {Target.REFRESH, Target.LEAD_QUALIFICATION}),
        ({"module": "Leads", "operation": "update", "id": "1"}, {Target.REFRESH}),
        (
            {"module": "Deals", "operation": "update", "id": "2", "stage": "Closed Won"},
            {Target.REFRESH, Target.ONBOARDING},
        ),
        ({"module": "Deals", "operation": "delete", "id": "2", "stage": "Closed Won"}, {Target.REFRESH}),
        ({"module": "Deals", "operation": "update", "id": "2", "stage": "Closed Lost"}, {Target.REFRESH}),
        ({"module": "Deals", "operation": "update", "id": "2"}, {Target.REFRESH}),
        ({"app": "books", "module": "invoices", "operation": "insert", "id": "3"}, {Target.REFRESH}),
        (
            {"app": "books", "module": "Deals", "operation": "update", "id": "3", "stage": "Closed Won"},
            {Target.REFRESH},
        ),
    ],
)
def test_routes_send_each_kind_of_event_where_it_belongs(fields: dict, expected: set[Target]) -> None:
    assert targets_for(fields) == expected


def test_route_definitions_are_data_the_cdk_can_use() -> None:
    names = [route.name for route in ROUTES]
    assert len(names) == len(set(names))
    for route in ROUTES:
        assert json.loads(route.pattern_json()) == route.event_pattern
        validate_pattern(route.event_pattern)
    kinds = {route.target: route.target_kind for route in ROUTES}
    assert kinds[Target.ONBOARDING] is TargetKind.STATE_MACHINE
    assert kinds[Target.REFRESH] is TargetKind.QUEUE


EVENT = {
    "source": "zoho.crm",
    "detail": {
        "module": "Deals",
        "amount": 1200,
        "ratio": 0.5,
        "flag": True,
        "tags": ["vip", "emea"],
        "empty": [],
        "nothing": None,
        "owner": {"name": "Ana"},
    },
}


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ({"source": ["zoho.crm"]}, True),
        ({"source": ["zoho.books", "zoho.crm"]}, True),
        ({"source": ["zoho.books"]}, False),
        ({"source": [{"prefix": "zoho."}]}, True),
        ({"source": [{"prefix": "aws."}]}, False),
        ({"source": [{"suffix": ".crm"}]}, True),
        ({"source": [{"equals-ignore-case": "ZOHO.CRM"}]}, True),
        ({"detail": {"module": [{"anything-but": ["Leads"]}]}}, True),
        ({"detail": {"module": [{"anything-but": "Deals"}]}}, False),
        ({"detail": {"module": [{"anything-but": {"prefix": "De"}}]}}, False),
        ({"detail": {"missing": [{"anything-but": ["x"]}]}}, False),
        ({"detail": {"missing": [{"exists": False}]}}, True),
        ({"detail": {"missing": [{"exists": True}]}}, False),
        ({"detail": {"module": [{"exists": True}]}}, True),
        ({"detail": {"empty": [{"exists": True}]}}, True),
        ({"detail": {"nothing": [None]}}, True),
        ({"detail": {"amount": [{"numeric": [">", 1000, "<=", 1200]}]}}, True),
        ({"detail": {"amount": [{"numeric": [">", 1200]}]}}, False),
        ({"detail": {"amount": [1200.0]}}, True),
        ({"detail": {"flag": [1]}}, False),
        ({"detail": {"flag": [True]}}, True),
        ({"detail": {"amount": ["1200"]}}, False),
        ({"detail": {"tags": ["emea"]}}, True),
        ({"detail": {"tags": [{"prefix": "v"}]}}, True),
        ({"detail": {"tags": ["apac"]}}, False),
        ({"detail": {"owner": {"name": ["Ana"]}}}, True),
        ({"detail": {"module": {"name": [{"exists": False}]}}}, True),
        ({"source": ["zoho.crm"], "detail": {"module": ["Leads"]}}, False),
    ],
)
def test_matcher_follows_eventbridge_semantics(pattern: dict, expected: bool) -> None:
    validate_pattern(pattern)
    assert matches(pattern, EVENT) is expected


@pytest.mark.parametrize(
    "pattern",
    [
        {},
        {"source": "zoho.crm"},
        {"source": []},
        {"$or": [{"source": ["a"]}]},
        {"source": [{"wildcard": "zoho.*"}]},
        {"source": [{"prefix": 1}]},
        {"source": [{"prefix": "a", "suffix": "b"}]},
        {"detail": {"amount": [{"numeric": [">>", 1]}]}},
        {"detail": {"amount": [{"numeric": [">", "1"]}]}},
        {"detail": {"x": [{"exists": "yes"}]}},
        {"detail": {"x": [{"anything-but": {"suffix": "a"}}]}},
        {"detail": {"x": [{"anything-but": []}]}},
    ],
)
def test_unsupported_patterns_are_refused_not_mismatched(pattern: dict) -> None:
    with pytest.raises(PatternError):
        validate_pattern(pattern)
