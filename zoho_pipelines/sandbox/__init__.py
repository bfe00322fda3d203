"""A local stand-in for Zoho's APIs (accounts, CRM v2-v8, Books v3, Projects) with realistic data.

Deterministic for a seed, scalable to a million records a module, and able to misbehave on
purpose (latency, 429s, 5xx, dropped connections, credit exhaustion) so clients can be proven
against the failure modes they will meet in production.
"""
