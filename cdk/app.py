#!/usr/bin/env python3
"""The zoho-pipelines CDK app: every AWS part of the product, composed from one stack per layer.

    JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 .venv/bin/python cdk/app.py    # synth, offline
    cd cdk && cdk deploy --all -c account=123456789012 -c region=eu-west-1 \
        -c availability_zones=eu-west-1a,eu-west-1b,eu-west-1c

Run directly, the app reads cdk.json's context itself and writes the cloud assembly to cdk/cdk.out.
AWS Solutions checks (cdk-nag) run on every synthesis: an unacknowledged finding fails it.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
for path in (HERE, HERE.parent):  # zoho_infra, and the zoho_pipelines package it packages
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

try:
    import aws_cdk as cdk
except ModuleNotFoundError:  # the runtime install has no CDK: say how to get it, in one line
    sys.exit("cdk/app.py needs the cdk extra: run scripts/install cdk, then .venv/bin/python cdk/app.py")
from aws_cdk import aws_ecs as ecs  # noqa: E402
from cdk_nag import AwsSolutionsChecks  # noqa: E402
from zoho_infra.config import DeploymentConfig, cdk_json_context  # noqa: E402
from zoho_infra.dagster import code_location_image  # noqa: E402
from zoho_infra.stacks import (  # noqa: E402
    DagsterStack,
    DataStack,
    EventsStack,
    IngressStack,
    NetworkStack,
    ObservabilityStack,
    OnboardingStack,
)

STACK_PREFIX = "ZohoPipelines"


@dataclass(frozen=True)
class Stacks:
    observability: ObservabilityStack
    network: NetworkStack
    data: DataStack
    onboarding: OnboardingStack
    events: EventsStack
    ingress: IngressStack
    dagster: DagsterStack

    def all(self) -> list[cdk.Stack]:
        return [
            self.observability,
            self.network,
            self.data,
            self.onboarding,
            self.events,
            self.ingress,
            self.dagster,
        ]


def compose(app: cdk.App, *, dagster_image: ecs.ContainerImage | None = None) -> Stacks:
    """Place every stack in `app`; `dagster_image` defaults to building deploy/Dockerfile."""
    config = DeploymentConfig.from_context(app.node)
    env = cdk.Environment(account=config.account, region=config.region)
    bundle_dir = Path(app.outdir) / "bundles"
    common = {"env": env}

    observability = ObservabilityStack(app, f"{STACK_PREFIX}Observability", config=config, **common)
    topic = observability.alarms.topic
    network = NetworkStack(app, f"{STACK_PREFIX}Network", config=config, **common)
    data = DataStack(
        app, f"{STACK_PREFIX}Data", network=network.network, observability=observability, **common
    )
    onboarding = OnboardingStack(
        app,
        f"{STACK_PREFIX}Onboarding",
        config=config,
        network=network.network,
        data=data,
        topic=topic,
        bundle_dir=bundle_dir,
        **common,
    )
    events = EventsStack(app, f"{STACK_PREFIX}Events", onboarding=onboarding, topic=topic, **common)
    ingress = IngressStack(
        app,
        f"{STACK_PREFIX}Ingress",
        network=network.network,
        events=events,
        topic=topic,
        bundle_dir=bundle_dir,
        **common,
    )
    dagster = DagsterStack(
        app,
        f"{STACK_PREFIX}Dagster",
        config=config,
        network=network.network,
        data=data,
        events=events,
        ingress=ingress,
        image=dagster_image or code_location_image(),
        topic=topic,
        **common,
    )
    stacks = Stacks(observability, network, data, onboarding, events, ingress, dagster)
    for stack in stacks.all():
        cdk.Tags.of(stack).add("project", "zoho-pipelines")
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return stacks


def main() -> None:
    outdir = None if os.environ.get("CDK_OUTDIR") else str(HERE / "cdk.out")
    app = cdk.App(context=cdk_json_context(), outdir=outdir)
    compose(app)
    app.synth()


if __name__ == "__main__":
    main()
