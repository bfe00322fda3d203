"""What each stack would create, read from the synthesized templates."""

from __future__ import annotations

import itertools
import json
from typing import Any

from aws_cdk.assertions import Match
from zoho_infra import network as network_module
from zoho_infra.ingress import ROUTE_PATH, THROTTLE_BURST, THROTTLE_RATE_PER_S
from zoho_infra.onboarding import APPROVAL_THRESHOLD, STEPS

from zoho_pipelines.events.ingress import DEFAULT_EVENT_BUS
from zoho_pipelines.events.routing import ROUTES, TargetKind
from zoho_pipelines_tests.cdk.conftest import Synthesized


def resources(synthesized: Synthesized, stack: str, kind: str) -> dict[str, dict[str, Any]]:
    return synthesized.templates[stack].find_resources(kind)


def properties(synthesized: Synthesized, stack: str, kind: str) -> list[dict[str, Any]]:
    return [resource.get("Properties", {}) for resource in resources(synthesized, stack, kind).values()]


def test_network_egress_is_one_nat_per_zone_for_private_subnets_with_endpoints(
    synthesized: Synthesized,
) -> None:
    """The default (`zoho_egress=nat`, issue 11): Dagster and the onboarding functions must reach
    Zoho, so private subnets route through a NAT gateway per zone; the isolated subnets (warehouse,
    database, ingress, endpoints) keep no route out. This replaced the no-NAT/IGW/EIP assertion
    of the `none` default, which left Dagster without a way to Zoho."""
    template = synthesized.templates["network"]
    template.resource_count_is("AWS::EC2::NatGateway", 3)
    template.resource_count_is("AWS::EC2::InternetGateway", 1)
    template.resource_count_is("AWS::EC2::EIP", 3)
    subnets = resources(synthesized, "network", "AWS::EC2::Subnet")
    assert len(subnets) == 9
    assert len({subnet["Properties"]["AvailabilityZone"] for subnet in subnets.values()}) == 3
    public = {key for key, subnet in subnets.items() if subnet["Properties"].get("MapPublicIpOnLaunch")}
    assert len(public) == 3
    assert all("public" in key for key in public)
    routes = properties(synthesized, "network", "AWS::EC2::Route")
    nat_routed = {route["RouteTableId"]["Ref"] for route in routes if "NatGatewayId" in route}
    igw_routed = {route["RouteTableId"]["Ref"] for route in routes if "GatewayId" in route}
    assert len(nat_routed) == 3
    assert all("egress" in table for table in nat_routed)
    assert igw_routed
    assert all("public" in table for table in igw_routed)
    assert not any("isolated" in route["RouteTableId"]["Ref"] for route in routes)

    endpoints = properties(synthesized, "network", "AWS::EC2::VPCEndpoint")
    gateway = [endpoint for endpoint in endpoints if endpoint.get("VpcEndpointType") == "Gateway"]
    interface = [endpoint for endpoint in endpoints if endpoint.get("VpcEndpointType") == "Interface"]
    assert len(gateway) == 2
    services = sorted(endpoint["ServiceName"]["Fn::Join"][1][-1] for endpoint in gateway)
    assert services == [".dynamodb", ".s3"]
    # Lake traffic never crosses the NAT: every private route table has both gateway endpoints.
    private_tables = {
        key for key in resources(synthesized, "network", "AWS::EC2::RouteTable") if "public" not in key
    }
    for endpoint in gateway:
        assert {table["Ref"] for table in endpoint["RouteTableIds"]} == private_tables
    names = {endpoint["ServiceName"].rsplit(".", 1)[-1] for endpoint in interface}
    assert {"bedrock-runtime", "ssmmessages", "redshift-serverless"} <= names
    assert len(interface) == len(network_module.INTERFACE_ENDPOINTS)
    assert all(endpoint["PrivateDnsEnabled"] for endpoint in interface)
    template.has_resource_properties("AWS::EC2::FlowLog", {"TrafficType": "ALL"})


def test_lake_bucket_is_kms_encrypted_private_tls_only_with_lifecycle(synthesized: Synthesized) -> None:
    template = synthesized.templates["data"]
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    Match.object_like(
                        {"ServerSideEncryptionByDefault": Match.object_like({"SSEAlgorithm": "aws:kms"})}
                    )
                ]
            },
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
            "LifecycleConfiguration": {"Rules": Match.array_with([Match.object_like({"Prefix": "zoho/"})])},
            "LoggingConfiguration": Match.any_value(),
        },
    )
    template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
                        )
                    ]
                )
            }
        },
    )
    template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})


