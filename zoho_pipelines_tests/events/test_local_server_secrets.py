"""The local ingress reads its secrets from Secrets Manager like the deployed one (moto's server)."""

from __future__ import annotations

import json
from pathlib import Path

import boto3

from zoho_pipelines.events.local_server import IngressServer, build_handler
from zoho_pipelines.settings import load_settings
from zoho_pipelines_tests.events.conftest import notification_payload
from zoho_pipelines_tests.events.test_local_server import post


def test_channel_tokens_come_from_the_secret_named_by_its_id(aws_env: str, tmp_path: Path) -> None:
    """ZOHO_CHANNEL_TOKENS_SECRET_ID, as the CDK app sets it on the Lambda: every value is accepted."""
    secret = boto3.client("secretsmanager").create_secret(
        Name="local-channel-tokens", SecretString=json.dumps({"current": "tok-new", "previous": "tok-old"})
    )["ARN"]
    settings = load_settings(
        ZOHO_PIPELINES_HOME=str(tmp_path), EVENTS_TARGET="local", ZOHO_CHANNEL_TOKENS_SECRET_ID=secret
    )
    with IngressServer(build_handler(settings)) as running:
        statuses = [
            post(
                running.url,
                json.dumps(notification_payload(token)).encode(),
                {"Content-Type": "application/json"},
            )[0]
            for token in ("tok-new", "tok-old", "tok-forged")
        ]
    assert statuses == [200, 200, 401]
