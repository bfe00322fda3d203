"""The deal onboarding workflow: a Step Functions state machine over five task Lambdas.

    QualifyDealData -> CheckDealValue
        amount > 50,000 -> RequireDirectorApproval (SQS message with a task token; the director's
                           tool answers SendTaskSuccess, or SendTaskFailure to reject; times out)
    -> CreateZohoProject (retries ZohoAPIError: 30 s, 3 attempts, backoff 2)
    -> SetupBilling -> AIEnrichment (also retries ModelThrottled: 20 s, 5 attempts, backoff 2)
    -> SendWelcomeSequence -> Onboarded

Every task state retries ZohoAPIError with that same policy, not only CreateZohoProject: every
handler is idempotent (it looks for its own result before writing), and a Zoho rate limit during
billing should not fail an onboarding a director has already approved. Any failure left is
caught, published to the alarm topic with the execution id, and ends the run in
`OnboardingFailed`. The handlers raise ZohoAPIError (exactly that name, which is what Step
Functions matches) only for failures worth retrying; see `zoho_pipelines.onboarding.handlers`.

The task functions talk only to Zoho (on the internet), to Secrets Manager and to the Zoho token
table; AIEnrichment also writes its results to the lake (`zoho/zoho/ai/enrichments/`, under the lake
key) and, when `bedrock_model_id` is set, calls that one model on Bedrock (InvokeModel, through
the bedrock-runtime endpoint in the VPC). With the default NAT egress they run in the VPC's
private subnets (Zoho through the NAT, AWS through the endpoints); with `zoho_egress=none` the
VPC has no internet path, so they run outside it.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from zoho_infra.dagster import INFERENCE_PROFILE_PREFIXES, bedrock_model_arns
from zoho_infra.data import LAKE_PREFIX, lake_bucket_name
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
from zoho_pipelines.ai.store import PREFIX as ENRICHMENT_STORE_PREFIX

APPROVAL_THRESHOLD = 50_000
APPROVAL_TIMEOUT = Duration.days(3)
RETRYABLE_ERROR = "ZohoAPIError"
RETRY_INTERVAL = Duration.seconds(30)
RETRY_MAX_ATTEMPTS = 3
RETRY_BACKOFF_RATE = 2
HANDLER_MODULE = "zoho_pipelines.onboarding.handlers"
# Bedrock said "not now" (zoho_pipelines.ai.errors): back off longer than for Zoho, the quota
# refills per minute.
MODEL_THROTTLED_ERROR = "ModelThrottled"
MODEL_RETRY_INTERVAL = Duration.seconds(20)
MODEL_RETRY_MAX_ATTEMPTS = 5
ENRICHMENT_STATE = "AIEnrichment"
# The Lambda's LAKE_URL ends in LAKE_PREFIX (as the run tasks'), and the store keys its objects
# below that with its own PREFIX, as the lake keys its partitions: zoho/zoho/ai/enrichments/.
ENRICHMENT_PREFIX = f"{LAKE_PREFIX}{ENRICHMENT_STORE_PREFIX}/"
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
        ENRICHMENT_STATE,
        "enrich",
        "Enriches the deal (Claude or rules), keeps it in the lake, writes it back to CRM",
        "$.enrichment",
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
        lake_key: kms.IKey,
        bedrock_model_id: str | None = None,
        vpc: ec2.IVpc | None = None,
        subnets: ec2.SubnetSelection | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        lake_bucket = lake_bucket_name(self)
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
                    **(
                        _enrichment_environment(lake_bucket, lake_key, bedrock_model_id)
                        if step.state == ENRICHMENT_STATE
                        else {}
                    ),
                },
            )
            if step.state == ENRICHMENT_STATE:
                _grant_enrichment(function, lake_bucket, lake_key, bedrock_model_id)
            zoho_credentials.grant_read(function)
            zoho_tokens.grant(function)
            acknowledge_lambda_service_role(function, in_vpc=vpc is not None)
            acknowledge(
                function,
                "AwsSolutions-L1",
                "The bundle carries compiled wheels (pydantic-core, orjson) built for python3.13; the "
                "runtime moves with zoho_infra.lambda_dependencies.TARGET, both together.",
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
        steps[ENRICHMENT_STATE].add_retry(
            errors=[MODEL_THROTTLED_ERROR],
            interval=MODEL_RETRY_INTERVAL,
            max_attempts=MODEL_RETRY_MAX_ATTEMPTS,
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


def _enrichment_environment(lake_bucket: str, lake_key: kms.IKey, model_id: str | None) -> dict[str, str]:
    """Where AIEnrichment keeps its results and which model it asks (none: the rules)."""
    return {
        "LAKE_URL": f"s3://{lake_bucket}/{LAKE_PREFIX.rstrip('/')}",
        "LAKE_KMS_KEY_ID": lake_key.key_arn,
        **({"BEDROCK_MODEL_ID": model_id} if model_id else {}),
    }


def _grant_enrichment(
    function: lambda_.Function, lake_bucket: str, lake_key: kms.IKey, model_id: str | None
) -> None:
    """Read and create its own lake objects (ListBucket on its prefix only, so that a missing object
    reads as missing rather than as access denied) under the lake key, used only through S3, and
    invoke the one configured model."""
    stack = Stack.of(function)
    bucket_arn = stack.format_arn(service="s3", region="", account="", resource=lake_bucket)
    objects = f"{bucket_arn}/{ENRICHMENT_PREFIX}*"
    function.add_to_role_policy(
        iam.PolicyStatement(actions=["s3:GetObject", "s3:PutObject"], resources=[objects])
    )
    function.add_to_role_policy(
        iam.PolicyStatement(
            actions=["s3:ListBucket"],
            resources=[bucket_arn],
            conditions={"StringLike": {"s3:prefix": [f"{ENRICHMENT_PREFIX}*"]}},
        )
    )
    function.add_to_role_policy(
        iam.PolicyStatement(
            actions=["kms:Decrypt", "kms:GenerateDataKey"],
            resources=[lake_key.key_arn],
            conditions={"StringEquals": {"kms:ViaService": f"s3.{stack.region}.amazonaws.com"}},
        )
    )
    assert function.role is not None
    acknowledge_wildcard_resource(
        function.role,
        objects,
        "One object per enrichment, named by its input digest, under its own prefix only.",
    )
    if not model_id:
        return
    arns = bedrock_model_arns(stack, model_id)
    function.add_to_role_policy(iam.PolicyStatement(actions=["bedrock:InvokeModel"], resources=arns))
    if model_id.startswith(INFERENCE_PROFILE_PREFIXES):
        acknowledge_wildcard_resource(
            function.role,
            arns[1],
            "An inference profile routes each request to its model in one of several regions; "
            "the grant names that one model, in any region.",
        )
