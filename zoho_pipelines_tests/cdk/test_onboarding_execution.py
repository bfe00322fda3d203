"""The synthesized onboarding definition, executed by moto's Step Functions interpreter.

moto runs the real ASL (choices, task tokens, SQS, SNS, Lambda tasks) in server mode; its Lambda
tasks echo their input, which is enough to drive the control flow: the echoed state carries
`deal.amount` to CheckDealValue. The definition is the template's own DefinitionString, with its
CloudFormation references replaced by the ARNs of the resources created in moto.
"""

from __future__ import annotations

import io
import json
import time
import zipfile
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import httpx
import pytest
from moto.server import ThreadedMotoServer
from zoho_infra.onboarding import STEPS

from zoho_pipelines_tests.cdk.conftest import Synthesized

REGION = "us-east-1"
DEADLINE_S = 30


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    with pytest.MonkeyPatch.context() as patch:
        # moto's interpreter calls Lambda, SQS and SNS through the server on MOTO_PORT.
        patch.setenv("MOTO_PORT", str(port))
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
        }.items():
            patch.setenv(name, value)
        response = httpx.post(
            f"{endpoint}/moto-api/config",
            json={"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}},
        )
        response.raise_for_status()
        yield endpoint
    server.stop()


@pytest.fixture(scope="module")
def clients(moto_endpoint: str) -> Callable[[str], Any]:
    return lambda service: boto3.client(service, endpoint_url=moto_endpoint, region_name=REGION)


@pytest.fixture(scope="module")
def onboarding(synthesized: Synthesized, clients: Callable[[str], Any]) -> dict[str, Any]:
    """The state machine from the template, created in moto with its functions, queue and topic."""
    template = synthesized.templates["onboarding"].to_json()["Resources"]
    iam = clients("iam")
    role = iam.create_role(RoleName="onboarding", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    references: dict[str, str] = {}
    lambda_client = clients("lambda")
    for logical_id, resource in template.items():
        if resource["Type"] == "AWS::Lambda::Function":
            handler = resource["Properties"]["Handler"]
            created = lambda_client.create_function(
                FunctionName=handler.rsplit(".", 1)[1],
                Runtime="python3.11",
                Role=role,
                Handler=handler,
                Code={"ZipFile": _zip({"handler.py": "def handler(event, context):\n    return event\n"})},
            )
            references[logical_id] = created["FunctionArn"]
        elif resource["Type"] == "AWS::SQS::Queue" and "RedrivePolicy" in resource["Properties"]:
            queue_url = clients("sqs").create_queue(QueueName=resource["Properties"]["QueueName"])["QueueUrl"]
            references[logical_id] = queue_url
    topic_arn = clients("sns").create_topic(Name="alarms")["TopicArn"]
    (machine,) = [r for r in template.values() if r["Type"] == "AWS::StepFunctions::StateMachine"]
    definition = _render(machine["Properties"]["DefinitionString"], references, topic_arn)
    arn = clients("stepfunctions").create_state_machine(
        name="zoho-deal-onboarding", definition=definition, roleArn=role
    )["stateMachineArn"]
    (queue_url,) = [url for url in references.values() if url.startswith("http")]
    return {"arn": arn, "approvals": queue_url, "definition": json.loads(definition)}


def _zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def _render(node: Any, references: dict[str, str], topic_arn: str) -> str:
    """A DefinitionString (Fn::Join of strings and references) as plain JSON text."""
    if isinstance(node, str):
        return node
    ((function, argument),) = node.items()
    if function == "Fn::Join":
        delimiter, parts = argument
        return delimiter.join(_render(part, references, topic_arn) for part in parts)
    if function == "Ref":
        return {"AWS::Partition": "aws", "AWS::Region": REGION, "AWS::URLSuffix": "amazonaws.com"}.get(
            argument
        ) or references[argument]
    if function == "Fn::GetAtt":
        return references[argument[0]]
    if function == "Fn::ImportValue":  # the alarm topic, exported by the observability stack
        return topic_arn
    raise AssertionError(f"unexpected intrinsic {function}")


def _wait_for(condition: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.05)  # polling interval of a condition with a deadline, not a synchronisation
    raise AssertionError(f"timed out waiting for {what}")


def _finished(sfn: Any, execution_arn: str) -> Callable[[], dict[str, Any] | None]:
    def check() -> dict[str, Any] | None:
        described = sfn.describe_execution(executionArn=execution_arn)
        return described if described["status"] != "RUNNING" else None

    return check


def _entered_states(sfn: Any, execution_arn: str) -> list[str]:
    events = sfn.get_execution_history(executionArn=execution_arn)["events"]
    return [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]


def test_a_small_deal_goes_straight_through(
    onboarding: dict[str, Any], clients: Callable[[str], Any]
) -> None:
    sfn = clients("stepfunctions")
    execution = sfn.start_execution(
        stateMachineArn=onboarding["arn"],
        name="small-deal",
        input=json.dumps({"deal": {"id": "1", "amount": 12_000}}),
    )["executionArn"]
    described = _wait_for(_finished(sfn, execution), "the small deal's execution")
    assert described["status"] == "SUCCEEDED"
    entered = _entered_states(sfn, execution)
    assert entered == ["QualifyDealData", "CheckDealValue", *[s.state for s in STEPS[1:]], "Onboarded"]


def test_a_large_deal_waits_for_the_director_and_continues_on_approval(
    onboarding: dict[str, Any], clients: Callable[[str], Any]
) -> None:
    sfn, sqs = clients("stepfunctions"), clients("sqs")
    deal = {"id": "2", "amount": 75_000}
    execution = sfn.start_execution(
        stateMachineArn=onboarding["arn"], name="large-deal", input=json.dumps({"deal": deal})
    )["executionArn"]

    def approval_request() -> dict[str, Any] | None:
        messages = sqs.receive_message(QueueUrl=onboarding["approvals"], MaxNumberOfMessages=1).get(
            "Messages"
        )
        return json.loads(messages[0]["Body"]) if messages else None

    request = _wait_for(approval_request, "the approval request on the queue")
    assert request["deal"] == deal
    assert request["execution"] == execution
    # Still waiting: nothing after the approval state has run.
    assert sfn.describe_execution(executionArn=execution)["status"] == "RUNNING"
    assert "CreateZohoProject" not in _entered_states(sfn, execution)

    sfn.send_task_success(
        taskToken=request["taskToken"], output=json.dumps({"approved": True, "by": "director"})
    )
    described = _wait_for(_finished(sfn, execution), "the large deal's execution")
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"])["approval"] == {"approved": True, "by": "director"}
    entered = _entered_states(sfn, execution)
    assert entered.index("RequireDirectorApproval") < entered.index("CreateZohoProject")
    assert entered[-1] == "Onboarded"


def test_a_rejected_deal_is_reported_and_fails(
    onboarding: dict[str, Any], clients: Callable[[str], Any]
) -> None:
    sfn, sqs = clients("stepfunctions"), clients("sqs")
    execution = sfn.start_execution(
        stateMachineArn=onboarding["arn"],
        name="rejected-deal",
        input=json.dumps({"deal": {"id": "3", "amount": 90_000}}),
    )["executionArn"]

    def token() -> str | None:
        messages = sqs.receive_message(QueueUrl=onboarding["approvals"], MaxNumberOfMessages=1).get(
            "Messages"
        )
        return json.loads(messages[0]["Body"])["taskToken"] if messages else None

    sfn.send_task_failure(
        taskToken=_wait_for(token, "the approval request"), error="DirectorRejected", cause="no"
    )
    described = _wait_for(_finished(sfn, execution), "the rejected deal's execution")
    assert described["status"] == "FAILED"
    entered = _entered_states(sfn, execution)
    assert entered[-2:] == ["ReportFailure", "OnboardingFailed"]
    assert "CreateZohoProject" not in entered


def test_the_executed_definition_retries_zoho_errors_as_specified(onboarding: dict[str, Any]) -> None:
    retry = onboarding["definition"]["States"]["CreateZohoProject"]["Retry"]
    assert {
        "ErrorEquals": ["ZohoAPIError"],
        "IntervalSeconds": 30,
        "MaxAttempts": 3,
        "BackoffRate": 2,
    } in retry


def test_the_executed_definition_retries_a_throttled_model_in_the_enrichment(
    onboarding: dict[str, Any],
) -> None:
    retry = onboarding["definition"]["States"]["AIEnrichment"]["Retry"]
    assert {
        "ErrorEquals": ["ModelThrottled"],
        "IntervalSeconds": 20,
        "MaxAttempts": 5,
        "BackoffRate": 2,
    } in retry
    assert "ModelThrottled" not in json.dumps(onboarding["definition"]["States"]["SetupBilling"])
