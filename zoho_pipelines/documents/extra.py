"""The `documents` extra: imported on use, with a one-line answer when it is not installed."""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

INSTALL_HINT = (
    'document features need the documents extra: scripts/install documents (or pip install ".[documents]")'
)
# What the extra brings, by import name: the PDF text layer, Textract's parser, the sandbox's PDFs.
EXTRA_MODULES = ("pypdf", "textractor", "fpdf")


class DocumentsExtraMissing(ImportError):
    """A document feature ran in an installation without the `documents` extra."""


def require(module: str) -> ModuleType:
    """`module` from the extra (pypdf, textractor, fpdf), or DocumentsExtraMissing saying how to get it."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise DocumentsExtraMissing(f"{INSTALL_HINT} ({module} is missing)") from error


def require_all() -> None:
    """Fail at once, in one line, when any part of the extra is missing: a documents run that
    starts without it fails in the sandbox, the discovery and every extraction instead."""
    missing = [module for module in EXTRA_MODULES if importlib.util.find_spec(module) is None]
    if missing:
        raise DocumentsExtraMissing(f"{INSTALL_HINT} ({', '.join(missing)} missing)")
