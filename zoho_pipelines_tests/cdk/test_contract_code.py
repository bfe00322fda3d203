"""The deployment contract against the code: each process reads and calls nothing it does not declare.

Half (a) of the contract (the templates' half is test_contract_templates.py):

- Variables, both ways. What each entry point can read is derived from the code: the fields of
  `Settings` and `EventProcessingSettings`, the variables read by name (`os.environ.get("...")`)
  in the modules the process runs, and the `env:` keys of deploy/dagster.yaml. Each must be
  declared (set, secret, or deliberately left at its default), and each declared variable must be
  one the code reads (a typo in the contract or the stack would otherwise pass unnoticed).
- AWS calls. The ingress handler, the Dagster event sensors and an onboarding step (on the
  sandbox) run against a moto server with the environment restricted to exactly their declared
  variables; every boto3 call they make
  (recorded through botocore's `before-parameter-build` hook) must be a declared action on a declared
  resource. The moto resources are named so the contract's resource patterns identify them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from moto.server import ThreadedMotoServer
from zoho_infra.contract import INGRESS, ONBOARDING, PROCESSES, Grant, Process, process

from zoho_pipelines.events.ingress import _ENVIRONMENT_VARIABLES as INGRESS_VARIABLES
from zoho_pipelines.events.processing.config import EventProcessingSettings
from zoho_pipelines.sandbox.server import RunningSandbox
from zoho_pipelines.settings import CodeLocationSettings, Settings
from zoho_pipelines_tests.cdk.conftest import REPO
from zoho_pipelines_tests.events.conftest import api_event, notification_payload

PACKAGE = REPO / "zoho_pipelines"
REGION = "us-east-1"
# The AWS SDK's own variables: the Lambda and ECS runtimes set them, no deployment does.
AWS_RUNTIME = {"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL"}
# Read by the libraries Dagster's code calls Zoho and AWS with (httpx, botocore), not by name here;
# test_the_zoho_client_honours_the_proxy_variables shows httpx does.
PROXY_VARIABLES = {"HTTPS_PROXY", "NO_PROXY"}
ENVIRON_READ = re.compile(r"""environ(?:\.get\(|\[)\s*["']([A-Z][A-Z0-9_]+)["']""")
# Where each kind of process runs code (the package modules it can import).
ONBOARDING_SOURCES = ("onboarding", "ai", "zoho", "settings.py", "redaction.py", "clock.py")
DAGSTER_SOURCES = (
    "defs",
    "ai",
    "definitions.py",
    "catalog.py",
    "pipeline",
    "lake",
    "warehouse",
    "schema",
    "zoho",
    "events/processing",
    "events/queues.py",
    "events/sqs_queue.py",
    "events/local_queue.py",
    "settings.py",
)


def _named_reads(*sources: str) -> set[str]:
    """Variables read by literal name in these package files or folders."""
    names: set[str] = set()
    for source in sources:
        path = PACKAGE / source
        for file in [path] if path.is_file() else sorted(path.rglob("*.py")):
            names.update(ENVIRON_READ.findall(file.read_text(encoding="utf-8")))
    return names


def _aliases(settings: type[Any]) -> set[str]:
    return {field.alias for field in settings.model_fields.values() if field.alias}


def _dagster_instance_reads() -> set[str]:
    """deploy/dagster.yaml's `env:` keys (Dagster resolves them when the instance loads)."""
    found: set[str] = {"DAGSTER_HOME"}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "env" and isinstance(value, str):
                    found.add(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(yaml.safe_load((REPO / "deploy" / "dagster.yaml").read_text(encoding="utf-8")))
    return found


def readable(entry: Process) -> set[str]:
    """Every variable the process's code can read, derived from the code."""
    if entry is INGRESS:
        names = set(INGRESS_VARIABLES) | _named_reads("events/ingress.py", "events/webhook_auth.py")
    elif entry in ONBOARDING:
        names = _aliases(Settings) | _named_reads(*ONBOARDING_SOURCES)
    else:
        names = (
            _aliases(Settings)
            | _aliases(EventProcessingSettings)
            | _named_reads(*DAGSTER_SOURCES)
            | _dagster_instance_reads()
            | _aliases(CodeLocationSettings)
            | PROXY_VARIABLES
        )
    return names - AWS_RUNTIME


@pytest.mark.parametrize("entry", PROCESSES, ids=[entry.name for entry in PROCESSES])
def test_code_reads_only_declared_variables(entry: Process) -> None:
    assert sorted(readable(entry) - entry.declared) == []


@pytest.mark.parametrize("entry", PROCESSES, ids=[entry.name for entry in PROCESSES])
def test_every_declared_variable_is_read_by_the_code(entry: Process) -> None:
    assert sorted(entry.declared - AWS_RUNTIME - readable(entry)) == []


@pytest.mark.parametrize("entry", PROCESSES, ids=[entry.name for entry in PROCESSES])
def test_declarations_do_not_overlap(entry: Process) -> None:
    kinds = [entry.environment, entry.secrets, entry.defaults, frozenset(entry.optional)]
    total = sum(len(kind) for kind in kinds)
    assert total == len(entry.declared), f"{entry.name}: a variable is declared twice"


def test_the_zoho_client_honours_the_proxy_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """The no-egress variant reaches Zoho through HTTPS_PROXY while AWS stays direct (NO_PROXY)."""
    import httpx
    from zoho_infra.stacks import NO_PROXY

    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("NO_PROXY", NO_PROXY)
    with httpx.Client() as client:  # as zoho_pipelines.zoho.transport builds it: trust_env default
        zoho = client._transport_for_url(httpx.URL("https://www.zohoapis.com/crm/v8/Leads"))
        aws = client._transport_for_url(httpx.URL("https://sqs.us-east-1.amazonaws.com/"))
    assert zoho is not client._transport
    assert aws is client._transport


# --- AWS calls, recorded against moto ---------------------------------------------------------

IDENTITY_KEYS = ("QueueUrl", "QueueName", "SecretId", "EventBusName", "modelId", "TableName")
# IAM actions whose name differs from the API operation's.
ACTION_OF = {
    "sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
    "sqs:DeleteMessageBatch": "sqs:DeleteMessage",
    "sqs:SendMessageBatch": "sqs:SendMessage",
    "bedrock:Converse": "bedrock:InvokeModel",
}


@dataclass(frozen=True)
class Call:
    action: str
    identity: str  # the call's resource-naming parameters, as JSON


class CallRecorder:
    """botocore `before-parameter-build` hook on the default boto3 session: every API call with its
    parameters as the caller gave them (`before-call` sees them already serialized)."""

    def __init__(self) -> None:
        self.calls: list[Call] = []

    def __call__(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        service = model.service_model.signing_name
        action = f"{service}:{model.name}"
        body = params
        identity = {key: body[key] for key in IDENTITY_KEYS if key in body}
        if "Entries" in body:  # PutEvents names its bus per entry
            identity["EventBusName"] = sorted({entry.get("EventBusName", "") for entry in body["Entries"]})
        if "Bucket" in body:  # an S3 call names its object (or, listing, its prefix) in the bucket
            identity["Object"] = f"{body['Bucket']}/{body.get('Key', body.get('Prefix', ''))}"
        self.calls.append(Call(ACTION_OF.get(action, action), json.dumps(identity)))

    def undeclared(self, grants: tuple[Grant, ...]) -> list[Call]:
        """Calls no grant covers; a grant's literal `*` (an object ARN's wildcard) matches any key."""
        return [
            call
            for call in self.calls
            if not any(
                call.action in grant.actions and re.search(grant.resource.replace(r"\*", ".*"), call.identity)
                for grant in grants
            )
        ]


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def recorder(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[CallRecorder]:
    """A clean environment (only the AWS runtime's variables), an empty moto (tests on one worker
    share its server and name their resources alike) and a recording default session."""
    import os

    import httpx

    httpx.post(f"{moto_endpoint}/moto-api/reset", timeout=10).raise_for_status()

    for name in list(os.environ):
        if name not in {"PATH", "HOME", "LANG", "TMPDIR", "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"}:
            monkeypatch.delenv(name)
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_ENDPOINT_URL": moto_endpoint,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)  # no .env from the working tree
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    boto3.setup_default_session()
    calls = CallRecorder()
    assert boto3.DEFAULT_SESSION is not None
    boto3.DEFAULT_SESSION.events.register("before-parameter-build", calls)
    yield calls
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)


def _declared_environment(monkeypatch: pytest.MonkeyPatch, entry: Process, values: dict[str, str]) -> None:
    """Set exactly the process's declared variables (given and secret ones), no others."""
    assert set(values) == entry.environment | entry.secrets, "give every declared variable a value"
    for name, value in values.items():
        monkeypatch.setenv(name, value)


def test_ingress_calls_only_what_it_declares(recorder: CallRecorder, monkeypatch: pytest.MonkeyPatch) -> None:
    from zoho_pipelines.events import ingress

    admin = boto3.client("secretsmanager")  # created before recording matters: its calls are setup
    webhook = admin.create_secret(Name="WebhookSecret-x", SecretString='{"current": "whsec-1"}')["ARN"]
    channel = admin.create_secret(Name="ChannelTokensSecret-x", SecretString='{"current": "tok-1"}')["ARN"]
    boto3.client("events").create_event_bus(Name="zoho-integration-bus")
    recorder.calls.clear()
    _declared_environment(
        monkeypatch,
        INGRESS,
        {
            "EVENT_BUS_NAME": "zoho-integration-bus",
            "ZOHO_WEBHOOK_SECRETS_SECRET_ID": webhook,
            "ZOHO_WEBHOOK_SECRETS_TTL_SECONDS": "300",
            "ZOHO_CHANNEL_TOKENS_SECRET_ID": channel,
        },
    )
    webhook_call = api_event(
        json.dumps({"module": "Leads", "operation": "insert", "id": "101"}),
        {"x-zoho-secret": "whsec-1", "content-type": "application/json"},
    )
    channel_call = api_event(json.dumps(notification_payload("tok-1")), {"content-type": "application/json"})
    assert ingress.handler(webhook_call)["statusCode"] == 200
    assert ingress.handler(channel_call)["statusCode"] == 200
    assert {call.action for call in recorder.calls} == {"secretsmanager:GetSecretValue", "events:PutEvents"}
    assert recorder.undeclared(INGRESS.grants) == []


def _queue_pair(sqs: Any, name: str) -> str:
    dlq = sqs.create_queue(QueueName=f"Routing{name}DeadLetterQueue")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5"})
    return sqs.create_queue(QueueName=f"Routing{name}Queue", Attributes={"RedrivePolicy": policy})["QueueUrl"]


def test_dagster_event_sensors_call_only_what_the_daemon_declares(
    recorder: CallRecorder, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import dagster as dg

    from zoho_pipelines.defs.events.resources import ClockResource, EventQueuesResource
    from zoho_pipelines.defs.events.sensors import (
        event_dead_letters_sensor,
        lead_qualification_sensor,
        refresh_events_sensor,
    )

    sqs = boto3.client("sqs")
    refresh = _queue_pair(sqs, "Refresh")
    leads = _queue_pair(sqs, "LeadQualification")
    sqs.send_message(QueueUrl=leads, MessageBody="not an event")  # the sensor dead-letters it itself
    recorder.calls.clear()
    daemon = process("dagster:daemon")
    values = {name: f"value-of-{name}" for name in daemon.environment | daemon.secrets}
    values.update(
        EVENTS_QUEUE_URL=refresh,
        LEAD_QUALIFICATION_QUEUE_URL=leads,
        ZOHO_DC="com",
        ZOHO_TOKEN_STORE="dynamodb",
        ZOHO_MAX_CONCURRENCY="5",
        ZOHO_WATCH_CHANNEL_ID="1000000068001",
        ZOHO_WATCH_NOTIFY_URL="https://example.com/zoho-events",
        LAKE_URL="s3://zoho-pipelines-lake/zoho",
        WAREHOUSE_URL="redshift://host:5439/zoho?iam=true",
        DAGSTER_HOME=str(tmp_path),
    )
    _declared_environment(monkeypatch, daemon, values)
    resources = {"event_queues": EventQueuesResource(local_dir=str(tmp_path)), "event_clock": ClockResource()}
    with dg.instance_for_test() as instance:
        for sensor in (refresh_events_sensor, lead_qualification_sensor, event_dead_letters_sensor):
            sensor(dg.build_sensor_context(instance=instance, resources=resources))
    dead_letters = sqs.get_queue_attributes(
        QueueUrl=leads.replace("LeadQualificationQueue", "LeadQualificationDeadLetterQueue"),
        AttributeNames=["ApproximateNumberOfMessages"],
    )["Attributes"]["ApproximateNumberOfMessages"]
    assert dead_letters == "1"
    actions = {call.action for call in recorder.calls}
    assert {"sqs:ReceiveMessage", "sqs:SendMessage", "sqs:GetQueueAttributes"} <= actions
    assert recorder.undeclared(daemon.grants) == []


def _zoho_caller_on_moto(sandbox: RunningSandbox, suffix: str) -> dict[str, str]:
    """The sandbox's credentials in a Secrets Manager secret and the token table, on moto (named
    `suffix` apart, the server outlives the test): the variables every onboarding function gets."""
    from zoho_pipelines.zoho.token_store_dynamodb import PARTITION_KEY

    credentials = {
        "client_id": sandbox.config.client_id,
        "client_secret": sandbox.config.client_secret,
        "refresh_token": sandbox.config.refresh_token,
    }
    secret = boto3.client("secretsmanager").create_secret(
        Name=f"ZohoCredentialsSecret-{suffix}", SecretString=json.dumps(credentials)
    )["ARN"]
    boto3.client("dynamodb").create_table(
        TableName=f"ZohoTokensTable-{suffix}",
        KeySchema=[{"AttributeName": PARTITION_KEY, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": PARTITION_KEY, "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return {
        "ZOHO_DC": "com",
        "ZOHO_CREDENTIALS_SECRET_ID": secret,
        "ZOHO_TOKEN_STORE": "dynamodb",
        "ZOHO_TOKEN_TABLE": f"ZohoTokensTable-{suffix}",
        "ZOHO_TOKEN_MAX_WAIT_S": "20",
    }


def _on_the_sandbox(monkeypatch: pytest.MonkeyPatch, sandbox: RunningSandbox) -> None:
    """The one exception: Zoho's address is the sandbox's (declared, left at its default on AWS)."""
    monkeypatch.setenv("ZOHO_ACCOUNTS_URL", sandbox.url)
    monkeypatch.setenv("ZOHO_API_URL", sandbox.url)


def test_onboarding_step_calls_only_what_it_declares(
    recorder: CallRecorder,
    monkeypatch: pytest.MonkeyPatch,
    sandbox_factory: Callable[..., RunningSandbox],
) -> None:
    """A real step (QualifyDealData) on the sandbox, with its credentials and token table on moto."""
    from zoho_pipelines.onboarding import handlers
    from zoho_pipelines_tests.onboarding.conftest import closed_won_event, deals

    sandbox = sandbox_factory(records_per_module=300)
    values = _zoho_caller_on_moto(sandbox, "qualify")
    recorder.calls.clear()
    entry = process("onboarding:QualifyDealData")
    _declared_environment(monkeypatch, entry, values)
    _on_the_sandbox(monkeypatch, sandbox)
    handlers.use_steps(None)
    try:
        deal = deals(sandbox, closed_won=True)[0]
        result = handlers.qualify_deal(closed_won_event(deal["id"]))
    finally:
        handlers.use_steps(None)
    assert result["deal"]["id"] == str(deal["id"])
    actions = {call.action for call in recorder.calls}
    assert {"secretsmanager:GetSecretValue", "dynamodb:GetItem", "dynamodb:PutItem"} <= actions
    assert recorder.undeclared(entry.grants) == []


def test_the_enrichment_step_calls_only_what_it_declares(
    recorder: CallRecorder,
    monkeypatch: pytest.MonkeyPatch,
    sandbox_factory: Callable[..., RunningSandbox],
) -> None:
    """AIEnrichment (by the rules: moto has no Bedrock) keeps its result in the lake bucket under
    the lake key, reading and writing only its own prefix."""
    from zoho_pipelines.onboarding import handlers
    from zoho_pipelines_tests.onboarding.conftest import closed_won_event, deals

    sandbox = sandbox_factory(records_per_module=300)
    values = _zoho_caller_on_moto(sandbox, "enrich")
    bucket = "zoho-pipelines-lake-123456789012-us-east-1"
    boto3.client("s3").create_bucket(Bucket=bucket)
    key = boto3.client("kms").create_key()["KeyMetadata"]["Arn"]
    recorder.calls.clear()
    entry = process("onboarding:AIEnrichment")
    _declared_environment(
        monkeypatch, entry, {**values, "LAKE_URL": f"s3://{bucket}/zoho", "LAKE_KMS_KEY_ID": key}
    )
    _on_the_sandbox(monkeypatch, sandbox)
    handlers.use_steps(None)
    try:
        state = handlers.qualify_deal(closed_won_event(deals(sandbox, closed_won=True)[0]["id"]))
        result = handlers.enrich(state)
    finally:
        handlers.use_steps(None)
    assert (result["source"], result["note_created"]) == ("rules", True)
    actions = {call.action for call in recorder.calls}
    assert {"s3:GetObject", "s3:PutObject"} <= actions
    assert recorder.undeclared(entry.grants) == []
