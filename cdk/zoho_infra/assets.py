"""Lambda code assets staged from this checkout, without Docker.

Two bundles:
- the ingress: exactly the modules its handler imports (it needs nothing beyond the standard
  library and the boto3 the Lambda runtime ships), so the webhook path stays small and auditable;
- the onboarding tasks: the Zoho client layer plus its third-party dependencies, copied file by
  file from the distributions installed in the running interpreter. That is offline and needs no
  Docker, at the price that the interpreter must match the Lambda runtime (CPython version and CPU
  architecture), because pydantic-core and orjson ship compiled wheels; `onboarding_runtime`
  checks that and refuses to synthesize a bundle that could not import in Lambda.

Bundles are staged under the cloud assembly's directory and rebuilt on every synthesis; CDK
fingerprints their contents, so an unchanged bundle keeps its asset hash.
"""

from __future__ import annotations

import platform
import shutil
import sys
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

from aws_cdk import aws_lambda as lambda_
from packaging.requirements import Requirement

REPO_ROOT = Path(__file__).resolve().parents[2]

INGRESS_MODULES: tuple[str, ...] = (
    "zoho_pipelines/__init__.py",
    "zoho_pipelines/events/__init__.py",
    "zoho_pipelines/events/ingress.py",
    "zoho_pipelines/events/model.py",
    "zoho_pipelines/events/publisher.py",
    "zoho_pipelines/events/request.py",
    "zoho_pipelines/events/webhook_auth.py",
)
INGRESS_HANDLER = "zoho_pipelines.events.ingress.handler"

ONBOARDING_SOURCES: tuple[str, ...] = (
    "zoho_pipelines/__init__.py",
    "zoho_pipelines/settings.py",
    "zoho_pipelines/redaction.py",
    "zoho_pipelines/clock.py",  # the credit metric's timestamps (zoho.credit_metric)
    "zoho_pipelines/zoho",
    "zoho_pipelines/ai",  # AIEnrichment: Converse, the enrichment, its lake objects (no pyarrow)
    "zoho_pipelines/onboarding",
)
# What the Zoho client layer imports from outside the standard library, boto3 excepted.
ONBOARDING_DISTRIBUTIONS: tuple[str, ...] = ("httpx", "orjson", "pydantic", "pydantic-settings", "tenacity")
# Provided by every Python Lambda runtime; bundling them would only shadow the runtime's copies.
RUNTIME_PROVIDED = frozenset(
    {"boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six", "urllib3"}
)

_PYTHON_RUNTIMES = {
    (3, 11): lambda_.Runtime.PYTHON_3_11,
    (3, 12): lambda_.Runtime.PYTHON_3_12,
    (3, 13): lambda_.Runtime.PYTHON_3_13,
}
_ARCHITECTURES = {"x86_64": lambda_.Architecture.X86_64, "aarch64": lambda_.Architecture.ARM_64}


class BundleError(RuntimeError):
    """The onboarding bundle cannot be built from this interpreter for any Lambda runtime."""


def onboarding_runtime() -> tuple[lambda_.Runtime, lambda_.Architecture]:
    """The Lambda runtime and architecture that can load the compiled wheels installed here."""
    version = sys.version_info[:2]
    if sys.platform != "linux" or version not in _PYTHON_RUNTIMES or platform.machine() not in _ARCHITECTURES:
        raise BundleError(
            f"the onboarding bundle copies compiled wheels from this interpreter, which must be CPython "
            f"3.11-3.13 on Linux x86_64 or aarch64 (this is {platform.python_version()} on "
            f"{sys.platform}/{platform.machine()}); synthesize from the project's venv"
        )
    return _PYTHON_RUNTIMES[version], _ARCHITECTURES[platform.machine()]


def stage_ingress(destination: Path) -> Path:
    """A fresh directory holding exactly the ingress handler's modules."""
    _reset(destination)
    for relative in INGRESS_MODULES:
        _copy_file(REPO_ROOT / relative, destination / relative)
    return destination


def stage_onboarding(destination: Path) -> Path:
    """A fresh directory holding the onboarding handlers, the Zoho clients and their dependencies."""
    _reset(destination)
    for relative in ONBOARDING_SOURCES:
        source = REPO_ROOT / relative
        files = sorted(source.rglob("*.py")) if source.is_dir() else [source]
        for file in files:
            _copy_file(file, destination / file.relative_to(REPO_ROOT))
    for distribution in dependency_closure(ONBOARDING_DISTRIBUTIONS):
        _copy_distribution(distribution, destination)
    return destination


def dependency_closure(roots: Iterable[str]) -> list[metadata.Distribution]:
    """The installed distributions `roots` need at run time (extras and other platforms' markers
    excluded), minus what the Lambda runtime already provides."""
    seen: dict[str, metadata.Distribution] = {}
    pending = list(roots)
    while pending:
        name = _canonical(pending.pop())
        if name in seen or name in RUNTIME_PROVIDED:
            continue
        try:
            distribution = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            raise BundleError(f"{name} is not installed in this interpreter; install the project") from None
        seen[name] = distribution
        for text in distribution.requires or ():
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                pending.append(requirement.name)
    return [seen[name] for name in sorted(seen)]


def _copy_distribution(distribution: metadata.Distribution, destination: Path) -> None:
    for file in distribution.files or ():
        parts = Path(file).parts
        # Skip console scripts (installed outside site-packages) and byte-code caches.
        if parts[0] == ".." or "__pycache__" in parts or file.suffix == ".pyc":
            continue
        _copy_file(Path(str(distribution.locate_file(file))), destination / file)


def _copy_file(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)


def _reset(directory: Path) -> None:
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)


def _canonical(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")
