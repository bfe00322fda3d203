"""The public door for Zoho's webhooks: HTTP API `POST /zoho-events` -> the ingress Lambda.

The route has no API Gateway authorizer on purpose: Zoho's workflow webhooks and Notification API
channels cannot sign requests with IAM or present a JWT. The function authenticates every request
itself (a shared secret in `X-Zoho-Secret`, or the channel token), comparing in constant time; the
secrets live in Secrets Manager and are re-read after a TTL, so rotation needs no deploy.
Throttling at the stage caps what an unauthenticated flood can cost.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_events as events
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from constructs import Construct

from zoho_infra.assets import INGRESS_HANDLER
from zoho_infra.nag import acknowledge
from zoho_infra.observability import alarm_when, count_log_matches

ROUTE_PATH = "/zoho-events"
THROTTLE_RATE_PER_S = 50
THROTTLE_BURST = 100
REJECTED_SPIKE = 50  # 401s in 5 minutes: a rotated secret Zoho was not given, or someone probing
SECRET_TTL_S = 300
ACCESS_LOG_FORMAT = (
    '{"requestId":"$context.requestId","ip":"$context.identity.sourceIp",'
    '"requestTime":"$context.requestTime","method":"$context.httpMethod","path":"$context.path",'
    '"status":"$context.status","responseLength":"$context.responseLength",'
    '"latencyMs":"$context.responseLatency","integrationStatus":"$context.integrationStatus",'
    '"integrationError":"$context.integrationErrorMessage"}'
)


class WebhookIngress(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        code: lambda_.Code,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        bus: events.IEventBus,
        topic: sns.ITopic,
    ) -> None:
        super().__init__(scope, construct_id)
        self.webhook_secret = self._accepted_values_secret(
            "WebhookSecret",
            description="Accepted X-Zoho-Secret values (every string value of this JSON object)",
            why_not_rotated=(
                "Rotating this secret means changing Zoho's webhook configuration too, which Secrets "
                "Manager cannot do; rotation is the documented manual overlap (add a second key, switch "
                "Zoho, remove the old key) that the handler supports by accepting every value in the object."
            ),
        )
        # Notification API channels echo a token instead of sending a header. Dagster gives Zoho the
        # "current" value when it renews the channel; the function accepts every value (rotation).
        self.channel_tokens_secret = self._accepted_values_secret(
            "ChannelTokensSecret",
            description="Notification API channel tokens (JSON): Dagster sends 'current', all are accepted",
            why_not_rotated=(
                "A new channel token must reach Zoho through a channel renewal by Dagster, which Secrets "
                "Manager cannot trigger; rotation is the documented manual overlap (deploy/README.md)."
            ),
        )

        security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=vpc,
            description="Ingress function: HTTPS to the VPC endpoints only",
            allow_all_outbound=False,
        )
        security_group.add_egress_rule(
            ec2.Peer.ipv4(vpc.vpc_cidr_block), ec2.Port.tcp(443), "AWS APIs via interface endpoints"
        )
        log_group = logs.LogGroup(
            self, "Logs", retention=logs.RetentionDays.THREE_MONTHS, removal_policy=RemovalPolicy.DESTROY
        )
        self.function = lambda_.Function(
            self,
            "Function",
            description="Authenticates and normalises Zoho webhooks, publishes them to the event bus",
            # Standard library and boto3 only, so it can always run on the newest runtime.
            runtime=lambda_.Runtime.PYTHON_3_14,
            handler=INGRESS_HANDLER,
            code=code,
            memory_size=256,
            timeout=Duration.seconds(10),
            vpc=vpc,
            vpc_subnets=subnets,
            security_groups=[security_group],
            tracing=lambda_.Tracing.ACTIVE,
            log_group=log_group,
            environment={
                "EVENT_BUS_NAME": bus.event_bus_name,
                "ZOHO_WEBHOOK_SECRETS_SECRET_ID": self.webhook_secret.secret_arn,
                "ZOHO_WEBHOOK_SECRETS_TTL_SECONDS": str(SECRET_TTL_S),
                "ZOHO_CHANNEL_TOKENS_SECRET_ID": self.channel_tokens_secret.secret_arn,
            },
        )
        self.webhook_secret.grant_read(self.function)
        self.channel_tokens_secret.grant_read(self.function)
        bus.grant_put_events_to(self.function)
        acknowledge_lambda_service_role(self.function, in_vpc=True)

        self.api = apigwv2.HttpApi(
            self,
            "Api",
            description="Zoho webhooks and Notification API deliveries",
            create_default_stage=False,
        )
        self.api.add_routes(
            path=ROUTE_PATH,
            methods=[apigwv2.HttpMethod.POST],
            integration=integrations.HttpLambdaIntegration("Ingress", self.function),
        )
        access_logs = logs.LogGroup(
            self, "AccessLogs", retention=logs.RetentionDays.ONE_YEAR, removal_policy=RemovalPolicy.RETAIN
        )
        self.stage = apigwv2.HttpStage(
            self,
            "Stage",
            http_api=self.api,
            stage_name="$default",
            auto_deploy=True,
            throttle=apigwv2.ThrottleSettings(rate_limit=THROTTLE_RATE_PER_S, burst_limit=THROTTLE_BURST),
        )
        cfn_stage = self.stage.node.default_child
        assert isinstance(cfn_stage, apigwv2.CfnStage)
        cfn_stage.access_log_settings = apigwv2.CfnStage.AccessLogSettingsProperty(
            destination_arn=access_logs.log_group_arn, format=ACCESS_LOG_FORMAT
        )
        acknowledge(
            self.api,
            "AwsSolutions-APIG4",
            "Zoho webhooks cannot sign with IAM or send a JWT; the function authenticates every request "
            "by a shared secret or channel token in constant time before anything is published.",
        )

        alarm_when(
            self,
            "FunctionErrors",
            metric=self.function.metric_errors(period=Duration.minutes(5), statistic="Sum"),
            topic=topic,
            description="The webhook ingress function failed (Zoho will retry; events may be delayed).",
        )
        alarm_when(
            self,
            "RejectedWebhooks",
            metric=count_log_matches(
                self,
                "RejectedWebhooksFilter",
                log_group=access_logs,
                pattern=logs.FilterPattern.string_value("$.status", "=", "401"),
                metric_name="RejectedWebhooks",
            ),
            topic=topic,
            threshold=REJECTED_SPIKE,
            description="Many webhooks were rejected (401): check the webhook secret and channel tokens "
            "Zoho sends against the secrets (a rotation half done?), or a flood of forged requests.",
        )
        alarm_when(
            self,
            "Api5xx",
            metric=self.api.metric_server_error(period=Duration.minutes(5), statistic="Sum"),
            topic=topic,
            description="The webhook API answered 5xx (bus or secret store unavailable, or a crash).",
        )

    @property
    def url(self) -> str:
        return f"{self.api.api_endpoint}{ROUTE_PATH}"

    def _accepted_values_secret(
        self, construct_id: str, *, description: str, why_not_rotated: str
    ) -> secretsmanager.Secret:
        """A JSON object of accepted values, generated with one under "current"; every value is
        accepted, so rotation is an overlap the operator runs, not Secrets Manager's rotation."""
        secret = secretsmanager.Secret(
            self,
            construct_id,
            description=description,
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template="{}",  # noqa: S106 (an empty JSON object, not a password)
                generate_string_key="current",
                exclude_punctuation=True,
                password_length=48,
            ),
        )
        acknowledge(secret, "AwsSolutions-SMG4", why_not_rotated)
        return secret


def acknowledge_lambda_service_role(function: lambda_.Function, *, in_vpc: bool) -> None:
    """The AWS managed policies CDK attaches to a function's role: narrow and maintained by AWS."""
    assert function.role is not None
    acknowledge(
        function.role,
        "AwsSolutions-IAM5[Resource::*]",
        "X-Ray's PutTraceSegments and PutTelemetryRecords (active tracing) support no resource-level "
        "permissions.",
    )
    acknowledge(
        function.role,
        "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
        "AWS's managed policy grants only creating log streams and writing events; AWS keeps it "
        "current for the Lambda service.",
    )
    if in_vpc:
        acknowledge(
            function.role,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]",
            "Required for a function in a VPC to manage its network interfaces; AWS keeps the managed "
            "policy current.",
        )
