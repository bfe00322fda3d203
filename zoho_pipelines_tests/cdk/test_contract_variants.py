"""The contract under the deployment's other choices: a Bedrock model, and no internet egress.

One more synthesis (`bedrock_model_id` set, `zoho_egress=none`) checked by the same code as the
default one, plus where the Zoho callers are placed in each network variant.
"""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any

import pytest
from zoho_infra.contract import PROCESSES, process

from zoho_pipelines_tests.cdk.conftest import Synthesized
from zoho_pipelines_tests.cdk.contract_templates import deployed, missing_grants, undeclared_resources

# An inference profile: the synthesis (with cdk-nag) also proves its wildcard-region acknowledgement.
MODEL_ID = "us.anthropic.claude-3-5-haiku-20241022-v1:0"
PROXY = "http://proxy.internal:3128"
VARIANT = {"bedrock_model_id": MODEL_ID, "zoho_egress": "none", "zoho_https_proxy": PROXY}


@pytest.fixture(scope="module")
def variant(app_module: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    import aws_cdk as cdk
    from aws_cdk.assertions import Template
    from zoho_infra.config import cdk_json_context

    context = {**cdk_json_context(), **VARIANT}
    outdir = tmp_path_factory.mktemp("cdk.out.variant")
    app = cdk.App(context=context, outdir=str(outdir), builtin_cloud_formation_validation=False)
    stacks = app_module.compose(app)
    app.synth()
    names = ("network", "onboarding", "ingress", "dagster")
    return {name: Template.from_stack(getattr(stacks, name)) for name in names}


@pytest.mark.parametrize("entry", PROCESSES, ids=[entry.name for entry in PROCESSES])
def test_every_declared_grant_and_variable_with_a_bedrock_model(variant: dict[str, Any], entry: Any) -> None:
    found = deployed(variant, entry)
    assert missing_grants(found, entry.grants) == []  # only_with grants included: the model is set
    assert undeclared_resources(found, entry) == []  # the model is the run tasks' and enrichment's only
    expected = entry.environment | {name for name, key in entry.optional.items() if key in VARIANT}
    assert sorted(expected - found.variables) == []
    assert sorted(found.variables - entry.environment - set(entry.optional)) == []


def test_bedrock_is_allowed_on_the_chosen_model_only(variant: dict[str, Any]) -> None:
    found = deployed(variant, process("dagster:run"))
    bedrock = [s for s in found.statements if "bedrock:InvokeModel" in json.dumps(s["Action"])]
    (statement,) = bedrock
    resources = sorted(json.dumps(resource) for resource in statement["Resource"])
    assert len(resources) == 2
    model, profile = resources
    assert model == '"arn:aws:bedrock:*::foundation-model/anthropic.claude-3-5-haiku-20241022-v1:0"'
    assert profile.endswith(f':inference-profile/{MODEL_ID}"]]}}')
    assert ":bedrock:us-east-1:" in profile


def test_without_egress_dagster_reaches_zoho_through_the_proxy_and_aws_directly(
    variant: dict[str, Any],
) -> None:
    for definition in variant["dagster"].find_resources("AWS::ECS::TaskDefinition").values():
        environment = {
            item["Name"]: item["Value"]
            for item in definition["Properties"]["ContainerDefinitions"][0]["Environment"]
        }
        assert environment["HTTPS_PROXY"] == PROXY
        assert ".amazonaws.com" in environment["NO_PROXY"].split(",")


def test_without_egress_there_is_no_route_out_and_onboarding_stays_outside_the_vpc(
    variant: dict[str, Any],
) -> None:
    for kind in ("AWS::EC2::NatGateway", "AWS::EC2::InternetGateway", "AWS::EC2::EIP"):
        variant["network"].resource_count_is(kind, 0)
    for function in variant["onboarding"].find_resources("AWS::Lambda::Function").values():
        assert "VpcConfig" not in function["Properties"]


def test_by_default_zoho_callers_run_in_the_nat_routed_subnets(synthesized: Synthesized) -> None:
    functions = synthesized.templates["onboarding"].find_resources("AWS::Lambda::Function").values()
    for function in functions:
        subnets = json.dumps(function["Properties"]["VpcConfig"]["SubnetIds"])
        assert subnets.count("egressSubnet") == 3, subnets
    for service in synthesized.templates["dagster"].find_resources("AWS::ECS::Service").values():
        configuration = service["Properties"]["NetworkConfiguration"]["AwsvpcConfiguration"]
        assert json.dumps(configuration["Subnets"]).count("egressSubnet") == 3


def test_an_inference_profile_is_allowed_with_its_model_in_any_region(app_module: ModuleType) -> None:
    """Newer models are invoked through a cross-region profile: the profile and its one model."""
    import aws_cdk as cdk
    from zoho_infra.config import cdk_json_context
    from zoho_infra.dagster import bedrock_model_arns

    app = cdk.App(context=cdk_json_context())  # the project's flags: partition literals
    stack = cdk.Stack(app, "Probe", env=cdk.Environment(account="123456789012", region="eu-west-1"))
    arns = [stack.resolve(arn) for arn in bedrock_model_arns(stack, "eu.anthropic.claude-3-5-haiku-v1:0")]
    assert arns == [
        "arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.anthropic.claude-3-5-haiku-v1:0",
        "arn:aws:bedrock:*::foundation-model/anthropic.claude-3-5-haiku-v1:0",
    ]
    plain = [stack.resolve(arn) for arn in bedrock_model_arns(stack, "anthropic.claude-3-haiku-v1:0")]
    assert plain == ["arn:aws:bedrock:eu-west-1::foundation-model/anthropic.claude-3-haiku-v1:0"]


def test_only_the_enrichment_function_may_invoke_the_model_and_only_that_model(
    variant: dict[str, Any],
) -> None:
    for entry in PROCESSES:
        if not entry.name.startswith("onboarding:"):
            continue
        found = deployed(variant, entry)
        bedrock = [s for s in found.statements if "bedrock:" in json.dumps(s["Action"])]
        if entry.name != "onboarding:AIEnrichment":
            assert bedrock == [], entry.name
            continue
        (statement,) = bedrock
        assert statement["Action"] == "bedrock:InvokeModel"
        model, profile = sorted(json.dumps(resource) for resource in statement["Resource"])
        assert model == '"arn:aws:bedrock:*::foundation-model/anthropic.claude-3-5-haiku-20241022-v1:0"'
        assert profile.endswith(f':inference-profile/{MODEL_ID}"]]}}')
