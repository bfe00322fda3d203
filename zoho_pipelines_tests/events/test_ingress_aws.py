"""The Lambda entry point against moto's EventBridge and SQS, with rules built from ROUTES."""

from __future__ import annotations

import base64
import json
import logging
from collections import Counter
from datetime import UTC, datetime
from urllib.parse import urlencode

import boto3
import pytest

from zoho_pipelines.events import ingress
from zoho_pipelines.events.ingress import IngressConfig, make_handler
from zoho_pipelines.events.model import ZohoEvent, parse_webhook
from zoho_pipelines.events.routing import Target, envelope, routes_for
from zoho_pipelines.events.webhook_auth import WebhookSecrets
from zoho_pipelines_tests.events.conftest import RoutedBus, api_event, notification_payload

SECRET = "whsec-current-7f3a9c"
OLD_SECRET = "whsec-previous-1b2d4e"
TOKEN = "TOKEN_FOR_VERIFICATION_OF_1000000068001"
JSON = {"content-type": "application/json"}


def signed(extra: dict[str, str] | None = None, secret: str = SECRET) -> dict[str, str]:
    return {"x-zoho-secret": secret, **JSON, **(extra or {})}


def call(event: dict) -> tuple[int, dict]:
    answer = ingress.handler(event, None)
    return answer["statusCode"], json.loads(answer["body"])


@pytest.fixture
def secrets_env(routed_bus: RoutedBus, monkeypatch: pytest.MonkeyPatch) -> RoutedBus:
    monkeypatch.setenv("ZOHO_WEBHOOK_SECRETS", f"{SECRET},{OLD_SECRET}")
    monkeypatch.setenv("ZOHO_CHANNEL_TOKENS", f"other-token,{TOKEN}")
    return routed_bus


WEBHOOKS = [
    {"module": "Leads", "operation": "insert", "id": "101"},
    {"module": "Leads", "operation": "update", "id": "102"},
    {"module": "Deals", "operation": "update", "id": "201", "stage": "Closed Won"},
    {"module": "Deals", "operation": "update", "id": "202", "stage": "Qualification"},
    {"module": "Deals", "operation": "delete", "id": "203", "stage": "Closed Won"},
    {"app": "books", "module": "invoices", "operation": "insert", "id": "301"},
]


def test_events_land_in_the_queues_their_routes_name(secrets_env: RoutedBus) -> None:
    expected: dict[Target, set[str]] = {target: set() for target in Target}
    for fields in WEBHOOKS:
        status, answer = call(api_event(json.dumps(fields), signed()))
        assert status == 200, answer
        (event_id,) = answer["event_ids"]
        # Only the routing matters here; a bare webhook's id does not depend on its receive time.
        (local,) = parse_webhook(fields, received_at=datetime(2026, 11, 27, tzinfo=UTC))
        for route in routes_for(envelope(local)):
            expected[route.target].add(event_id)

    assert expected[Target.ONBOARDING], "the sample must exercise every route"
    for target in Target:
        messages = secrets_env.drain(target, expected=len(expected[target]))
        delivered = {message["detail"]["event_id"] for message in messages}
        # EventBridge (moto) and the local matcher read the same patterns and agree.
        assert delivered == expected[target], target
        for message in messages:
            assert message["detail-type"] == "Zoho Record Change"
            assert message["source"] == "zoho." + message["detail"]["app"]
            assert ZohoEvent.from_dict(message["detail"]).event_id == message["detail"]["event_id"]


def test_form_encoded_webhook_keeps_custom_params(secrets_env: RoutedBus) -> None:
    body = urlencode({"module": "Leads", "operation": "create", "id": "555", "Lead_Source": "Web Form"})
    status, _ = call(
        api_event(body, {"x-zoho-secret": SECRET, "content-type": "application/x-www-form-urlencoded"})
    )
    assert status == 200
    (message,) = secrets_env.drain(Target.LEAD_QUALIFICATION, expected=1)
    assert message["detail"]["params"] == {"Lead_Source": "Web Form"}
    assert message["detail"]["record_ids"] == ["555"]


