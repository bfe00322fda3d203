"""What a deployment may vary, read from CDK context (cdk.json, `cdk -c key=value`).

Nothing here looks anything up in an AWS account: the app must synthesize offline and the same
template must deploy anywhere. That is why the availability zones come from context too: an
environment-agnostic stack only gets two placeholder zones, and Redshift Serverless needs three.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from constructs import Node

DEFAULT_REGION = "us-east-1"
DEFAULT_VPC_CIDR = "10.40.0.0/16"
# A tenth of the smallest paid budget (50,000 credits a day): hours of headroom at a normal pace.
DEFAULT_CREDITS_ALARM_BELOW = 5_000
CDK_JSON = Path(__file__).resolve().parent.parent / "cdk.json"


class ZohoEgress(StrEnum):
    """How workloads that call Zoho reach the internet.

    `nat` (the default) adds public subnets with one NAT gateway per zone: Dagster and the
    onboarding functions, which must reach Zoho, run in private subnets routed through them. `none`
    is the locked-down variant: private isolated subnets only, no NAT and no internet gateway;
    Zoho must then be reached through an egress path the operator provides (an HTTPS proxy over a
    peering or Transit Gateway attachment), and the onboarding functions stay outside the VPC.
    """

    NONE = "none"
    NAT = "nat"


@dataclass(frozen=True)
class DeploymentConfig:
    account: str | None
    region: str
    availability_zones: tuple[str, str, str]
    vpc_cidr: str
    zoho_egress: ZohoEgress
    alarm_email: str | None
    zoho_dc: str
    bedrock_model_id: str | None = None  # lead scoring by a Bedrock model; None keeps the rules
    zoho_watch_channel_id: str | None = None  # the Notification API channel Dagster keeps enabled
    zoho_watch_events: str | None = None  # e.g. Leads.all,Deals.edit; None: every synced CRM module
    zoho_watch_channel_ttl_hours: str | None = None
    zoho_https_proxy: str | None = None  # with zoho_egress=none: the proxy Dagster reaches Zoho through
    zoho_credits_alarm_below: int = DEFAULT_CREDITS_ALARM_BELOW  # remaining Zoho API credits that page

    @classmethod
    def from_context(cls, node: Node) -> DeploymentConfig:
        """The configuration `cdk -c` / cdk.json give, with defaults that synthesize anywhere."""
        region = _text(node, "region") or DEFAULT_REGION
        zones = node.try_get_context("availability_zones")
        if isinstance(zones, str):
            zones = [zone.strip() for zone in zones.split(",") if zone.strip()]
        zones = zones or [f"{region}{letter}" for letter in "abc"]
        if len(zones) != 3 or len(set(zones)) != 3:
            raise ValueError(f"availability_zones must name three distinct zones, got {zones!r}")
        cidr = _text(node, "vpc_cidr") or DEFAULT_VPC_CIDR
        network = ipaddress.ip_network(cidr)  # raises on a malformed CIDR
        if network.prefixlen > 18:
            raise ValueError(f"vpc_cidr {cidr} is too small for three /20 subnets per tier")
        return cls(
            account=_text(node, "account"),
            region=region,
            availability_zones=(zones[0], zones[1], zones[2]),
            vpc_cidr=cidr,
            zoho_egress=ZohoEgress(_text(node, "zoho_egress") or ZohoEgress.NAT),
            alarm_email=_text(node, "alarm_email"),
            zoho_dc=_text(node, "zoho_dc") or "com",
            bedrock_model_id=_text(node, "bedrock_model_id"),
            zoho_watch_channel_id=_channel_id(_text(node, "zoho_watch_channel_id")),
            zoho_watch_events=_text(node, "zoho_watch_events"),
            zoho_watch_channel_ttl_hours=_text(node, "zoho_watch_channel_ttl_hours"),
            zoho_https_proxy=_text(node, "zoho_https_proxy"),
            zoho_credits_alarm_below=int(
                _text(node, "zoho_credits_alarm_below") or DEFAULT_CREDITS_ALARM_BELOW
            ),
        )


def cdk_json_context(path: Path = CDK_JSON) -> dict[str, Any]:
    """cdk.json's context. The CDK CLI passes it to the app; `python app.py` run directly has to
    read it itself, or it would synthesize with none of the project's feature flags."""
    return dict(json.loads(path.read_text(encoding="utf-8")).get("context", {}))


def _channel_id(value: str | None) -> str | None:
    """Zoho channel ids are numbers the client chooses; fail the synthesis, not the schedule."""
    if value is not None and not value.isdigit():
        raise ValueError(f"zoho_watch_channel_id must be a number, got {value!r}")
    return value


def _text(node: Node, key: str) -> str | None:
    value = node.try_get_context(key)
    if value is None:
        return None
    text = str(value).strip()
    return text or None
