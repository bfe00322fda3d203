"""Acknowledging AWS Solutions (cdk-nag) findings, always with the reason next to the resource.

cdk-nag 3 matches acknowledgements per finding: a rule that names a resource or action (IAM5)
is acknowledged as `AwsSolutions-IAM5[Resource::...]`, one entry per finding, so an
acknowledgement never silently covers a finding nobody has read.
"""

from __future__ import annotations

import json
from typing import Any

from aws_cdk import Acknowledgment, Stack, Validations
from constructs import IConstruct

MIN_REASON_LENGTH = 40


def acknowledge(scope: IConstruct, rule: str, reason: str) -> None:
    """Accept `rule` (e.g. "AwsSolutions-RDS11") for `scope` and everything below it."""
    if len(reason.strip()) < MIN_REASON_LENGTH:
        raise ValueError(f"{rule}: an acknowledgement needs a real reason, got {reason!r}")
    Validations.of(scope).acknowledge(Acknowledgment(id=rule, reason=reason))


def acknowledge_wildcard_resource(scope: IConstruct, resource: str, reason: str) -> None:
    """Accept an IAM5 finding for one wildcard resource, named as cdk-nag renders it."""
    acknowledge(scope, f"AwsSolutions-IAM5[Resource::{flatten_reference(scope, resource)}]", reason)


def flatten_reference(scope: IConstruct, value: Any) -> str:
    """`value` (a token or a string) as cdk-nag prints it in a finding: Ref -> <Id>,
    GetAtt -> <Id.Attr>, joins joined. Only same-stack references render stably."""
    return _flatten(Stack.of(scope).resolve(value))


def _flatten(node: Any) -> str:
    if isinstance(node, str):
        return node.replace("${", "<").replace("}", ">")
    if isinstance(node, dict) and len(node) == 1:
        ((function, argument),) = node.items()
        if function == "Fn::Join":
            delimiter, items = argument
            return delimiter.join(_flatten(item) for item in items)
        if function == "Fn::GetAtt":
            return f"<{_flatten(argument[0])}.{_flatten(argument[1])}>"
        if function == "Ref":
            return f"<{_flatten(argument)}>"
        if function in ("Fn::Sub", "Fn::ImportValue"):
            return _flatten(argument)
    return json.dumps(node, separators=(",", ":"))