def test_redshift_serverless_is_private_with_enhanced_vpc_routing_and_a_copy_role(
    synthesized: Synthesized,
) -> None:
    (workgroup,) = properties(synthesized, "data", "AWS::RedshiftServerless::Workgroup")
    assert workgroup["PubliclyAccessible"] is False
    assert workgroup["EnhancedVpcRouting"] is True
    assert len(workgroup["SubnetIds"]) == 3
    (namespace,) = properties(synthesized, "data", "AWS::RedshiftServerless::Namespace")
    assert "KmsKeyId" in namespace
    assert namespace["ManageAdminPassword"] is True
    assert namespace["DefaultIamRoleArn"] == namespace["IamRoles"][0]
    roles = properties(synthesized, "data", "AWS::IAM::Role")
    (copy_role,) = [role for role in roles if "redshift.amazonaws.com" in json.dumps(role)]
    policies = json.dumps(properties(synthesized, "data", "AWS::IAM::Policy"))
    assert "s3:GetObject*" in policies
    assert "s3:PutObject" not in policies
    assert copy_role["AssumeRolePolicyDocument"]["Statement"]


def test_ingress_routes_post_zoho_events_to_the_packaged_handler(synthesized: Synthesized) -> None:
    template = synthesized.templates["ingress"]
    template.has_resource_properties("AWS::ApiGatewayV2::Route", {"RouteKey": f"POST {ROUTE_PATH}"})
    template.resource_count_is("AWS::ApiGatewayV2::Route", 1)
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "zoho_pipelines.events.ingress.handler",
            "TracingConfig": {"Mode": "Active"},
            "VpcConfig": Match.any_value(),
            "Environment": {
                "Variables": Match.object_like(
                    {"ZOHO_WEBHOOK_SECRETS_SECRET_ID": Match.any_value(), "EVENT_BUS_NAME": Match.any_value()}
                )
            },
        },
    )
    template.has_resource_properties(
        "AWS::ApiGatewayV2::Stage",
        {
            "DefaultRouteSettings": {
                "ThrottlingRateLimit": THROTTLE_RATE_PER_S,
                "ThrottlingBurstLimit": THROTTLE_BURST,
            },
            "AccessLogSettings": {
                "DestinationArn": Match.any_value(),
                "Format": Match.string_like_regexp("requestId"),
            },
        },
    )
    template.resource_count_is("AWS::SecretsManager::Secret", 2)  # webhook secrets, channel tokens


def test_ingress_asset_holds_exactly_the_handler_modules(synthesized: Synthesized) -> None:
    from zoho_infra.assets import INGRESS_MODULES

    staged = synthesized.outdir / "bundles" / "ingress"
    files = sorted(str(path.relative_to(staged)) for path in staged.rglob("*") if path.is_file())
    assert files == sorted(INGRESS_MODULES)


def test_every_route_becomes_a_rule_with_its_exact_pattern(synthesized: Synthesized) -> None:
    template = synthesized.templates["events"]
    template.has_resource_properties("AWS::Events::EventBus", {"Name": DEFAULT_EVENT_BUS})
    rules = properties(synthesized, "events", "AWS::Events::Rule")
    by_name = {rule["Name"]: rule for rule in rules}
    assert set(by_name) == {f"zoho-{route.name}" for route in ROUTES}
    for route in ROUTES:
        rule = by_name[f"zoho-{route.name}"]
        assert rule["EventPattern"] == json.loads(route.pattern_json())
        (target,) = rule["Targets"]
        assert "DeadLetterConfig" in target
        assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0
        if route.target_kind is TargetKind.STATE_MACHINE:
            assert target["InputPath"] == "$.detail"
            assert "RoleArn" in target


