"""Token records in DynamoDB, shared by Dagster's tasks and the onboarding Lambdas on AWS.

DynamoDB rather than Secrets Manager: refreshing single-flight needs a compare-and-swap, which
DynamoDB offers as a conditional PutItem (`version` must still be what we read) and Secrets
Manager does not (its versions are staging labels, with no write-if-unchanged); reads are
strongly consistent, cheap and fast enough for sensors every few seconds; a TTL attribute
(`purge_at`) clears records nobody refreshes any more. The table is encrypted with the project's
KMS key (cdk/zoho_infra/token_table.py), and this module only ever needs GetItem and PutItem.

One item per refresh token, partition key `token_key` (the readable `TokenKey.name`).
"""

from __future__ import annotations

import logging
from typing import Any

from zoho_pipelines.zoho.token_store import TokenKey, TokenRecord

PARTITION_KEY = "token_key"
TTL_ATTRIBUTE = "purge_at"
PURGE_AFTER_S = 86_400
"""Records live a day past their token's expiry or their last mint, whichever is later."""


class _DropTokenPayloads(logging.Filter):
    """botocore logs response bodies at DEBUG, GetItem's too: keep the access token out of logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "access_token" not in record.getMessage()


def _silence_token_payloads() -> None:
    for name in ("botocore.parsers", "botocore.endpoint"):
        logger = logging.getLogger(name)
        if not any(isinstance(existing, _DropTokenPayloads) for existing in logger.filters):
            logger.addFilter(_DropTokenPayloads())


class DynamoDbTokenStore:
    """Records in `table_name`; the boto3 client comes from the usual AWS configuration chain."""

    def __init__(self, table_name: str, *, endpoint_url: str | None = None, client: Any = None) -> None:
        import boto3

        _silence_token_payloads()
        self.table_name = table_name
        self._client = client or boto3.client("dynamodb", endpoint_url=endpoint_url)

    def load(self, key: TokenKey) -> TokenRecord:
        response = self._client.get_item(
            TableName=self.table_name, Key={PARTITION_KEY: {"S": key.name}}, ConsistentRead=True
        )
        item = response.get("Item")
        return TokenRecord.from_document(_from_item(item)) if item else TokenRecord()

    def swap(self, key: TokenKey, expected_version: int, record: TokenRecord) -> bool:
        stored = record.replace(version=expected_version + 1)
        condition: dict[str, Any] = (
            {"ConditionExpression": f"attribute_not_exists({PARTITION_KEY})"}
            if expected_version == 0
            else {
                "ConditionExpression": "#version = :expected",
                "ExpressionAttributeNames": {"#version": "version"},
                "ExpressionAttributeValues": {":expected": {"N": str(expected_version)}},
            }
        )
        try:
            self._client.put_item(TableName=self.table_name, Item=_to_item(key, stored), **condition)
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True


def _to_item(key: TokenKey, record: TokenRecord) -> dict[str, Any]:
    last_moment = max([record.expires_at, record.lease_until, record.blocked_until, *record.mints])
    item: dict[str, Any] = {
        PARTITION_KEY: {"S": key.name},
        "version": {"N": str(record.version)},
        "expires_at": {"N": repr(record.expires_at)},
        "lease_until": {"N": repr(record.lease_until)},
        "blocked_until": {"N": repr(record.blocked_until)},
        "mints": {"L": [{"N": repr(moment)} for moment in record.mints]},
        "refused_when_fresh": {"BOOL": record.refused_when_fresh},
        TTL_ATTRIBUTE: {"N": str(int(last_moment) + PURGE_AFTER_S)},
    }
    for name in ("access_token", "api_domain", "lease_owner"):
        value = getattr(record, name)
        if value:
            item[name] = {"S": value}
    return item


def _from_item(item: dict[str, Any]) -> dict[str, Any]:
    document: dict[str, Any] = {}
    for name, value in item.items():
        if "S" in value:
            document[name] = value["S"]
        elif "N" in value:
            document[name] = float(value["N"])
        elif "BOOL" in value:
            document[name] = value["BOOL"]
        elif "L" in value:
            document[name] = [float(entry["N"]) for entry in value["L"]]
    return document
