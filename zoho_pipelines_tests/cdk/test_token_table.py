"""The Zoho token table: encrypted with the project's key, on demand, TTL, reachable privately,
named in the environment of every Zoho caller, which may only get and put its items."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk.assertions import Match
from zoho_infra.onboarding import STEPS, TOKEN_MAX_WAIT_S
from zoho_infra.token_table import TABLE_NAME, TOKEN_KEY_ACTIONS, TOKEN_TABLE_ACTIONS

from zoho_pipelines.zoho.token_store_dynamodb import PARTITION_KEY, TTL_ATTRIBUTE
from zoho_pipelines_tests.cdk.conftest import Synthesized

ZOHO_CONTAINERS = {"run", "webserver", "daemon"}


def resources(synthesized: Synthesized, stack: str, kind: str) -> dict[str, dict[str, Any]]:
    return synthesized.templates[stack].find_resources(kind)


def statements(synthesized: Synthesized, stack: str) -> list[dict[str, Any]]:
    return [
        statement
        for policy in resources(synthesized, stack, "AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return action if isinstance(action, list) else [action]


def test_the_table_is_on_demand_encrypted_with_the_lake_key_and_expires_items(
    synthesized: Synthesized,
) -> None:
    (table_id, table) = next(iter(resources(synthesized, "data", "AWS::DynamoDB::Table").items()))
    properties = table["Properties"]
    assert properties["TableName"] == TABLE_NAME
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert properties["KeySchema"] == [{"AttributeName": PARTITION_KEY, "KeyType": "HASH"}]
    assert properties["TimeToLiveSpecification"] == {"AttributeName": TTL_ATTRIBUTE, "Enabled": True}
    sse = properties["SSESpecification"]
    assert (sse["SSEEnabled"], sse["SSEType"]) == (True, "KMS")
    (key_id,) = resources(synthesized, "data", "AWS::KMS::Key")
    assert sse["KMSMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert table["DeletionPolicy"] == "Delete"  # a cache of live tokens: nothing worth retaining
    assert len(resources(synthesized, "data", "AWS::DynamoDB::Table")) == 1, table_id


def test_every_zoho_caller_is_told_to_use_the_table(synthesized: Synthesized) -> None:
    expected = {"ZOHO_TOKEN_STORE": "dynamodb", "ZOHO_TOKEN_TABLE": Match.any_value()}
    containers = {}
    for definition in resources(synthesized, "dagster", "AWS::ECS::TaskDefinition").values():
        for container in definition["Properties"]["ContainerDefinitions"]:
            containers[container["Name"]] = {item["Name"]: item["Value"] for item in container["Environment"]}
    assert set(containers) == ZOHO_CONTAINERS
    functions = [
        function["Properties"]["Environment"]["Variables"]
        for function in resources(synthesized, "onboarding", "AWS::Lambda::Function").values()
        if "ZOHO_CREDENTIALS_SECRET_ID" in function["Properties"].get("Environment", {}).get("Variables", {})
    ]
    assert len(functions) == len(STEPS)
    for environment in [*containers.values(), *functions]:
        assert environment["ZOHO_TOKEN_STORE"] == expected["ZOHO_TOKEN_STORE"]
        assert "ExportsOutputRefZohoTokensTable" in json.dumps(environment["ZOHO_TOKEN_TABLE"])
    # A 60-second task cannot outwait a blocked mint window: it hands the wait to its retrier.
    assert {environment["ZOHO_TOKEN_MAX_WAIT_S"] for environment in functions} == {str(TOKEN_MAX_WAIT_S)}
    assert all("ZOHO_TOKEN_MAX_WAIT_S" not in environment for environment in containers.values())


def test_callers_may_only_get_and_put_items_of_the_table_and_use_the_key_through_dynamodb(
    synthesized: Synthesized,
) -> None:
    for stack, expected_grants in (("dagster", 1), ("onboarding", len(STEPS))):
        found = statements(synthesized, stack)
        table_grants = [s for s in found if any(a.startswith("dynamodb:") for a in actions(s))]
        assert len(table_grants) == expected_grants
        for grant in table_grants:
            assert sorted(actions(grant)) == sorted(TOKEN_TABLE_ACTIONS)
            assert "ExportsOutputFnGetAttZohoTokensTable" in json.dumps(grant["Resource"])
            assert "*" not in json.dumps(grant["Resource"])
        # The key through DynamoDB (other grants may use it through S3: the enrichment's lake objects).
        key_grants = [
            s
            for s in found
            if "kms:ViaService" in json.dumps(s.get("Condition", {}))
            and "dynamodb." in json.dumps(s["Condition"])
        ]
        assert len(key_grants) == expected_grants
        for grant in key_grants:
            assert sorted(actions(grant)) == sorted(TOKEN_KEY_ACTIONS)
            assert grant["Condition"]["StringEquals"]["kms:ViaService"].startswith("dynamodb.")
            assert "LakeKey" in json.dumps(grant["Resource"])


def test_dagster_reaches_dynamodb_through_a_gateway_endpoint(synthesized: Synthesized) -> None:
    endpoints = resources(synthesized, "network", "AWS::EC2::VPCEndpoint").values()
    (dynamodb,) = [
        e["Properties"] for e in endpoints if "dynamodb" in json.dumps(e["Properties"]["ServiceName"])
    ]
    assert dynamodb["VpcEndpointType"] == "Gateway"
    route_tables = resources(synthesized, "network", "AWS::EC2::RouteTable")
    private = {key for key in route_tables if "public" not in key}
    assert {table["Ref"] for table in dynamodb["RouteTableIds"]} == private  # isolated and NAT-routed
    assert len(private) == 6
