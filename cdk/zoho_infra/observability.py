"""Seeing what happens and hearing when it goes wrong.

- `AlarmTopic`: the SNS topic every alarm notifies (encrypted, TLS-only, optional e-mail).
- `AccessLogBucket`: where S3 server access logs and load-balancer logs of the other buckets go.
- `AuditTrail`: a multi-region CloudTrail with log file validation, to S3 and CloudWatch Logs,
  recording every object read and write in the lake (S3 data events) besides management events.
- `alarm_when`: one alarm on one metric wired to the topic, so every stack alarms the same way.

Alarms live next to the resource they watch (queues in the events stack, functions where they
are defined); only the topic is shared, which keeps the cross-stack references to one ARN.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cloudtrail as cloudtrail
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from zoho_pipelines.zoho.credit_metric import CREDITS_REMAINING_METRIC, METRIC_NAMESPACE


class AlarmTopic(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, email: str | None) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(
            self,
            "Key",
            description="Encrypts the zoho-pipelines alarm topic",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        # CloudWatch publishes alarm notifications to the encrypted topic with this key.
        self.key.grant(
            iam.ServicePrincipal("cloudwatch.amazonaws.com"), "kms:Decrypt", "kms:GenerateDataKey*"
        )
        self.topic = sns.Topic(
            self, "Topic", display_name="zoho-pipelines alarms", master_key=self.key, enforce_ssl=True
        )
        if email:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))


class AccessLogBucket(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        # S3 server access logging and ALB logging only deliver to SSE-S3 buckets.
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
            versioned=True,
            removal_policy=RemovalPolicy.RETAIN,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-access-logs",
                    expiration=Duration.days(400),
                    noncurrent_version_expiration=Duration.days(30),
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                )
            ],
        )


class AuditTrail(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        access_logs: s3.IBucket,
        audited_buckets: list[s3.IBucket],
    ) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(
            self,
            "Key",
            description="Encrypts the zoho-pipelines CloudTrail logs",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        # CloudTrail encrypts each log file with a data key from this key.
        self.key.grant(
            iam.ServicePrincipal("cloudtrail.amazonaws.com"), "kms:GenerateDataKey*", "kms:DescribeKey"
        )
        bucket = s3.Bucket(
            self,
            "Bucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix="cloudtrail/",
            removal_policy=RemovalPolicy.RETAIN,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="archive-trail",
                    transitions=[
                        s3.Transition(
                            storage_class=s3.StorageClass.GLACIER_INSTANT_RETRIEVAL,
                            transition_after=Duration.days(90),
                        )
                    ],
                    noncurrent_version_expiration=Duration.days(90),
                )
            ],
        )
        self.trail = cloudtrail.Trail(
            self,
            "Trail",
            bucket=bucket,
            encryption_key=self.key,
            is_multi_region_trail=True,
            include_global_service_events=True,
            enable_file_validation=True,
            send_to_cloud_watch_logs=True,
            cloud_watch_logs_retention=logs.RetentionDays.ONE_YEAR,
        )
        # Who read or wrote which customer record's partition: object-level (data) events, reads
        # included (Redshift COPY, Dagster runs, people), for the buckets that hold Zoho data.
        self.trail.add_s3_event_selector(
            [cloudtrail.S3EventSelector(bucket=bucket) for bucket in audited_buckets],
            read_write_type=cloudtrail.ReadWriteType.ALL,
            include_management_events=True,
        )


AT_OR_ABOVE = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD


def alarm_when(
    scope: Construct,
    construct_id: str,
    *,
    metric: cloudwatch.IMetric,
    topic: sns.ITopic,
    description: str,
    threshold: float = 1,
    comparison: cloudwatch.ComparisonOperator = AT_OR_ABOVE,
) -> cloudwatch.Alarm:
    """An alarm that fires when `metric` reaches `threshold` (by default: at or above it) in one
    evaluation period; missing data (no traffic) is healthy."""
    alarm = cloudwatch.Alarm(
        scope,
        construct_id,
        metric=metric,
        threshold=threshold,
        evaluation_periods=1,
        comparison_operator=comparison,
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        alarm_description=description,
    )
    alarm.add_alarm_action(cloudwatch_actions.SnsAction(topic))
    return alarm


def alarm_when_zoho_credits_low(scope: Construct, *, topic: sns.ITopic, below: int) -> cloudwatch.Alarm:
    """Zoho's remaining API credits, as every Zoho caller publishes them (zoho.credit_metric), under
    `below` at any point in 5 minutes. Zoho reports them only past half the org's budget, so no data
    means plenty left: healthy."""
    return alarm_when(
        scope,
        "ZohoCreditsLow",
        metric=cloudwatch.Metric(
            namespace=METRIC_NAMESPACE,
            metric_name=CREDITS_REMAINING_METRIC,
            statistic="Minimum",
            period=Duration.minutes(5),
        ),
        topic=topic,
        threshold=below,
        comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        description=f"Fewer than {below} Zoho API credits are left in the org's rolling 24 hours: "
        "Zoho stops every integration at zero. Pause backfills and resyncs, or buy add-on credits.",
    )


ZOHO_RATE_LIMITED_PATTERN = logs.FilterPattern.all_terms("retrying", "after 429")
"""zoho_pipelines.zoho.retry logs "retrying <method> <path> after 429 (...)" before each retry."""
ZOHO_RATE_LIMITED_METRIC = "ZohoRateLimitedRetries"
ZOHO_RATE_LIMIT_THRESHOLD = 20  # retries in 5 minutes: a few are normal, this many means starving


def count_log_matches(
    scope: Construct,
    construct_id: str,
    *,
    log_group: logs.ILogGroup,
    pattern: logs.IFilterPattern,
    metric_name: str,
) -> cloudwatch.Metric:
    """A metric counting the log lines that match `pattern` (5-minute sums). Filters with the same
    metric name, in several log groups, add up into one metric."""
    log_filter = logs.MetricFilter(
        scope,
        construct_id,
        log_group=log_group,
        filter_pattern=pattern,
        metric_namespace=METRIC_NAMESPACE,
        metric_name=metric_name,
        metric_value="1",
        default_value=0,
    )
    return log_filter.metric(period=Duration.minutes(5), statistic="Sum")
