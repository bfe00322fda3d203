"""The deployment contract: what each deployed process reads and calls, as data.

One entry per process AWS runs (the ingress Lambda, each onboarding Lambda, Dagster's webserver,
daemon and run tasks). Two kinds of test hold it to account (zoho_pipelines_tests/cdk/
test_contract_*.py): the code must read and call nothing outside its entry, and the synthesized
templates must give each process every variable and permission its entry names. A setting the
code reads but a deployment should leave at its default is listed under `defaults`, so adding a
setting to the code fails the tests until someone decides, per process, how it is deployed.

Resources are named by a regular expression the IAM statement's rendered `Resource` must match
(a logical id fragment survives cross-stack imports; physical names are used where they are fixed).
`only_with` names the CDK context key a grant depends on (Bedrock is off unless a model is chosen).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Grant:
    """Actions a process calls on one resource."""

    actions: tuple[str, ...]
    resource: str  # regular expression searched in the statement's rendered Resource
    only_with: str | None = None  # CDK context key that must be set for this grant to exist


@dataclass(frozen=True)
class Process:
    """One deployed process: the variables it is given, those it leaves at defaults, its grants."""

    name: str
    environment: frozenset[str]
    secrets: frozenset[str] = frozenset()  # injected from Secrets Manager (ECS `secrets`)
    defaults: frozenset[str] = frozenset()  # readable, deliberately not set by the deployment
    optional: dict[str, str] = field(default_factory=dict)  # variable -> CDK context key that sets it
    grants: tuple[Grant, ...] = ()

    @property
    def declared(self) -> frozenset[str]:
        return self.environment | self.secrets | self.defaults | frozenset(self.optional)


# Resources, as the IAM statements render them.
EVENT_BUS = r"zoho-integration-bus|RoutingBus"
WEBHOOK_SECRET = r"WebhookSecret"  # noqa: S105 (a resource name pattern)
CHANNEL_TOKENS_SECRET = r"ChannelTokensSecret"  # noqa: S105 (a resource name pattern)
ZOHO_CREDENTIALS = r"ZohoCredentialsSecret"
TOKEN_TABLE = r"ZohoTokensTable"  # noqa: S105 (a resource name pattern)
LAKE_KEY = r"LakeKey"
LAKE_OBJECTS = r"zoho-pipelines-lake-[^/]*/zoho/\*"
COMPUTE_LOG_OBJECTS = r"zoho-pipelines-lake-[^/]*/dagster/compute-logs/\*"
REFRESH_QUEUE = r"RoutingRefreshQueue"
REFRESH_DLQ = r"RoutingRefreshDeadLetterQueue"
LEAD_QUEUE = r"RoutingLeadQualificationQueue"
LEAD_DLQ = r"RoutingLeadQualificationDeadLetterQueue"
WORKGROUPS = r"redshift-serverless:.*:workgroup/"
BEDROCK_MODEL = r"bedrock:.*foundation-model/"
# Textract has no resource types: its actions are granted on "*" (Service Authorization Reference,
# https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazontextract.html).
TEXTRACT_ANY = r'^"\*"$'  # the rendered (JSON) Resource is exactly "*"
TEXTRACT_ACTIONS = (
    "textract:AnalyzeDocument",
    "textract:AnalyzeExpense",
    "textract:StartDocumentAnalysis",
    "textract:GetDocumentAnalysis",
    "textract:StartExpenseAnalysis",
    "textract:GetExpenseAnalysis",
)
# The run tasks' Textract grant (dagster:run, with document_extractor=textract). Kept out of
# DAGSTER_RUN.grants: resources are matched by pattern, and "*" would also match every other
# process's "*" (X-Ray on the Lambdas), which the least-privilege check would then flag as
# undeclared. zoho_pipelines_tests/documents/test_cdk_textract.py holds the run role to it.
TEXTRACT_RUN_GRANT = Grant(TEXTRACT_ACTIONS, TEXTRACT_ANY, only_with="document_extractor")
RUN_TASK_DEFINITION = r"RunTask"
CLUSTER_TASKS = r":task/"

SQS_CONSUME = (
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:GetQueueAttributes",
    "sqs:GetQueueUrl",
)
# A consumer that gives up on a message sends it to the DLQ itself; the DLQ sensor reads its depth.
SQS_DEAD_LETTER = ("sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl")
TOKEN_GRANTS = (
    Grant(("dynamodb:GetItem", "dynamodb:PutItem"), TOKEN_TABLE),
    Grant(("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"), LAKE_KEY),
)
ZOHO_CALLER_ENV = frozenset({"ZOHO_DC", "ZOHO_CREDENTIALS_SECRET_ID", "ZOHO_TOKEN_STORE", "ZOHO_TOKEN_TABLE"})
# Settings every Zoho caller can read (zoho_pipelines.settings.Settings) that AWS leaves at defaults.
SETTINGS_DEFAULTS = frozenset(
    {
        "ZOHO_ACCOUNTS_URL",
        "ZOHO_API_URL",
        "ZOHO_CLIENT_ID",  # these three come from ZOHO_CREDENTIALS_SECRET_ID
        "ZOHO_CLIENT_SECRET",
        "ZOHO_REFRESH_TOKEN",
        "ZOHO_BOOKS_ORGANIZATION_ID",
        "ZOHO_PROJECTS_PORTAL_ID",
        "ZOHO_EDITION",
        "ZOHO_TOKEN_CACHE_DIR",
        "ZOHO_PIPELINES_HOME",
        "WAREHOUSE_PASSWORD",
        "WAREHOUSE_PASSWORD_SECRET_ID",  # IAM credentials (iam=true in WAREHOUSE_URL) instead
        "WAREHOUSE_LOCK_TIMEOUT_S",
        "ZOHO_WEBHOOK_SECRETS",
        "ZOHO_WEBHOOK_SECRETS_SECRET_ID",
        "ZOHO_WEBHOOK_SECRETS_TTL_SECONDS",
        "ZOHO_CHANNEL_TOKENS_SECRET_ID",
        "EVENTS_TARGET",
        "AWS_ENDPOINT_URL",
    }
)

INGRESS = Process(
    name="ingress",
    environment=frozenset(
        {
            "EVENT_BUS_NAME",
            "ZOHO_WEBHOOK_SECRETS_SECRET_ID",
            "ZOHO_WEBHOOK_SECRETS_TTL_SECONDS",
            "ZOHO_CHANNEL_TOKENS_SECRET_ID",
        }
    ),
    # Kept in Secrets Manager (the *_SECRET_ID variables) rather than in the function's environment.
    defaults=frozenset({"ZOHO_WEBHOOK_SECRETS", "ZOHO_CHANNEL_TOKENS", "AWS_ENDPOINT_URL"}),
    grants=(
        Grant(("events:PutEvents",), EVENT_BUS),
        Grant(("secretsmanager:GetSecretValue",), WEBHOOK_SECRET),
        Grant(("secretsmanager:GetSecretValue",), CHANNEL_TOKENS_SECRET),
    ),
)

ONBOARDING_STEPS = (
    "QualifyDealData",
    "CreateZohoProject",
    "SetupBilling",
    "AIEnrichment",
    "SendWelcomeSequence",
)
# AIEnrichment keeps its results in the lake (zoho_pipelines.ai.store) and may ask a Bedrock model.
ENRICHMENT_STEP = "AIEnrichment"
ENRICHMENT_OBJECTS = r"zoho-pipelines-lake-[^/]*/zoho/zoho/ai/enrichments/\*"  # LAKE_URL s3://<lake>/zoho
LAKE_BUCKET = r"zoho-pipelines-lake-[^/]*$"  # the bucket itself, no object path
LAKE_ENV = frozenset({"LAKE_URL", "LAKE_KMS_KEY_ID"})
ENRICHMENT_GRANTS = (
    Grant(("s3:GetObject", "s3:PutObject"), ENRICHMENT_OBJECTS),
    Grant(("s3:ListBucket",), LAKE_BUCKET),
    Grant(("kms:Decrypt", "kms:GenerateDataKey"), LAKE_KEY),
    Grant(("bedrock:InvokeModel",), BEDROCK_MODEL, only_with="bedrock_model_id"),
)


def _onboarding(step: str) -> Process:
    enriches = step == ENRICHMENT_STEP
    return Process(
        name=f"onboarding:{step}",
        environment=ZOHO_CALLER_ENV | {"ZOHO_TOKEN_MAX_WAIT_S"} | (LAKE_ENV if enriches else frozenset()),
        defaults=SETTINGS_DEFAULTS
        | {
            "ZOHO_MAX_CONCURRENCY",
            "WAREHOUSE_URL",
            "REDSHIFT_IAM_ROLE_ARN",
            "EVENTS_QUEUE_URL",
            "ZOHO_CHANNEL_TOKENS",
            "EVENT_BUS_NAME",
            "DOCUMENT_EXTRACTOR",  # documents run in Dagster only (set there by document_extractor)
        }
        | (frozenset() if enriches else LAKE_ENV | {"BEDROCK_MODEL_ID"}),
        optional={"BEDROCK_MODEL_ID": "bedrock_model_id"} if enriches else {},
        grants=(
            Grant(("secretsmanager:GetSecretValue",), ZOHO_CREDENTIALS),
            *TOKEN_GRANTS,
            *(ENRICHMENT_GRANTS if enriches else ()),
        ),
    )


ONBOARDING = tuple(_onboarding(step) for step in ONBOARDING_STEPS)

# What deploy/dagster.yaml's instance reads (its `env:` keys), plus DAGSTER_HOME.
DAGSTER_INSTANCE_ENV = frozenset(
    {
        "DAGSTER_HOME",
        "DAGSTER_PG_HOST",
        "DAGSTER_PG_PORT",
        "DAGSTER_PG_DB",
        "DAGSTER_COMPUTE_LOGS_BUCKET",
        "DAGSTER_COMPUTE_LOGS_PREFIX",
        "DAGSTER_RUN_CONTAINER",
    }
)
DAGSTER_ENV = (
    DAGSTER_INSTANCE_ENV
    | ZOHO_CALLER_ENV
    | {
        "LAKE_URL",
        "LAKE_KMS_KEY_ID",
        "WAREHOUSE_URL",
        "REDSHIFT_IAM_ROLE_ARN",
        "EVENTS_QUEUE_URL",
        "LEAD_QUALIFICATION_QUEUE_URL",
        "EVENT_BUS_NAME",
        "ZOHO_MAX_CONCURRENCY",
        "ZOHO_WATCH_CHANNEL_ID",
        "ZOHO_WATCH_NOTIFY_URL",
    }
)
DAGSTER_SECRETS = frozenset({"DAGSTER_PG_USERNAME", "DAGSTER_PG_PASSWORD", "ZOHO_CHANNEL_TOKENS"})
DAGSTER_DEFAULTS = SETTINGS_DEFAULTS | {
    "ZOHO_TOKEN_MAX_WAIT_S",  # runs and sensors can outwait a blocked mint window
    "ZOHO_MODULES",
    "ZOHO_PARTITIONS_START",
    "ZOHO_RESYNC_DAYS",
    "ZOHO_LEAD_SCORE_FIELD",
    "ZOHO_LEAD_SCORE_REASON_FIELD",
}
DAGSTER_OPTIONAL = {
    "BEDROCK_MODEL_ID": "bedrock_model_id",
    "DOCUMENT_EXTRACTOR": "document_extractor",  # textract; unset, documents use the PDF text layer
    # Read by httpx and botocore, not by our code; set only with zoho_egress=none and a proxy.
    "HTTPS_PROXY": "zoho_https_proxy",
    "NO_PROXY": "zoho_https_proxy",
    "ZOHO_WATCH_EVENTS": "zoho_watch_events",
    "ZOHO_WATCH_CHANNEL_TTL_HOURS": "zoho_watch_channel_ttl_hours",
}
# Per process, least privilege: each Dagster process has its own task role (cdk/zoho_infra/dagster.py).
# Step and tick logs (S3ComputeLogManager): the daemon writes sensor/schedule tick logs, runs write
# step logs, the webserver only reads them. Objects are SSE-KMS under the lake key. Listing log keys
# (and, in runs, partition prefixes) is a call on the bucket itself.
LAKE_LISTING = Grant(("s3:ListBucket",), LAKE_BUCKET)
COMPUTE_LOG_WRITE = (
    LAKE_LISTING,
    Grant(("s3:GetObject", "s3:PutObject"), COMPUTE_LOG_OBJECTS),
    Grant(("kms:Decrypt", "kms:GenerateDataKey"), LAKE_KEY),
)
# Runs read Zoho and write the lake (the token table is shared with the onboarding functions).
DAGSTER_DATA_GRANTS = (
    Grant(("s3:GetObject", "s3:PutObject", "s3:DeleteObject"), LAKE_OBJECTS),
    *COMPUTE_LOG_WRITE,
    Grant(("secretsmanager:GetSecretValue",), ZOHO_CREDENTIALS),
    *TOKEN_GRANTS,
)
# Only the daemon's sensors touch the queues; they dead-letter malformed events themselves.
DAGSTER_EVENT_GRANTS = (
    Grant(SQS_CONSUME, REFRESH_QUEUE),
    Grant(SQS_CONSUME, LEAD_QUEUE),
    Grant(SQS_DEAD_LETTER, REFRESH_DLQ),
    Grant(SQS_DEAD_LETTER, LEAD_DLQ),
)
RUN_WATCH_GRANT = Grant(("ecs:DescribeTasks", "ecs:StopTask"), CLUSTER_TASKS)  # terminate a run
DAGSTER_LAUNCHER_GRANTS = (Grant(("ecs:RunTask",), RUN_TASK_DEFINITION), RUN_WATCH_GRANT)


def _dagster(name: str, grants: tuple[Grant, ...], *, launches_runs: bool) -> Process:
    # The instance's run launcher is configured from the run task definition's ARN, which the run
    # task definition cannot carry itself (it would reference its own ARN).
    # dagster.yaml names it, but an instance resolves it only when its run launcher is first used
    # (checked: loading the instance without it works), and run tasks never launch runs.
    launcher = frozenset({"DAGSTER_RUN_TASK_DEFINITION"})
    return Process(
        name=f"dagster:{name}",
        environment=DAGSTER_ENV | (launcher if launches_runs else frozenset()),
        secrets=DAGSTER_SECRETS,
        defaults=DAGSTER_DEFAULTS | (frozenset() if launches_runs else launcher),
        optional=DAGSTER_OPTIONAL,
        grants=grants,
    )


DAGSTER_WEBSERVER = _dagster(
    "webserver",
    (
        LAKE_LISTING,
        Grant(("s3:GetObject",), COMPUTE_LOG_OBJECTS),
        Grant(("kms:Decrypt",), LAKE_KEY),
        RUN_WATCH_GRANT,
    ),
    launches_runs=True,  # resolves the run launcher to terminate runs
)
DAGSTER_DAEMON = _dagster(
    "daemon", (*COMPUTE_LOG_WRITE, *DAGSTER_EVENT_GRANTS, *DAGSTER_LAUNCHER_GRANTS), launches_runs=True
)
DAGSTER_RUN = _dagster(
    "run",
    (
        *DAGSTER_DATA_GRANTS,
        Grant(("redshift-serverless:GetCredentials",), WORKGROUPS),
        Grant(("bedrock:InvokeModel",), BEDROCK_MODEL, only_with="bedrock_model_id"),
    ),
    launches_runs=False,
)

PROCESSES: tuple[Process, ...] = (INGRESS, *ONBOARDING, DAGSTER_WEBSERVER, DAGSTER_DAEMON, DAGSTER_RUN)


def process(name: str) -> Process:
    """The contract entry called `name` (e.g. "ingress", "dagster:run")."""
    for candidate in PROCESSES:
        if candidate.name == name:
            return candidate
    raise KeyError(name)
