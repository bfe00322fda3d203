"""The deal onboarding workflow's task handlers (AWS Step Functions -> Lambda).

Each handler is one state of the state machine the CDK app defines (cdk/zoho_infra/onboarding.py):
it receives the execution's state, does one step against Zoho through the package's clients, and
returns what the next states need. Every step is idempotent, because Step Functions retries and
operators redrive, minutes or months later: each write first looks for its own result, by a key
and never by a time window (the project and invoice by the deal's external key, the customer by
its CRM account, linked by Books' CRM integration or held in a unique custom field), or skips a
value already set.

Enrichment asks Claude on Amazon Bedrock when a model is configured and the rules otherwise,
sends only allow-listed facts, and is kept in the lake under its input digest (`enrichment`);
the welcome sequence is a CRM workflow rule triggered once by the deal's Next Step (e-mails stay
editable in CRM); `steps` says more on both, `billing` on the Books writes.
"""
