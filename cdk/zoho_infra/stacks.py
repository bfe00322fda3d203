"""The deployable units. Each stack is thin: it places constructs and exposes what others use.

Split by lifecycle: the network and the data outlive everything; the event path, the onboarding
workflow and Dagster change often and can be redeployed alone. Alarms live with what they watch;
only the alarm topic crosses stacks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import CfnOutput, Fn, Stack
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from constructs import Construct

from zoho_infra import assets
from zoho_infra.config import DeploymentConfig, ZohoEgress
from zoho_infra.credentials import ZohoCredentials
from zoho_infra.dagster import DagsterOnEcs
from zoho_infra.data import WAREHOUSE_IAM_ROLE_USER_PREFIX, DataLake, Warehouse, lake_bucket_name
from zoho_infra.events import EventRouting
from zoho_infra.ingress import WebhookIngress
from zoho_infra.network import PrivateNetwork
from zoho_infra.observability import AccessLogBucket, AlarmTopic, AuditTrail, alarm_when_zoho_credits_low
from zoho_infra.onboarding import OnboardingWorkflow
from zoho_infra.token_table import ZohoTokenTable
from zoho_pipelines.events.routing import Target


def zoho_environment(config: DeploymentConfig) -> dict[str, str]:
    """Settings the Zoho callers need besides their credentials (see the README's table)."""
    return {"ZOHO_DC": config.zoho_dc}


# AWS APIs (through the VPC endpoints), the task metadata and credentials endpoints: never proxied.
NO_PROXY = ".amazonaws.com,169.254.169.254,169.254.170.2,localhost,127.0.0.1"


def proxy_environment(config: DeploymentConfig) -> dict[str, str]:
    """The no-egress variant's way to Zoho: an HTTPS proxy the operator provides (httpx, which the
    Zoho client uses, reads HTTPS_PROXY; boto3 too, hence NO_PROXY for everything AWS)."""
    if config.zoho_egress is not ZohoEgress.NONE or not config.zoho_https_proxy:
        return {}
    return {"HTTPS_PROXY": config.zoho_https_proxy, "NO_PROXY": NO_PROXY}


def watch_environment(config: DeploymentConfig, notify_url: str) -> dict[str, str]:
    """The Notification API channel Dagster's schedule keeps enabled, pointed at the ingress."""
    environment = {"ZOHO_WATCH_NOTIFY_URL": notify_url}
    optional = {
        "ZOHO_WATCH_CHANNEL_ID": config.zoho_watch_channel_id,
        "ZOHO_WATCH_EVENTS": config.zoho_watch_events,
        "ZOHO_WATCH_CHANNEL_TTL_HOURS": config.zoho_watch_channel_ttl_hours,
    }
    environment.update({name: value for name, value in optional.items() if value})
    return environment


class ObservabilityStack(Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: DeploymentConfig, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.alarms = AlarmTopic(self, "Alarms", email=config.alarm_email)
        alarm_when_zoho_credits_low(self, topic=self.alarms.topic, below=config.zoho_credits_alarm_below)
        self.access_logs = AccessLogBucket(self, "AccessLogs")
        # The lake by its derivable name: the data stack depends on this one, not the reverse.
        lake = s3.Bucket.from_bucket_name(self, "Lake", lake_bucket_name(self))
        self.audit = AuditTrail(self, "Audit", access_logs=self.access_logs.bucket, audited_buckets=[lake])
        CfnOutput(self, "AlarmTopicArn", value=self.alarms.topic.topic_arn)


class NetworkStack(Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: DeploymentConfig, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.network = PrivateNetwork(self, "Network", config=config)


class DataStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        network: PrivateNetwork,
        observability: ObservabilityStack,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.lake = DataLake(self, "Lake", access_logs=observability.access_logs.bucket)
        self.warehouse = Warehouse(
            self, "Warehouse", vpc=network.vpc, subnets=network.isolated_subnets, lake=self.lake
        )
        self.zoho_credentials = ZohoCredentials(self, "ZohoCredentials")
        self.zoho_tokens = ZohoTokenTable(self, "ZohoTokens", key=self.lake.key)
        CfnOutput(self, "LakeBucketName", value=self.lake.bucket.bucket_name)
        CfnOutput(self, "WarehouseEndpoint", value=self.warehouse.endpoint_address)
        CfnOutput(self, "ZohoCredentialsSecretArn", value=self.zoho_credentials.secret.secret_arn)
        CfnOutput(self, "ZohoTokenTableName", value=self.zoho_tokens.table.table_name)


class OnboardingStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeploymentConfig,
        network: PrivateNetwork,
        data: DataStack,
        topic: sns.ITopic,
        bundle_dir: Path,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        runtime, architecture = assets.onboarding_runtime()
        # In the VPC only where its private subnets reach Zoho (see zoho_infra.onboarding).
        in_vpc = config.zoho_egress is ZohoEgress.NAT
        self.workflow = OnboardingWorkflow(
            self,
            "Workflow",
            code=lambda_.Code.from_asset(str(assets.stage_onboarding(bundle_dir / "onboarding"))),
            runtime=runtime,
            architecture=architecture,
            zoho_credentials=data.zoho_credentials.secret,
            zoho_tokens=data.zoho_tokens,
            zoho_environment=zoho_environment(config),
            topic=topic,
            lake_key=data.lake.key,
            bedrock_model_id=config.bedrock_model_id,
            vpc=network.vpc if in_vpc else None,
            subnets=network.workload_subnets if in_vpc else None,
        )
        CfnOutput(self, "StateMachineArn", value=self.workflow.state_machine.state_machine_arn)
        CfnOutput(self, "ApprovalQueueUrl", value=self.workflow.approvals.queue.queue_url)


class EventsStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        onboarding: OnboardingStack,
        topic: sns.ITopic,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.routing = EventRouting(
            self,
            "Routing",
            topic=topic,
            state_machines={Target.ONBOARDING: onboarding.workflow.state_machine},
        )
        CfnOutput(self, "EventBusName", value=self.routing.bus.event_bus_name)


class IngressStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        network: PrivateNetwork,
        events: EventsStack,
        topic: sns.ITopic,
        bundle_dir: Path,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.ingress = WebhookIngress(
            self,
            "Webhooks",
            code=lambda_.Code.from_asset(str(assets.stage_ingress(bundle_dir / "ingress"))),
            vpc=network.vpc,
            subnets=network.isolated_subnets,
            bus=events.routing.bus,
            topic=topic,
        )
        CfnOutput(self, "WebhookUrl", value=self.ingress.url)
        CfnOutput(self, "WebhookSecretArn", value=self.ingress.webhook_secret.secret_arn)
        CfnOutput(self, "ChannelTokensSecretArn", value=self.ingress.channel_tokens_secret.secret_arn)


class DagsterStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeploymentConfig,
        network: PrivateNetwork,
        data: DataStack,
        events: EventsStack,
        ingress: IngressStack,
        image: ecs.ContainerImage,
        topic: sns.ITopic,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.dagster = DagsterOnEcs(
            self,
            "Dagster",
            vpc=network.vpc,
            subnets=network.workload_subnets,
            image=image,
            vpc_cidr=config.vpc_cidr,
            lake_key=data.lake.key,
            warehouse_security_group_id=data.warehouse.security_group.security_group_id,
            warehouse_endpoint=data.warehouse.endpoint_address,
            warehouse_workgroup=data.warehouse.workgroup.workgroup_name,
            warehouse_copy_role_arn=data.warehouse.copy_role.role_arn,
            zoho_credentials=data.zoho_credentials.secret,
            zoho_tokens=data.zoho_tokens,
            event_queues={str(target): queue.queue for target, queue in events.routing.queues.items()},
            event_dead_letter_queues={
                str(target): queue.dead_letter_queue for target, queue in events.routing.queues.items()
            },
            event_bus_name=events.routing.bus.event_bus_name,
            zoho_environment={**zoho_environment(config), **proxy_environment(config)},
            channel_tokens=ingress.ingress.channel_tokens_secret,
            watch_environment=watch_environment(config, ingress.ingress.url),
            bedrock_model_id=config.bedrock_model_id,
            topic=topic,
        )
        CfnOutput(self, "ClusterName", value=self.dagster.cluster.cluster_name)
        # For the Dagster UI's port forwarding (deploy/README.md).
        CfnOutput(self, "WebserverServiceName", value=self.dagster.webserver.service_name)
        # The database user Redshift maps the run tasks' role to (GetCredentials): the user the
        # deploy guide's one-time grant names.
        CfnOutput(
            self,
            "WarehouseUser",
            value=Fn.join("", [WAREHOUSE_IAM_ROLE_USER_PREFIX, self.dagster.task_role.role_name]),
        )
