"""Zoho change events: model, ingress handler, routing and queues.

Deliberately empty of imports: `zoho_pipelines.events.ingress` ships in a Lambda with only the
standard library and boto3, so importing this package must not pull anything else in.
"""
