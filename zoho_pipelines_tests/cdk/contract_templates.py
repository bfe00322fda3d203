"""Finding each contract process in the synthesized templates: its variables and its IAM grants.

Kept apart from the tests so the default synthesis and the Bedrock-enabled one are checked by
the same code.
"""

from __future__ import annotations

import fnmatch
import json
import re
from dataclasses import dataclass
from typing import Any

from zoho_infra.contract import PROCESSES, Grant, Process
from zoho_infra.onboarding import HANDLER_MODULE, STEPS

INGRESS_HANDLER = "zoho_pipelines.events.ingress.handler"


@dataclass(frozen=True)
class Deployed:
    """A process as a template deploys it."""

    variables: frozenset[str]
    secrets: frozenset[str]
    statements: tuple[dict[str, Any], ...]  # every Allow statement of its role's policies


def deployed(templates: dict[str, Any], process: Process) -> Deployed:
    """Where the process is defined: its Lambda function or its ECS container, and its role."""
    if process.name == "ingress":
        return _function(templates["ingress"], INGRESS_HANDLER)
    if process.name.startswith("onboarding:"):
        state = process.name.split(":", 1)[1]
        (step,) = [step for step in STEPS if step.state == state]
        return _function(templates["onboarding"], f"{HANDLER_MODULE}.{step.handler}")
    if process.name.startswith("dagster:"):
        return _container(templates["dagster"], process.name.split(":", 1)[1])
    raise KeyError(process.name)


def missing_grants(found: Deployed, grants: tuple[Grant, ...]) -> list[str]:
    """Each declared (action, resource) no Allow statement of the role covers."""
    return [
        f"{action} on /{grant.resource}/"
        for grant in grants
        for action in grant.actions
        if not any(_allows(statement, action, grant.resource) for statement in found.statements)
    ]


# Every resource some process is granted: the ones a process does not declare must be out of its reach.
CONTRACT_RESOURCES = sorted({grant.resource for entry in PROCESSES for grant in entry.grants})


def undeclared_resources(found: Deployed, process: Process) -> list[str]:
    """Contract resources the process's role reaches although the process declares no grant on
    them (least privilege: one process's resources are out of another's reach)."""
    declared = {grant.resource for grant in process.grants}
    return [
        f"/{pattern}/ via {statement['Action']}"
        for pattern in CONTRACT_RESOURCES
        if pattern not in declared
        for statement in found.statements
        if any(re.search(pattern, json.dumps(resource)) for resource in _resources(statement))
    ]


def _function(template: Any, handler: str) -> Deployed:
    functions = [
        resource["Properties"]
        for resource in template.find_resources("AWS::Lambda::Function").values()
        if resource["Properties"].get("Handler") == handler
    ]
    assert len(functions) == 1, f"{len(functions)} functions with handler {handler}"
    (function,) = functions
    variables = frozenset(function.get("Environment", {}).get("Variables", {}))
    role = function["Role"]["Fn::GetAtt"][0]
    return Deployed(variables, frozenset(), role_statements(template, role))


def _container(template: Any, container_name: str) -> Deployed:
    definitions = [
        resource["Properties"]
        for resource in template.find_resources("AWS::ECS::TaskDefinition").values()
        if resource["Properties"]["ContainerDefinitions"][0]["Name"] == container_name
    ]
    assert len(definitions) == 1, f"{len(definitions)} task definitions with container {container_name}"
    (definition,) = definitions
    container = definition["ContainerDefinitions"][0]
    variables = frozenset(item["Name"] for item in container.get("Environment", []))
    secrets = frozenset(item["Name"] for item in container.get("Secrets", []))
    role = definition["TaskRoleArn"]["Fn::GetAtt"][0]
    return Deployed(variables, secrets, role_statements(template, role))


def role_statements(template: Any, role: str) -> tuple[dict[str, Any], ...]:
    documents = [
        policy["Properties"]["PolicyDocument"]
        for policy in template.find_resources("AWS::IAM::Policy").values()
        if {"Ref": role} in policy["Properties"].get("Roles", [])
    ]
    role_properties = template.find_resources("AWS::IAM::Role")[role]["Properties"]
    documents += [policy["PolicyDocument"] for policy in role_properties.get("Policies", [])]
    return tuple(
        statement
        for document in documents
        for statement in document["Statement"]
        if statement.get("Effect") == "Allow"
    )


def _allows(statement: dict[str, Any], action: str, resource_pattern: str) -> bool:
    actions = statement.get("Action", [])
    actions = [actions] if isinstance(actions, str) else actions
    if not any(fnmatch.fnmatchcase(action.lower(), pattern.lower()) for pattern in actions):
        return False
    return any(re.search(resource_pattern, json.dumps(resource)) for resource in _resources(statement))


def allowed_actions(statements: tuple[dict[str, Any], ...]) -> set[str]:
    """Every action the statements name (as written: wildcards stay wildcards)."""
    return {
        action
        for statement in statements
        for action in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
    }


def _resources(statement: dict[str, Any]) -> list[Any]:
    resources = statement.get("Resource", [])
    return resources if isinstance(resources, list) else [resources]
