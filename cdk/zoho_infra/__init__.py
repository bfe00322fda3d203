"""The zoho-pipelines AWS infrastructure: one construct per concern, composed in ../app.py."""