def test_base64_body_and_query_string_params_are_read(secrets_env: RoutedBus) -> None:
    body = base64.b64encode(
        json.dumps({"module": "Leads", "operation": "update", "id": "9"}).encode()
    ).decode()
    status, _ = call(api_event(body, signed(), base64_encoded=True, query={"workflow": "nightly"}))
    assert status == 200
    (message,) = secrets_env.drain(Target.REFRESH, expected=1)
    assert message["detail"]["params"] == {"workflow": "nightly"}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"x-zoho-secret": ""},
        {"x-zoho-secret": "whsec-current-7f3a9"},
        {"x-zoho-secret": SECRET + "x"},
        {"x-zoho-secret": SECRET.upper()},
        {"x-zoho-secret": f"{SECRET},{OLD_SECRET}"},
        {"x-zoho-secret": "wrong", "authorization": f"Bearer {SECRET}"},
    ],
)
def test_forged_or_missing_secrets_get_401_and_nothing_is_sent(secrets_env: RoutedBus, headers: dict) -> None:
    status, answer = call(api_event(json.dumps(WEBHOOKS[0]), {**JSON, **headers}))
    assert (status, answer) == (401, {"message": "Unauthorized"})
    assert secrets_env.count(Target.REFRESH) == 0


def test_rotation_accepts_every_listed_secret_and_drops_removed_ones(
    secrets_env: RoutedBus, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert call(api_event(json.dumps(WEBHOOKS[1]), signed(secret=OLD_SECRET)))[0] == 200
    assert call(api_event(json.dumps(WEBHOOKS[1]), signed(secret=SECRET)))[0] == 200
    monkeypatch.setenv("ZOHO_WEBHOOK_SECRETS", SECRET)
    assert call(api_event(json.dumps(WEBHOOKS[1]), signed(secret=OLD_SECRET)))[0] == 401
    assert call(api_event(json.dumps(WEBHOOKS[1]), signed(secret=SECRET)))[0] == 200


def test_secrets_manager_secret_is_cached_for_its_ttl(routed_bus: RoutedBus) -> None:
    secrets_manager = boto3.client("secretsmanager")
    secret_id = f"zoho/webhook-secrets/{routed_bus.bus_name}"
    secrets_manager.create_secret(
        Name=secret_id, SecretString=json.dumps({"current": "sm-one", "previous": "sm-zero"})
    )
    now = [1000.0]
    handler = make_handler(
        IngressConfig(event_bus_name=routed_bus.bus_name),
        secrets=WebhookSecrets(secret_id=secret_id, ttl_s=60, clock=lambda: now[0]),
    )
    body = json.dumps(WEBHOOKS[1])
    assert handler(api_event(body, signed(secret="sm-one")))["statusCode"] == 200
    assert handler(api_event(body, signed(secret="sm-zero")))["statusCode"] == 200

    secrets_manager.put_secret_value(SecretId=secret_id, SecretString="sm-two,sm-one")
    now[0] += 59  # still cached: the rotation is not seen yet
    assert handler(api_event(body, signed(secret="sm-two")))["statusCode"] == 401
    now[0] += 2
    assert handler(api_event(body, signed(secret="sm-two")))["statusCode"] == 200
    assert handler(api_event(body, signed(secret="sm-one")))["statusCode"] == 200
    assert handler(api_event(body, signed(secret="sm-zero")))["statusCode"] == 401


def test_unreadable_secret_store_answers_503_so_zoho_retries(
    routed_bus: RoutedBus, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ZOHO_WEBHOOK_SECRETS_SECRET_ID", "does/not/exist")
    status, answer = call(api_event(json.dumps(WEBHOOKS[1]), signed()))
    assert (status, answer) == (503, {"message": "Service unavailable"})


def test_notification_api_token_authenticates_without_a_header(secrets_env: RoutedBus) -> None:
    payload = notification_payload(TOKEN, module="Leads", operation="insert")
    status, answer = call(api_event(json.dumps(payload), JSON))
    assert status == 200
    (message,) = secrets_env.drain(Target.LEAD_QUALIFICATION, expected=1)
    assert message["detail"]["event_id"] == answer["event_ids"][0]
    assert message["detail"]["channel"] == "notification_api"
    assert TOKEN not in json.dumps(message)

    for forged in (
        {**payload, "token": TOKEN[:-1]},
        {**payload, "token": None},
        {**payload, "token": [TOKEN]},
    ):
        assert call(api_event(json.dumps(forged), JSON)) == (401, {"message": "Unauthorized"})
    webhook_with_token = {**WEBHOOKS[0], "token": TOKEN}  # a token only counts in a channel payload
    assert call(api_event(json.dumps(webhook_with_token), JSON))[0] == 401


def test_redeliveries_carry_the_same_event_id(secrets_env: RoutedBus) -> None:
    body = json.dumps(notification_payload(TOKEN))
    first = call(api_event(body, JSON))[1]["event_ids"]
    second = call(api_event(body, JSON))[1]["event_ids"]
    assert first == second
    delivered = secrets_env.drain(Target.REFRESH, expected=2)
    assert [message["detail"]["event_id"] for message in delivered] == first * 2


@pytest.mark.parametrize(
    ("body", "headers", "base64_encoded"),
    [
        ("{not json", JSON, False),
        ("[1, 2]", JSON, False),
        ('{"module": "Leads", "operation": "update", "id": 1, "x": NaN}', JSON, False),
        ("%%%not-base64", JSON, True),
        (base64.b64encode(b'{"module": "L\xe9ads"}').decode(), JSON, True),
        (json.dumps(WEBHOOKS[0]), {"content-type": "application/json; charset=iso-8859-1"}, False),
        (json.dumps(WEBHOOKS[0]), {"content-type": "application/xml"}, False),
        (
            "module=Leads&operation=update&id=1&bad=%FF",
            {"content-type": "application/x-www-form-urlencoded"},
            False,
        ),
        ("module=Leads&operation=update", {"content-type": "application/x-www-form-urlencoded"}, False),
        (json.dumps({"module": "Leads", "id": "1"}), JSON, False),
        (json.dumps({**notification_payload(TOKEN), "server_time": "soon"}), JSON, False),
        ("", JSON, False),
    ],
)
def test_malformed_bodies_from_authenticated_senders_get_400(
    secrets_env: RoutedBus, body: str, headers: dict, base64_encoded: bool
) -> None:
    status, answer = call(
        api_event(body, {"x-zoho-secret": SECRET, **headers}, base64_encoded=base64_encoded)
    )
    assert status == 400
    assert answer["message"].startswith("Bad request: ")
    assert secrets_env.count(Target.REFRESH) == 0


def test_malformed_channel_payload_with_a_valid_token_gets_400(secrets_env: RoutedBus) -> None:
    payload = notification_payload(TOKEN, operation="merge")
    assert call(api_event(json.dumps(payload), JSON))[0] == 400


@pytest.mark.parametrize("authenticated", [True, False])
@pytest.mark.parametrize("encoding", ["text", "base64", "multibyte"])
def test_oversized_bodies_get_413_before_parsing(
    secrets_env: RoutedBus, authenticated: bool, encoding: str
) -> None:
    headers = signed() if authenticated else JSON
    if encoding == "text":
        event = api_event("{" + "x" * (256 * 1024), headers)
    elif encoding == "base64":
        event = api_event(base64.b64encode(b"x" * (256 * 1024 + 1)).decode(), headers, base64_encoded=True)
    else:  # fewer characters than the limit, more bytes
        event = api_event("é" * (130 * 1024), headers)
    assert call(event) == (413, {"message": "Payload too large"})


def test_a_body_at_the_limit_is_accepted(secrets_env: RoutedBus) -> None:
    fields = {"module": "Leads", "operation": "update", "id": "1", "note": ""}
    padding = 256 * 1024 - len(json.dumps(fields)) - 2048  # leave room for the envelope's own fields
    fields["note"] = "x" * padding
    assert call(api_event(json.dumps(fields), signed()))[0] == 200


def test_large_deliveries_go_out_in_putevents_batches_of_ten(secrets_env: RoutedBus) -> None:
    client = boto3.client("events")
    batch_sizes: list[int] = []
    client.meta.events.register(
        "provide-client-params.events.PutEvents",
        lambda params, **_: batch_sizes.append(len(params["Entries"])),
    )
    handler = make_handler(IngressConfig.from_env(), events_client=client)
    ids = [str(7_000_000 + n) for n in range(1_050)]
    answer = handler(api_event(json.dumps(notification_payload(TOKEN, ids=ids)), JSON))
    assert answer["statusCode"] == 200
    assert json.loads(answer["body"])["accepted"] == 11
    assert batch_sizes == [10, 1]
    delivered = secrets_env.drain(Target.REFRESH, expected=11)
    assert sorted(record for message in delivered for record in message["detail"]["record_ids"]) == sorted(
        ids
    )


def test_no_secret_or_token_reaches_logs_or_answers(
    secrets_env: RoutedBus, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    answers = [
        ingress.handler(api_event(json.dumps(WEBHOOKS[0]), signed()), None),
        ingress.handler(api_event(json.dumps(WEBHOOKS[0]), signed(secret=SECRET[:-1])), None),
        ingress.handler(api_event("{bad", signed()), None),
        ingress.handler(api_event(json.dumps(notification_payload(TOKEN)), JSON), None),
        ingress.handler(api_event(json.dumps(notification_payload(TOKEN[:-2])), JSON), None),
    ]
    assert Counter(answer["statusCode"] for answer in answers) == {200: 2, 401: 2, 400: 1}
    visible = caplog.text + json.dumps(answers) + repr(IngressConfig.from_env())
    for secret in (SECRET, OLD_SECRET, TOKEN, SECRET[:-1], TOKEN[:-2]):
        assert secret not in visible
    assert '"status": 200' in caplog.text  # the access log line is there, just without secrets
