"""zoho_pipelines: Zoho One (CRM, Books, Projects) to AWS, orchestrated by Dagster."""

__version__ = "0.1.0"
