"""The table where every Zoho caller on AWS shares the org's access token.

Zoho lets one refresh token mint ten access tokens per ten minutes and then blocks minting for
the rest of the window. Dagster's webserver, daemon (sensors every few seconds), every run task
and each onboarding Lambda would otherwise mint their own; instead they read the token from this
table and refresh it single-flight through a conditional write (zoho_pipelines.zoho.auth and
zoho_pipelines.zoho.token_store_dynamodb). The item holds a live access token, so the table is
encrypted with the project's KMS key, and callers may only get and put items of this table.
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from zoho_infra.nag import acknowledge
from zoho_pipelines.zoho.token_store_dynamodb import PARTITION_KEY, TTL_ATTRIBUTE

TABLE_NAME = "zoho-pipelines-zoho-tokens"
TOKEN_TABLE_ACTIONS = ("dynamodb:GetItem", "dynamodb:PutItem")
"""All the store does: a strongly consistent read and a conditional write (compare-and-swap)."""
TOKEN_KEY_ACTIONS = ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey")


class ZohoTokenTable(Construct):
    """On-demand DynamoDB table, one item per refresh token, expired items purged by TTL."""

    def __init__(self, scope: Construct, construct_id: str, *, key: kms.IKey) -> None:
        super().__init__(scope, construct_id)
        self.key = key
        self.table = dynamodb.Table(
            self,
            "Table",
            table_name=TABLE_NAME,
            partition_key=dynamodb.Attribute(name=PARTITION_KEY, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=key,
            time_to_live_attribute=TTL_ATTRIBUTE,
            # A cache: losing it costs one mint. Retaining it would only keep live tokens around.
            removal_policy=RemovalPolicy.DESTROY,
        )
        acknowledge(
            self.table,
            "AwsSolutions-DDB3",
            "The table caches hour-long access tokens that any caller re-mints when missing; point-in-time "
            "backups would only keep copies of live credentials for 35 days.",
        )

    def environment(self) -> dict[str, str]:
        """What a Zoho caller needs to use the table (see the README's configuration table)."""
        return {"ZOHO_TOKEN_STORE": "dynamodb", "ZOHO_TOKEN_TABLE": self.table.table_name}

    def grant(self, grantee: iam.IGrantable) -> None:
        """Get and put items of this table only, and use the key only through DynamoDB."""
        principal = grantee.grant_principal
        principal.add_to_principal_policy(
            iam.PolicyStatement(actions=list(TOKEN_TABLE_ACTIONS), resources=[self.table.table_arn])
        )
        principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=list(TOKEN_KEY_ACTIONS),
                resources=[self.key.key_arn],
                conditions={
                    "StringEquals": {"kms:ViaService": f"dynamodb.{Stack.of(self).region}.amazonaws.com"}
                },
            )
        )
