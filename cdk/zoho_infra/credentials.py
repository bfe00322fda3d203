"""The Zoho OAuth credentials every Zoho caller reads (onboarding functions, Dagster runs)."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from zoho_infra.nag import acknowledge


class ZohoCredentials(Construct):
    """A JSON secret {client_id, client_secret, refresh_token}, filled in after the first deploy
    (deploy/README.md): Zoho issues these in its API console, nothing here can create them."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.secret = secretsmanager.Secret(
            self,
            "Secret",
            description="Zoho self-client OAuth credentials: JSON {client_id, client_secret, refresh_token}",
            removal_policy=RemovalPolicy.RETAIN,
        )
        acknowledge(
            self.secret,
            "AwsSolutions-SMG4",
            "Zoho issues the refresh token in its own API console; Secrets Manager has no way to mint a "
            "new one, so rotation is the manual procedure in deploy/README.md.",
        )
