"""Where the data rests: the lake bucket and the Redshift Serverless warehouse.

The lake holds the Parquet partitions (`zoho/<app>/<module>/date=.../`) and Dagster's compute logs
(`dagster/compute-logs/`). The warehouse is reachable only from inside the VPC, routes its COPY
traffic through the VPC (enhanced VPC routing, so through the S3 gateway endpoint), and loads
from the lake with a role that can read nothing else.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_redshiftserverless as redshift
from aws_cdk import aws_s3 as s3
from constructs import Construct

from zoho_infra.nag import acknowledge, acknowledge_wildcard_resource
from zoho_pipelines.events.processing.staging import STAGING_PREFIX as EVENT_STAGING
from zoho_pipelines.lake.s3 import STAGING_PREFIX as LAKE_STAGING

WAREHOUSE_PORT = 5439
WAREHOUSE_DATABASE = "zoho"
LAKE_PREFIX = "zoho/"
COMPUTE_LOGS_PREFIX = "dagster/compute-logs/"
# Where runs stage objects inside the lake (LAKE_URL is s3://<bucket>/zoho): partitions before they
# are put in place (zoho_pipelines.lake.s3), and an event run's rows for Redshift's COPY
# (zoho_pipelines.events.processing.staging). Both are removed by their writer; a crashed run can
# leave some behind, which these rules expire.
STAGING_PREFIXES = {
    "partition-staging": f"{LAKE_PREFIX}{LAKE_STAGING}",
    "event-staging": f"{LAKE_PREFIX}{EVENT_STAGING.strip('/')}/",
}
STAGING_EXPIRY = Duration.days(2)
# Redshift Serverless names the database user of an IAM role that calls GetCredentials
# "IAMR:<role name>" (and creates it at its first login).
WAREHOUSE_IAM_ROLE_USER_PREFIX = "IAMR:"


def warehouse_grant_statements(user: str) -> list[str]:
    """The one-time SQL that lets Dagster's runs create their `zoho_*` schemas (they own what they
    create), run as the admin by the deploy guide through the Redshift Data API.

    Documented rather than automated: a deploy-time custom resource would be a standing function
    holding the warehouse admin's secret (and the lake key to decrypt it) for two statements that
    run once in a warehouse's life, and the Data API it would call answers asynchronously, so a
    failed grant would not fail the deployment anyway. The user is created ahead of its first
    login so the grant can be given before the first run.
    """
    quoted = '"' + user.replace('"', '""') + '"'
    return [
        f"CREATE USER {quoted} PASSWORD DISABLE",
        f"GRANT CREATE ON DATABASE {WAREHOUSE_DATABASE} TO {quoted}",
    ]


def lake_bucket_name(scope: Construct) -> str:
    """The lake's name, derivable in any stack of the same environment: consumers build their
    object ARNs from it locally instead of importing the bucket across stacks."""
    stack = Stack.of(scope)
    return f"zoho-pipelines-lake-{stack.account}-{stack.region}"


class DataLake(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, access_logs: s3.IBucket) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(
            self,
            "Key",
            description="Encrypts the zoho-pipelines lake and warehouse",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            bucket_name=lake_bucket_name(self),
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.key,
            bucket_key_enabled=True,  # one KMS call per object batch, not per object: cost and throttling
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=True,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix="lake/",
            removal_policy=RemovalPolicy.RETAIN,
            lifecycle_rules=[
                # Partitions are rewritten on every re-sync of their day; old versions are only
                # a safety net against a bad run, not history (the warehouse keeps that).
                s3.LifecycleRule(
                    id="lake-partitions",
                    prefix=LAKE_PREFIX,
                    transitions=[
                        s3.Transition(
                            storage_class=s3.StorageClass.INTELLIGENT_TIERING,
                            transition_after=Duration.days(30),
                        )
                    ],
                    noncurrent_version_expiration=Duration.days(30),
                ),
                s3.LifecycleRule(
                    id="compute-logs",
                    prefix=COMPUTE_LOGS_PREFIX,
                    expiration=Duration.days(90),
                    noncurrent_version_expiration=Duration.days(7),
                ),
                s3.LifecycleRule(
                    id="abort-multipart", abort_incomplete_multipart_upload_after=Duration.days(7)
                ),
                *(
                    s3.LifecycleRule(
                        id=name,
                        prefix=prefix,
                        expiration=STAGING_EXPIRY,
                        noncurrent_version_expiration=Duration.days(1),
                        abort_incomplete_multipart_upload_after=Duration.days(1),
                    )
                    for name, prefix in STAGING_PREFIXES.items()
                ),
            ],
        )


class Warehouse(Construct):
    """Redshift Serverless: private, enhanced VPC routing, admin password managed by Redshift."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        lake: DataLake,
    ) -> None:
        super().__init__(scope, construct_id)
        self.copy_role = iam.Role(
            self,
            "CopyRole",
            assumed_by=iam.CompositePrincipal(
                iam.ServicePrincipal("redshift.amazonaws.com"),
                iam.ServicePrincipal("redshift-serverless.amazonaws.com"),
            ),
            description="Lets Redshift Serverless COPY Parquet partitions from the lake (read only)",
        )
        lake.bucket.grant_read(self.copy_role, f"{LAKE_PREFIX}*")
        acknowledge(
            self.copy_role,
            "AwsSolutions-IAM5[Action::s3:GetObject*]",
            "COPY reads Parquet objects and their versions/attributes; the grant is limited to the "
            "lake's zoho/ prefix.",
        )
        acknowledge(
            self.copy_role,
            "AwsSolutions-IAM5[Action::s3:GetBucket*]",
            "COPY resolves the bucket's location and encryption before reading; bucket-level reads "
            "on the lake bucket only.",
        )
        acknowledge(
            self.copy_role,
            "AwsSolutions-IAM5[Action::s3:List*]",
            "COPY lists a partition prefix to find its Parquet files; list on the lake bucket only.",
        )
        acknowledge_wildcard_resource(
            self.copy_role,
            lake.bucket.arn_for_objects(f"{LAKE_PREFIX}*"),
            "Partitions are daily objects created at run time; the grant covers the zoho/ prefix, "
            "not the whole bucket.",
        )

        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=vpc,
            description="Redshift Serverless workgroup: reachable only from the Dagster services",
            allow_all_outbound=False,
        )
        # Enhanced VPC routing sends COPY through the VPC: HTTPS to the S3 gateway endpoint.
        self.security_group.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "COPY from S3 (gateway)")

        self.namespace = redshift.CfnNamespace(
            self,
            "Namespace",
            namespace_name="zoho-pipelines",
            db_name=WAREHOUSE_DATABASE,
            admin_username="zoho_admin",
            manage_admin_password=True,
            admin_password_secret_kms_key_id=lake.key.key_arn,
            kms_key_id=lake.key.key_arn,
            iam_roles=[self.copy_role.role_arn],
            default_iam_role_arn=self.copy_role.role_arn,
            log_exports=["userlog", "connectionlog", "useractivitylog"],
        )
        self.namespace.apply_removal_policy(RemovalPolicy.RETAIN)
        self.workgroup = redshift.CfnWorkgroup(
            self,
            "Workgroup",
            workgroup_name="zoho-pipelines",
            namespace_name=self.namespace.namespace_name,
            base_capacity=8,
            enhanced_vpc_routing=True,
            publicly_accessible=False,
            port=WAREHOUSE_PORT,
            subnet_ids=vpc.select_subnets(subnet_group_name=subnets.subnet_group_name).subnet_ids,
            security_group_ids=[self.security_group.security_group_id],
            config_parameters=[
                redshift.CfnWorkgroup.ConfigParameterProperty(
                    parameter_key="require_ssl", parameter_value="true"
                ),
                redshift.CfnWorkgroup.ConfigParameterProperty(
                    parameter_key="enable_user_activity_logging", parameter_value="true"
                ),
            ],
        )
        self.workgroup.node.add_dependency(self.namespace)

    @property
    def endpoint_address(self) -> str:
        return self.workgroup.attr_workgroup_endpoint_address
