"""The Dagster UI's documented way in (deploy/README.md), as far as synthesis can tell: ECS Exec port
forwarding needs the service to allow it, the task role to open the SSM channels, the `ssmmessages`
endpoint in the VPC (no internet path is assumed), and the webserver listening on the port the
guide forwards, in the container the guide names. The guide's commands are checked against the
same names."""

from __future__ import annotations

import json
from typing import Any

from zoho_infra.dagster import WEBSERVER_CONTAINER, WEBSERVER_PORT

from zoho_pipelines_tests.cdk.conftest import REPO, Synthesized
from zoho_pipelines_tests.cdk.contract_templates import allowed_actions, role_statements

SSM_CHANNELS = {
    "ssmmessages:CreateControlChannel",
    "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel",
    "ssmmessages:OpenDataChannel",
}
GUIDE = (REPO / "deploy" / "README.md").read_text(encoding="utf-8")


def _webserver(synthesized: Synthesized) -> tuple[dict[str, Any], dict[str, Any]]:
    """The webserver's task definition and its service."""
    template = synthesized.templates["dagster"]
    definitions = template.find_resources("AWS::ECS::TaskDefinition")
    (definition_id,) = [
        key
        for key, value in definitions.items()
        if value["Properties"]["ContainerDefinitions"][0]["Name"] == WEBSERVER_CONTAINER
    ]
    services = template.find_resources("AWS::ECS::Service").values()
    (service,) = [s for s in services if s["Properties"]["TaskDefinition"] == {"Ref": definition_id}]
    return definitions[definition_id]["Properties"], service["Properties"]


def test_the_webserver_allows_ecs_exec_and_its_role_opens_the_ssm_channels(synthesized: Synthesized) -> None:
    definition, service = _webserver(synthesized)
    assert service["EnableExecuteCommand"] is True
    role = definition["TaskRoleArn"]["Fn::GetAtt"][0]
    assert allowed_actions(role_statements(synthesized.templates["dagster"], role)) >= SSM_CHANNELS


def test_only_the_webserver_can_be_entered(synthesized: Synthesized) -> None:
    services = synthesized.templates["dagster"].find_resources("AWS::ECS::Service").values()
    assert sorted(s["Properties"].get("EnableExecuteCommand", False) for s in services) == [False, True]


def test_the_webserver_listens_on_the_forwarded_port_on_every_interface(synthesized: Synthesized) -> None:
    definition, _ = _webserver(synthesized)
    (container,) = definition["ContainerDefinitions"]
    assert {"ContainerPort": WEBSERVER_PORT, "Protocol": "tcp"} in container["PortMappings"]
    command = container["Command"]
    assert command[command.index("-p") + 1] == str(WEBSERVER_PORT)
    assert command[command.index("-h") + 1] == "0.0.0.0"


def test_the_ssm_agent_reaches_ssm_through_the_vpc(synthesized: Synthesized) -> None:
    endpoints = synthesized.templates["network"].find_resources("AWS::EC2::VPCEndpoint").values()
    (ssm,) = [
        e["Properties"] for e in endpoints if "ssmmessages" in json.dumps(e["Properties"]["ServiceName"])
    ]
    assert ssm["VpcEndpointType"] == "Interface"
    assert ssm["PrivateDnsEnabled"] is True  # the agent uses the regional name
    groups = synthesized.templates["network"].find_resources("AWS::EC2::SecurityGroup")
    (endpoint_group,) = [
        g["Properties"]
        for key, g in groups.items()
        if {"Fn::GetAtt": [key, "GroupId"]} in ssm["SecurityGroupIds"]
    ]
    assert {"CidrIp": "10.40.0.0/16", "FromPort": 443, "IpProtocol": "tcp", "ToPort": 443} in [
        {k: rule[k] for k in ("CidrIp", "FromPort", "IpProtocol", "ToPort")}
        for rule in endpoint_group["SecurityGroupIngress"]
    ]


def test_the_guide_forwards_the_synthesized_port_of_the_named_container(synthesized: Synthesized) -> None:
    outputs = synthesized.templates["dagster"].to_json()["Outputs"]
    assert {"ClusterName", "WebserverServiceName"} <= set(outputs)
    assert "AWS-StartPortForwardingSession" in GUIDE
    assert f"portNumber={WEBSERVER_PORT}" in GUIDE
    assert f"containers[?name=='{WEBSERVER_CONTAINER}'].runtimeId" in GUIDE
    assert '--target "ecs:${CLUSTER}_${TASK_ID}_${RUNTIME_ID}"' in GUIDE
