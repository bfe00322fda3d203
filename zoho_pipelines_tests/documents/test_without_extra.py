"""Without the `documents` extra the code location still loads, and document features say, in one
line, how to get it."""

from __future__ import annotations

import subprocess
import sys
import textwrap

BLOCKED = ("pypdf", "textractor", "trp", "fpdf")


def test_the_code_location_loads_and_documents_ask_for_the_extra() -> None:
    script = textwrap.dedent(
        f"""
        import sys

        class Missing:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in {BLOCKED!r}:
                    raise ModuleNotFoundError(f"No module named {{name!r}}")
                return None

        sys.meta_path.insert(0, Missing())
        from zoho_pipelines.definitions import defs
        assert defs.resolve_job_def("zoho_deals_documents") is not None
        from zoho_pipelines.documents.extractors import DocumentSource
        from zoho_pipelines.documents.extractors.pdf_text import PdfTextExtractor
        from zoho_pipelines.documents.extra import DocumentsExtraMissing
        try:
            PdfTextExtractor().extract(DocumentSource(b"%PDF-1.7", "pdf"), "contract")
        except DocumentsExtraMissing as error:
            print(error)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=240, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines() == [
        "document features need the documents extra: scripts/install documents "
        '(or pip install ".[documents]") (pypdf is missing)'
    ]


def test_the_documents_command_without_the_extra_is_one_line() -> None:
    """Once 648 lines (a failing sandbox, discovery and extraction); now one, before anything starts."""
    script = textwrap.dedent(
        f"""
        import importlib.util

        real_find_spec = importlib.util.find_spec
        importlib.util.find_spec = lambda name, *a, **k: (
            None if name.split(".")[0] in {BLOCKED!r} else real_find_spec(name, *a, **k)
        )
        from zoho_pipelines.cli import app
        app(["documents"], prog_name="zoho-pipelines")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=240, check=False
    )
    assert done.returncode == 2, done.stdout[-2000:] + done.stderr[-2000:]
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        "zoho-pipelines: document features need the documents extra: scripts/install documents "
        '(or pip install ".[documents]") (pypdf, textractor, fpdf missing)'
    ]
