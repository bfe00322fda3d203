"""The deal onboarding workflow's task handlers (AWS Step Functions -> Lambda).

Each handler is one state of the state machine the CDK app defines (cdk/zoho_infra/onboarding.py):
it receives the execution's state, does one step against Zoho through the package's clients, and
returns what the next states need. Every step is idempotent, because Step Functions retries:
each write first looks for its own result (the project and invoice by the deal's external key,
the customer by the CRM account it is linked to) or skips a value already set.

Enrichment is rule-based (an explainable, reproducible score that sends no customer data to a
model service) and the welcome sequence is a CRM workflow rule triggered once by the deal's Next
Step (e-mails stay editable in CRM); `steps` says more on both, `billing` on the Books writes.
"""
