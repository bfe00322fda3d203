"""The `documents` extra: imported on use, with a one-line answer when it is not installed."""

from __future__ import annotations

import importlib
from types import ModuleType

INSTALL_HINT = 'document features need the documents extra: pip install ".[documents]"'


class DocumentsExtraMissing(ImportError):
    """A document feature ran in an installation without the `documents` extra."""


def require(module: str) -> ModuleType:
    """`module` from the extra (pypdf, textractor, fpdf), or DocumentsExtraMissing saying how to get it."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise DocumentsExtraMissing(f"{INSTALL_HINT} ({module} is missing)") from error
