"""Claude on Amazon Bedrock, for the product's AI use cases, and the rules that stand in for it.

`converse` makes one structured call (Converse with a forced tool whose input schema is a pydantic
model); `enrichment` turns a won deal's allow-listed facts into an account profile, an onboarding
brief, risks and next steps, by Claude when a model is configured and by rules otherwise;
`store` keeps each result as one JSON object in the lake; `warehouse` (the only module here that
needs pyarrow, so the onboarding Lambda never imports it) loads those objects into
`zoho_ai.enrichments`.
"""
