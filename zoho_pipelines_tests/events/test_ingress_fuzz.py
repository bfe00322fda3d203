"""Property-based fuzzing of the ingress handler (publishing through the real local router):
random bodies, headers and encodings never produce a 500, and forged credentials never get an
event through."""

from __future__ import annotations

import base64
import json
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zoho_pipelines.events.ingress import IngressConfig, IngressHandler, make_handler
from zoho_pipelines.events.local_router import LocalRouter
from zoho_pipelines.events.routing import Target
from zoho_pipelines_tests.events.conftest import api_event

SECRETS = ("fuzz-secret-current", "fuzz-secret-previous")
TOKEN = "fuzz-channel-token-01"
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def ingress(tmp_path_factory: pytest.TempPathFactory) -> tuple[IngressHandler, LocalRouter]:
    router = LocalRouter(tmp_path_factory.mktemp("fuzz-queues"), synchronous="OFF")
    handler = make_handler(IngressConfig(webhook_secrets=SECRETS, channel_tokens=(TOKEN,)), publisher=router)
    yield handler, router
    router.close()


def near_misses(value: str) -> st.SearchStrategy[str]:
    """Values that differ from `value` by a little: a prefix, an extension, one changed char."""
    return st.one_of(
        st.integers(0, len(value) - 1).map(lambda n: value[:n]),
        st.text(min_size=1, max_size=3).map(lambda extra: value + extra),
        st.tuples(st.integers(0, len(value) - 1), st.characters()).map(
            lambda change: value[: change[0]] + change[1] + value[change[0] + 1 :]
        ),
        st.just(value.upper()),
        st.just(" " + value),
    ).filter(lambda candidate: candidate != value)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
webhook_fields = st.fixed_dictionaries(
    {},
    optional={
        "module": st.sampled_from(["Leads", "Deals", "Contacts", "", "Bad Module", "x" * 120]) | json_values,
        "operation": st.sampled_from(["insert", "update", "delete", "create", "edit", "merge"]) | json_values,
        "id": st.sampled_from(["1", "99", "a b", ""]) | json_values,
        "ids": st.lists(st.sampled_from(["1", "2", "3"]), max_size=3) | json_values,
        "stage": st.sampled_from(["Closed Won", "Lost"]) | json_values,
        "record": json_values,
        "occurred_at": st.sampled_from(["2025-01-01T00:00:00Z", "2025-01-01", "1700000000000"]) | json_values,
        "app": st.sampled_from(["crm", "books", "desk"]) | json_values,
    },
).flatmap(
    lambda fields: st.dictionaries(st.text(max_size=8), json_values, max_size=3).map(
        lambda extra: {**extra, **fields}
    )
)
notification_fields = st.fixed_dictionaries(
    {
        "channel_id": st.sampled_from(["1000", 1000, "x y"]) | json_values,
        "server_time": st.integers() | json_values,
    },
    optional={
        "module": st.sampled_from(["Leads", "Deals"]) | json_values,
        "operation": st.sampled_from(["insert", "update", "delete"]) | json_values,
        "ids": st.lists(st.sampled_from(["1", "2"]), max_size=3) | json_values,
        "affected_fields": json_values,
        "query_params": json_values,
    },
)


valid_webhooks = st.fixed_dictionaries(
    {
        "module": st.sampled_from(["Leads", "Deals", "Contacts", "Custom_Module1"]),
        "operation": st.sampled_from(["insert", "update", "delete", "Created", "edit"]),
        "id": st.integers(1, 10**19).map(str),
    },
    optional={
        "stage": st.sampled_from(["Closed Won", "Qualification"]),
        "occurred_at": st.integers(0, 4_000_000_000_000).map(str),
        "affected_fields": st.sampled_from(["Email", "Stage,Amount"]),
        "Lead_Source": st.text(max_size=20),
    },
)
valid_notifications = st.fixed_dictionaries(
    {
        "channel_id": st.integers(1, 10**15),
        "server_time": st.integers(0, 4_000_000_000_000),
        "module": st.sampled_from(["Leads", "Deals"]),
        "operation": st.sampled_from(["insert", "update", "delete"]),
        "ids": st.lists(st.integers(1, 10**19).map(str), min_size=1, max_size=250),
    },
    optional={"query_params": st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2)},
)


