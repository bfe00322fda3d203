"""The deal onboarding workflow: a Step Functions state machine over five task Lambdas.

    QualifyDealData -> CheckDealValue
        amount > 50,000 -> RequireDirectorApproval (SQS message with a task token; the director's
                           tool answers SendTaskSuccess, or SendTaskFailure to reject; times out)
    -> CreateZohoProject (retries ZohoAPIError: 30 s, 3 attempts, backoff 2)
    -> SetupBilling -> AIEnrichment -> SendWelcomeSequence -> Onboarded

Every task state retries ZohoAPIError with that same policy, not only CreateZohoProject: every
handler is idempotent (it looks for its own result before writing), and a Zoho rate limit during
billing should not fail an onboarding a director has already approved. Any failure left is
caught, published to the alarm topic with the execution id, and ends the run in
`OnboardingFailed`. The handlers raise ZohoAPIError (exactly that name, which is what Step
Functions matches) only for failures worth retrying; see `zoho_pipelines.onboarding.handlers`.

The task functions talk only to Zoho (on the internet), to Secrets Manager and to the Zoho token
table. With the default NAT egress they run in the VPC's private subnets (Zoho through the NAT,
AWS through the endpoints); with `zoho_egress=none` the VPC has no internet path, so they run
outside it.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from zoho_infra.events import MonitoredQueue
from zoho_infra.ingress import acknowledge_lambda_service_role
from zoho_infra.nag import acknowledge, acknowledge_wildcard_resource
from zoho_infra.observability import (
    ZOHO_RATE_LIMIT_THRESHOLD,
    ZOHO_RATE_LIMITED_METRIC,
    ZOHO_RATE_LIMITED_PATTERN,
    alarm_when,
    count_log_matches,
)
from zoho_infra.token_table import ZohoTokenTable

APPROVAL_THRESHOLD = 50_000
APPROVAL_TIMEOUT = Duration.days(3)
RETRYABLE_ERROR = "ZohoAPIError"
RETRY_INTERVAL = Duration.seconds(30)
RETRY_MAX_ATTEMPTS = 3
RETRY_BACKOFF_RATE = 2
HANDLER_MODULE = "zoho_pipelines.onboarding.handlers"
TOKEN_MAX_WAIT_S = 20


@dataclass(frozen=True)
class TaskStep:
    state: str
    handler: str
    description: str
    result_path: str | None  # None: the step's result becomes the whole state


STEPS: tuple[TaskStep, ...] = (
    TaskStep(
        "QualifyDealData", "qualify_deal", "Reads the deal from CRM and checks it can be onboarded", None
    ),
    TaskStep(
        "CreateZohoProject",
        "create_project",
        "Creates (or finds) the deal's Zoho Projects project",
        "$.project",
    ),
    TaskStep(
        "SetupBilling", "setup_billing", "Creates (or finds) the Books customer and its billing", "$.billing"
    ),
    TaskStep(
        "AIEnrichment", "enrich", "Scores the account and writes the enrichment back to CRM", "$.enrichment"
    ),
    TaskStep("SendWelcomeSequence", "send_welcome", "Starts the welcome sequence in CRM", "$.welcome"),
)


class OnboardingWorkflow(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        code: lambda_.Code,
        runtime: lambda_.Runtime,
        architecture: lambda_.Architecture,
        zoho_credentials: secretsmanager.ISecret,
        zoho_tokens: ZohoTokenTable,
        zoho_environment: dict[str, str],
        topic: sns.ITopic,
        vpc: ec2.IVpc | None = None,
        subnets: ec2.SubnetSelection | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.functions: dict[str, lambda_.Function] = {}
        security_groups = None
        if vpc is not None:
            security_group = ec2.SecurityGroup(
                self,
                "SecurityGroup",
                vpc=vpc,
                description="Onboarding functions: HTTPS to Zoho (through the NAT) and the AWS endpoints",
                allow_all_outbound=False,
            )
            security_group.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "HTTPS: Zoho and AWS APIs")
            security_groups = [security_group]
        rate_limited: list[cloudwatch.IMetric] = []
        for step in STEPS:
            log_group = logs.LogGroup(
                self,
                f"{step.state}Logs",
                retention=logs.RetentionDays.THREE_MONTHS,
                removal_policy=RemovalPolicy.DESTROY,
            )
            rate_limited.append(
                count_log_matches(
                    self,
                    f"{step.state}RateLimited",
                    log_group=log_group,
                    pattern=ZOHO_RATE_LIMITED_PATTERN,
                    metric_name=ZOHO_RATE_LIMITED_METRIC,
                )
            )
            function = lambda_.Function(
                self,
                f"{step.state}Function",
                description=step.description,
                runtime=runtime,
                architecture=architecture,
                handler=f"{HANDLER_MODULE}.{step.handler}",
                code=code,
                memory_size=512,
                timeout=Duration.seconds(60),
                vpc=vpc,
                vpc_subnets=subnets if vpc is not None else None,
                security_groups=security_groups,
                tracing=lambda_.Tracing.ACTIVE,
                log_group=log_group,
                environment={
                    "ZOHO_CREDENTIALS_SECRET_ID": zoho_credentials.secret_arn,
                    # One access token for every Lambda container and Dagster task (Zoho's mint limit).
                    **zoho_tokens.environment(),
                    # A task lives 60 s; rather than outwait a blocked mint window (up to 10 minutes),
                    # fail as ZohoAPIError and let the state machine's retrier come back later.
                    "ZOHO_TOKEN_MAX_WAIT_S": str(TOKEN_MAX_WAIT_S),
                    **zoho_environment,
                },
            )
            zoho_credentials.grant_read(function)
            zoho_tokens.grant(function)
            acknowledge_lambda_service_role(function, in_vpc=vpc is not None)
            acknowledge(
                function,
                "AwsSolutions-L1",
                "The bundle copies compiled wheels (pydantic-core, orjson) from the build interpreter, so "
                "the runtime must match its CPython version; raise both together.",
            )
            alarm_when(
                self,
                f"{step.state}Errors",
                metric=function.metric_errors(period=Duration.minutes(5), statistic="Sum"),
                topic=topic,
                description=f"The onboarding step {step.state} failed (retries may still succeed).",
            )
            self.functions[step.state] = function

        alarm_when(
            self,
            "ZohoRateLimited",
            # Every filter feeds the same metric (namespace and name), so one of them stands for all.
            metric=rate_limited[0],
            topic=topic,
            threshold=ZOHO_RATE_LIMIT_THRESHOLD,
            description="Zoho answered 429 to the onboarding steps many times: the org's API "
            "concurrency or credits are exhausted (check Dagster's load and Zoho's credit usage).",
        )

        self.approvals = MonitoredQueue(
            self,
            "Approvals",
            name="zoho-onboarding-approvals",
            topic=topic,
            visibility_timeout=Duration.minutes(15),
        )
        log_group = logs.LogGroup(
            self,
            "StateMachineLogs",
            retention=logs.RetentionDays.ONE_YEAR,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_name="zoho-deal-onboarding",
            definition_body=sfn.DefinitionBody.from_chainable(self._definition(topic)),
            tracing_enabled=True,
            timeout=Duration.days(7),
            logs=sfn.LogOptions(
                destination=log_group,
                level=sfn.LogLevel.ALL,
                # Execution data holds customer names and amounts: keep it out of the logs.
                include_execution_data=False,
            ),
        )
        assert self.state_machine.role is not None
        for function in self.functions.values():
            acknowledge_wildcard_resource(
                self.state_machine.role,
                f"{function.function_arn}:*",
                "Generated by the Lambda task grant: invoking any version or alias of this one function.",
            )
        acknowledge(
            self.state_machine.role,
            "AwsSolutions-IAM5[Resource::*]",
            "X-Ray tracing and CloudWatch Logs delivery (logs:CreateLogDelivery and friends) support no "
            "resource-level permissions.",
        )
        alarm_when(
            self,
            "ExecutionsFailed",
            metric=self.state_machine.metric_failed(period=Duration.minutes(5), statistic="Sum"),
            topic=topic,
            description="A deal onboarding execution failed; its failure report went to this topic too.",
        )
        alarm_when(
            self,
            "ExecutionsTimedOut",
            metric=self.state_machine.metric_timed_out(period=Duration.minutes(5), statistic="Sum"),
            topic=topic,
            description="A deal onboarding execution timed out.",
        )

    def _task(self, step: TaskStep) -> tasks.LambdaInvoke:
        return tasks.LambdaInvoke(
            self,
            step.state,
            lambda_function=self.functions[step.state],
            payload_response_only=True,
            result_path=step.result_path,
        )

    def _definition(self, topic: sns.ITopic) -> sfn.IChainable:
        report = tasks.SnsPublish(
            self,
            "ReportFailure",
            topic=topic,
            subject="Deal onboarding failed",
            message=sfn.TaskInput.from_object(
                {
                    "execution": sfn.JsonPath.execution_id,
                    "error": sfn.JsonPath.string_at("$.failure.Error"),
                    "cause": sfn.JsonPath.string_at("$.failure.Cause"),
                }
            ),
            result_path=sfn.JsonPath.DISCARD,
        ).next(sfn.Fail(self, "OnboardingFailed", error="OnboardingFailed", cause="See the failure report"))

        steps = {step.state: self._task(step) for step in STEPS}
        for task in steps.values():
            task.add_retry(
                errors=[RETRYABLE_ERROR],
                interval=RETRY_INTERVAL,
                max_attempts=RETRY_MAX_ATTEMPTS,
                backoff_rate=RETRY_BACKOFF_RATE,
            )
        approval = tasks.SqsSendMessage(
            self,
            "RequireDirectorApproval",
            queue=self.approvals.queue,
            integration_pattern=sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
            message_body=sfn.TaskInput.from_object(
                {
                    "taskToken": sfn.JsonPath.task_token,
                    "execution": sfn.JsonPath.execution_id,
                    "deal": sfn.JsonPath.object_at("$.deal"),
                }
            ),
            task_timeout=sfn.Timeout.duration(APPROVAL_TIMEOUT),
            result_path="$.approval",
        )
        for state in (*steps.values(), approval):
            state.add_catch(report, errors=[sfn.Errors.ALL], result_path="$.failure")

        after_qualification = (
            steps["CreateZohoProject"]
            .next(steps["SetupBilling"])
            .next(steps["AIEnrichment"])
            .next(steps["SendWelcomeSequence"])
            .next(sfn.Succeed(self, "Onboarded"))
        )
        check_value = (
            sfn.Choice(self, "CheckDealValue")
            .when(
                sfn.Condition.number_greater_than("$.deal.amount", APPROVAL_THRESHOLD),
                approval.next(after_qualification),
            )
            .otherwise(after_qualification)
        )
        return steps["QualifyDealData"].next(check_value)
