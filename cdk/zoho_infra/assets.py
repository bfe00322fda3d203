"""Lambda code assets staged from this checkout, without Docker.

Two bundles:
- the ingress: exactly the modules its handler imports (it needs nothing beyond the standard
  library and the boto3 the Lambda runtime ships), so the webhook path stays small and auditable;
- the onboarding tasks: the Zoho client layer plus its third-party packages, copied from the
  folder `scripts/install cdk` prepares with the wheels uv.lock names for the Lambda runtime
  (`zoho_infra.lambda_dependencies`): pydantic-core and orjson ship compiled wheels, so the
  bundle must not depend on the interpreter or the machine that synthesizes. Synthesis stays
  offline and refuses, saying what to run, when that folder is missing or stale.

Bundles are staged under the cloud assembly's directory and rebuilt on every synthesis; CDK
fingerprints their contents, so an unchanged bundle keeps its asset hash.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from aws_cdk import aws_lambda as lambda_

from zoho_infra.lambda_dependencies import prepared_packages

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
# The runtime and CPU the packages are prepared for (lambda_dependencies.TARGET names the same).
ONBOARDING_RUNTIME = lambda_.Runtime.PYTHON_3_13
ONBOARDING_ARCHITECTURE = lambda_.Architecture.X86_64


def onboarding_runtime() -> tuple[lambda_.Runtime, lambda_.Architecture]:
    """The Lambda runtime and architecture the onboarding bundle's compiled wheels are built for."""
    return ONBOARDING_RUNTIME, ONBOARDING_ARCHITECTURE


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
    with prepared_packages() as packages:

        def installer_traces(directory: str, names: list[str]) -> set[str]:
            """Console scripts (bin/), of no use to a handler, and the RECORDs listing their hashes:
            both carry the path of the interpreter uv found, and without them the bundle, so its
            asset hash, is the same on every machine."""
            if Path(directory) == packages:
                return {"bin"} & set(names)
            return {"RECORD"} & set(names) if directory.endswith(".dist-info") else set()

        shutil.copytree(packages, destination, ignore=installer_traces, dirs_exist_ok=True)
    return destination


def _copy_file(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)


def _reset(directory: Path) -> None:
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