@st.composite
def bodies(draw: st.DrawFn, token: st.SearchStrategy[object]) -> tuple[str | None, str | None, bool]:
    """(body, content type, base64?) in many shapes: valid, nearly valid, binary, nonsense."""
    kind = draw(
        st.sampled_from(
            [
                "valid-webhook",
                "valid-notification",
                "webhook-json",
                "notification",
                "form",
                "text",
                "binary",
                "none",
            ]
        )
    )
    content_type = draw(
        st.sampled_from(
            [
                None,
                "application/json",
                "Application/JSON; charset=UTF-8",
                "application/json; charset=latin-1",
                "application/x-www-form-urlencoded",
                "text/plain",
                "application/octet-stream",
            ]
        )
        | st.text(max_size=30)
    )
    if kind == "valid-webhook":
        fields = draw(valid_webhooks)
        as_form = draw(st.booleans())
        raw = (urlencode(fields) if as_form else json.dumps(fields)).encode()
        content_type = (
            "application/x-www-form-urlencoded"
            if as_form
            else draw(st.sampled_from([None, "application/json"]))
        )
    elif kind == "valid-notification":
        payload = {**draw(valid_notifications), "token": draw(token)}
        raw = json.dumps(payload).encode()
        content_type = "application/json"
    elif kind == "webhook-json":
        raw = json.dumps(draw(webhook_fields)).encode()
    elif kind == "notification":
        payload = draw(notification_fields)
        payload["token"] = draw(token)
        raw = json.dumps(payload).encode()
    elif kind == "form":
        fields = draw(
            st.dictionaries(
                st.sampled_from(["module", "operation", "id", "ids", "stage", "x"]), st.text(max_size=12)
            )
        )
        raw = urlencode(fields).encode()
    elif kind == "text":
        raw = draw(st.text(max_size=300)).encode("utf-8", "surrogatepass")
    elif kind == "binary":
        raw = draw(st.binary(max_size=300))
    else:
        return None, content_type, False
    encoding = draw(st.sampled_from(["text", "text", "base64", "broken-base64"]))
    if encoding == "base64":
        return base64.b64encode(raw).decode(), content_type, True
    if encoding == "broken-base64":
        return draw(st.text(max_size=40)), content_type, True
    return raw.decode("utf-8", "surrogateescape"), content_type, False


def send(
    handler: IngressHandler, body: str | None, content_type: str | None, is_b64: bool, secret: str | None
) -> dict:
    headers = {}
    if content_type is not None:
        headers["content-type"] = content_type
    if secret is not None:
        headers["x-zoho-secret"] = secret
    return handler(api_event(body, headers, base64_encoded=is_b64), None)


forged_secrets = st.one_of(
    st.none(), st.text(max_size=40), *(near_misses(secret) for secret in SECRETS)
).filter(lambda value: value not in SECRETS)
forged_tokens = st.one_of(json_values, near_misses(TOKEN)).filter(lambda value: value != TOKEN)


@FUZZ
@given(body=bodies(forged_tokens), secret=forged_secrets)
def test_forged_requests_are_never_accepted(
    ingress: tuple[IngressHandler, LocalRouter], body: tuple[str | None, str | None, bool], secret: str | None
) -> None:
    handler, router = ingress
    before = router.queue(Target.REFRESH).depth()
    answer = send(handler, *body, secret)
    assert answer["statusCode"] in {401, 413}
    if answer["statusCode"] == 401:
        assert json.loads(answer["body"]) == {"message": "Unauthorized"}
    assert router.queue(Target.REFRESH).depth() == before


@FUZZ
@given(body=bodies(st.just(TOKEN)), secret=st.sampled_from([*SECRETS, None]))
def test_authentic_requests_never_get_a_500(
    ingress: tuple[IngressHandler, LocalRouter], body: tuple[str | None, str | None, bool], secret: str | None
) -> None:
    handler, router = ingress
    before = router.queue(Target.REFRESH).depth()
    answer = send(handler, *body, secret)
    status = answer["statusCode"]
    assert status in {200, 400, 401, 413}  # 401: no header and the body is no channel payload
    text = answer["body"]
    assert not any(secret_value in text for secret_value in (*SECRETS, TOKEN))
    accepted = json.loads(text).get("accepted", 0) if status == 200 else 0
    assert router.queue(Target.REFRESH).depth() == before + accepted
    if status == 200:
        assert accepted >= 1
