"""Documents from Zoho: CRM attachments into the lake, extracted, and chosen values written back.

Flow (see `flow`): discover a record's attachments, store each in the lake under
`zoho/documents/<module>/<record id>/<attachment id>.<ext>`, extract key-value pairs and tables
(Amazon Textract, or the PDF's own text layer offline), merge the result into
`zoho_documents.extractions`, and write the values the mapping (`mapping.toml`) names back onto
the CRM record, with each record's outcome in `zoho_documents.writebacks`.

Parsing and PDF libraries live in the `documents` extra; this package imports them only when a
document is actually read, so the runtime without the extra still loads (see `extra`).
"""
