"""The deal onboarding workflow's task handlers (AWS Step Functions -> Lambda).

Each handler is one state of the state machine the CDK app defines (cdk/zoho_infra/onboarding.py):
it receives the execution's state, does one step against Zoho through the package's clients, and
returns what the next states need. Every step is idempotent, because Step Functions retries.
"""
