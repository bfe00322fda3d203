"""The private network every workload runs in.

Three zones. By default (`zoho_egress=nat`) the workloads that call Zoho (Dagster, the onboarding
functions) run in private subnets whose only way out is a NAT gateway per zone; the warehouse,
Dagster's database, the ingress function and the endpoints sit in private isolated subnets that
cannot reach or be reached from the internet. With `zoho_egress=none` there are only the isolated
subnets. Either way AWS services are reached through endpoints (S3 and DynamoDB through free gateway
endpoints on every private route table, the rest through interface endpoints), so lake and AWS API
traffic never crosses the NAT. Flow logs record every accepted and rejected connection.
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs
from constructs import Construct

from zoho_infra.config import DeploymentConfig, ZohoEgress

# What the ingress and onboarding functions, Dagster's services and its run tasks call.
INTERFACE_ENDPOINTS: dict[str, ec2.InterfaceVpcEndpointAwsService] = {
    "SecretsManager": ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
    "Sqs": ec2.InterfaceVpcEndpointAwsService.SQS,
    "EventBridge": ec2.InterfaceVpcEndpointAwsService.EVENTBRIDGE,
    "Sts": ec2.InterfaceVpcEndpointAwsService.STS,
    "CloudWatchLogs": ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
    "CloudWatchMonitoring": ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_MONITORING,
    "Kms": ec2.InterfaceVpcEndpointAwsService.KMS,
    "StepFunctions": ec2.InterfaceVpcEndpointAwsService.STEP_FUNCTIONS,
    "Ecr": ec2.InterfaceVpcEndpointAwsService.ECR,
    "EcrDocker": ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER,
    "Ecs": ec2.InterfaceVpcEndpointAwsService.ECS,
    "EcsAgent": ec2.InterfaceVpcEndpointAwsService.ECS_AGENT,
    "EcsTelemetry": ec2.InterfaceVpcEndpointAwsService.ECS_TELEMETRY,
    "XRay": ec2.InterfaceVpcEndpointAwsService.XRAY,
    "BedrockRuntime": ec2.InterfaceVpcEndpointAwsService.BEDROCK_RUNTIME,  # lead scoring (Converse)
    "SsmMessages": ec2.InterfaceVpcEndpointAwsService.SSM_MESSAGES,  # ECS Exec: the Dagster UI tunnel
    "RedshiftServerless": ec2.InterfaceVpcEndpointAwsService.REDSHIFT_SERVERLESS,  # GetCredentials
}
ISOLATED_SUBNETS = "isolated"
EGRESS_SUBNETS = "egress"


class PrivateNetwork(Construct):
    """The VPC, its endpoints and flow logs; `workload_subnets` is where compute goes."""

    def __init__(self, scope: Construct, construct_id: str, *, config: DeploymentConfig) -> None:
        super().__init__(scope, construct_id)
        subnets = [
            ec2.SubnetConfiguration(
                name=ISOLATED_SUBNETS, subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=20
            )
        ]
        nat_gateways = 0
        if config.zoho_egress is ZohoEgress.NAT:
            subnets += [
                ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24),
                ec2.SubnetConfiguration(
                    name=EGRESS_SUBNETS, subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=20
                ),
            ]
            nat_gateways = len(config.availability_zones)
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr(config.vpc_cidr),
            availability_zones=list(config.availability_zones),
            subnet_configuration=subnets,
            nat_gateways=nat_gateways,
            restrict_default_security_group=True,
        )
        self.isolated_subnets = ec2.SubnetSelection(subnet_group_name=ISOLATED_SUBNETS)
        # Workloads that call Zoho sit where they can reach it when the deployment allows egress.
        self.workload_subnets = (
            ec2.SubnetSelection(subnet_group_name=EGRESS_SUBNETS)
            if config.zoho_egress is ZohoEgress.NAT
            else self.isolated_subnets
        )

        flow_log_group = logs.LogGroup(
            self, "FlowLogs", retention=logs.RetentionDays.ONE_YEAR, removal_policy=RemovalPolicy.RETAIN
        )
        self.vpc.add_flow_log(
            "AllTraffic",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_log_group),
            traffic_type=ec2.FlowLogTrafficType.ALL,
        )

        # Every private route table: lake traffic (Dagster runs, Redshift COPY) and the Zoho token
        # table (read on every Zoho call) must not pay for, or depend on, the NAT.
        private_subnets = [self.isolated_subnets]
        if self.workload_subnets is not self.isolated_subnets:
            private_subnets.append(self.workload_subnets)
        self.vpc.add_gateway_endpoint(
            "S3", service=ec2.GatewayVpcEndpointAwsService.S3, subnets=private_subnets
        )
        self.vpc.add_gateway_endpoint(
            "DynamoDb", service=ec2.GatewayVpcEndpointAwsService.DYNAMODB, subnets=private_subnets
        )
        self.endpoint_security_group = ec2.SecurityGroup(
            self,
            "EndpointSecurityGroup",
            vpc=self.vpc,
            description="HTTPS from inside the VPC to the interface endpoints",
            allow_all_outbound=False,
        )
        self.endpoint_security_group.add_ingress_rule(
            ec2.Peer.ipv4(config.vpc_cidr), ec2.Port.tcp(443), "HTTPS from the VPC"
        )
        for name, service in INTERFACE_ENDPOINTS.items():
            self.vpc.add_interface_endpoint(
                name,
                service=service,
                subnets=self.isolated_subnets,
                security_groups=[self.endpoint_security_group],
                private_dns_enabled=True,
                open=False,  # the security group above already admits the VPC, by its literal CIDR
            )
