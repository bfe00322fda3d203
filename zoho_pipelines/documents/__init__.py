"""Documents from Zoho: CRM attachments into the lake, extracted, and chosen values written back.

Flow (see `flow`): discover a record's files (its Attachments list and its file-upload fields),
store each in the lake under `zoho/documents/<module>/<record id>/<attachment or file id>.<ext>`,
extract key-value pairs and tables (Amazon Textract, or the PDF's own text layer offline), merge
the result into `zoho_documents.extractions`, and write the values the mapping (`mapping.toml`)
names back onto the CRM record, each attempt kept in `zoho_documents.writebacks`. `batch` runs
these steps over many documents at once (one Dagster run over a range of document partitions).

Parsing and PDF libraries live in the `documents` extra; this package imports them only when a
document is actually read, so the runtime without the extra still loads (see `extra`).
"""