def test_every_queue_has_a_dead_letter_queue_and_every_dlq_an_alarm(synthesized: Synthesized) -> None:
    for stack in ("events", "onboarding"):
        queues = resources(synthesized, stack, "AWS::SQS::Queue")
        work = {key: queue for key, queue in queues.items() if "RedrivePolicy" in queue["Properties"]}
        dead = set(queues) - set(work)
        assert work, stack
        for queue in work.values():
            target = queue["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
            assert target in dead
        alarmed = json.dumps(properties(synthesized, stack, "AWS::CloudWatch::Alarm"))
        for key in dead:
            assert key in alarmed, f"{stack}: no alarm watches {key}"
        for queue in queues.values():
            assert queue["Properties"]["SqsManagedSseEnabled"] is True


def test_onboarding_state_machine_has_tracing_logging_and_the_specified_flow(
    synthesized: Synthesized,
) -> None:
    (machine,) = properties(synthesized, "onboarding", "AWS::StepFunctions::StateMachine")
    assert machine["TracingConfiguration"] == {"Enabled": True}
    assert machine["LoggingConfiguration"]["Level"] == "ALL"
    definition = json.loads(
        "".join(part if isinstance(part, str) else "X" for part in machine["DefinitionString"]["Fn::Join"][1])
    )
    states = definition["States"]
    assert definition["StartAt"] == "QualifyDealData"
    assert states["QualifyDealData"]["Next"] == "CheckDealValue"
    (choice,) = states["CheckDealValue"]["Choices"]
    assert choice == {
        "Variable": "$.deal.amount",
        "NumericGreaterThan": APPROVAL_THRESHOLD,
        "Next": "RequireDirectorApproval",
    }
    assert states["CheckDealValue"]["Default"] == "CreateZohoProject"
    approval = states["RequireDirectorApproval"]
    assert approval["Resource"].endswith(":states:::sqs:sendMessage.waitForTaskToken")
    assert approval["TimeoutSeconds"] == 3 * 24 * 3600
    assert approval["Next"] == "CreateZohoProject"
    chain = ["CreateZohoProject", "SetupBilling", "AIEnrichment", "SendWelcomeSequence", "Onboarded"]
    for current, following in itertools.pairwise(chain):
        assert states[current]["Next"] == following
    assert states["Onboarded"]["Type"] == "Succeed"
    for step in STEPS:  # CreateZohoProject as specified; the other (idempotent) steps alike
        retry = [rule for rule in states[step.state]["Retry"] if rule["ErrorEquals"] == ["ZohoAPIError"]]
        assert retry == [
            {"ErrorEquals": ["ZohoAPIError"], "IntervalSeconds": 30, "MaxAttempts": 3, "BackoffRate": 2}
        ], step.state
    for state in [step.state for step in STEPS] + ["RequireDirectorApproval"]:
        (catch,) = states[state]["Catch"]
        assert catch == {"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": "ReportFailure"}
    assert states["ReportFailure"]["Next"] == "OnboardingFailed"
    assert states["OnboardingFailed"]["Type"] == "Fail"


def test_onboarding_functions_and_alarms(synthesized: Synthesized) -> None:
    functions = properties(synthesized, "onboarding", "AWS::Lambda::Function")
    handlers = sorted(function["Handler"] for function in functions)
    assert handlers == sorted(f"zoho_pipelines.onboarding.handlers.{step.handler}" for step in STEPS)
    for function in functions:
        assert "ZOHO_CREDENTIALS_SECRET_ID" in function["Environment"]["Variables"]
    alarms = json.dumps(properties(synthesized, "onboarding", "AWS::CloudWatch::Alarm"))
    assert alarms.count('"MetricName": "ExecutionsFailed"') == 1
    assert alarms.count('"MetricName": "Errors"') == len(STEPS)


def test_observability_trail_and_encrypted_topic(synthesized: Synthesized) -> None:
    template = synthesized.templates["observability"]
    template.has_resource_properties(
        "AWS::CloudTrail::Trail",
        {"IsMultiRegionTrail": True, "EnableLogFileValidation": True, "KMSKeyId": Match.any_value()},
    )
    template.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": Match.any_value()})
    # Every alarm in the app notifies the one topic.
    for stack in ("events", "ingress", "onboarding"):
        for alarm in properties(synthesized, stack, "AWS::CloudWatch::Alarm"):
            assert len(alarm["AlarmActions"]) == 1


def test_api_5xx_and_lambda_error_alarms_exist(synthesized: Synthesized) -> None:
    alarms = json.dumps(properties(synthesized, "ingress", "AWS::CloudWatch::Alarm"))
    assert '"MetricName": "5xx"' in alarms
    assert '"MetricName": "Errors"' in alarms


def test_dagster_runs_on_fargate_with_postgres_and_the_ecs_run_launcher(synthesized: Synthesized) -> None:
    template = synthesized.templates["dagster"]
    template.resource_count_is("AWS::ECS::Service", 2)
    template.has_resource_properties(
        "AWS::RDS::DBInstance",
        {"Engine": "postgres", "MultiAZ": True, "StorageEncrypted": True, "PubliclyAccessible": False},
    )
    definitions = properties(synthesized, "dagster", "AWS::ECS::TaskDefinition")
    commands = sorted(json.dumps(d["ContainerDefinitions"][0].get("Command")) for d in definitions)
    assert any("dagster-webserver" in command for command in commands)
    assert any("dagster-daemon" in command for command in commands)
    for definition in definitions:
        container = definition["ContainerDefinitions"][0]
        secrets = {secret["Name"] for secret in container["Secrets"]}
        assert secrets == {"DAGSTER_PG_USERNAME", "DAGSTER_PG_PASSWORD", "ZOHO_CHANNEL_TOKENS"}
        variables = {variable["Name"] for variable in container["Environment"]}
        assert {"DAGSTER_PG_HOST", "DAGSTER_RUN_CONTAINER", "LAKE_URL", "WAREHOUSE_URL"} <= variables
        assert not any("PASSWORD" in name for name in variables)
    policies = json.dumps(properties(synthesized, "dagster", "AWS::IAM::Policy"))
    for action in (
        "ecs:RunTask",
        "ecs:StopTask",
        "ecs:DescribeTasks",
        "iam:PassRole",
        "sqs:ReceiveMessage",
        "secretsmanager:GetSecretValue",
        "redshift-serverless:GetCredentials",
        "kms:Decrypt",
    ):
        assert action in policies, action
