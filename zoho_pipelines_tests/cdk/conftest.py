"""The CDK app, synthesized once per test session (jsii start-up and synthesis take seconds).

The app is composed exactly as `cdk/app.py` composes it, with cdk.json's context and the AWS
Solutions (cdk-nag) checks; only CloudFormation's built-in template validation is off (cfn-lint
covers the templates, see test_cfn_lint.py). A synthesis with any unacknowledged nag finding
raises, so the fixture itself proves the nag pass.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

REPO = Path(__file__).resolve().parents[2]
CDK_DIR = REPO / "cdk"
if str(CDK_DIR) not in sys.path:  # zoho_infra lives beside the app, not in the installed package
    sys.path.insert(0, str(CDK_DIR))


def load_app_module() -> ModuleType:
    """cdk/app.py as a module (it puts cdk/ on sys.path for zoho_infra)."""
    if "zoho_cdk_app" in sys.modules:
        return sys.modules["zoho_cdk_app"]
    spec = importlib.util.spec_from_file_location("zoho_cdk_app", CDK_DIR / "app.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["zoho_cdk_app"] = module
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class Synthesized:
    stacks: Any  # app.Stacks
    templates: dict[str, Any]  # stack attribute name -> aws_cdk.assertions.Template
    outdir: Path
    seconds: float

    def template_files(self) -> list[Path]:
        return sorted(self.outdir.glob("*.template.json"))


@pytest.fixture(scope="session")
def app_module() -> ModuleType:
    return load_app_module()


@pytest.fixture(scope="session")
def synthesized(app_module: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    import aws_cdk as cdk
    from aws_cdk.assertions import Template
    from zoho_infra.config import cdk_json_context

    outdir = tmp_path_factory.mktemp("cdk.out")
    started = time.perf_counter()
    app = cdk.App(context=cdk_json_context(), outdir=str(outdir), builtin_cloud_formation_validation=False)
    stacks = app_module.compose(app)
    app.synth()
    seconds = time.perf_counter() - started
    names = ("observability", "network", "data", "onboarding", "events", "ingress", "dagster")
    templates = {name: Template.from_stack(getattr(stacks, name)) for name in names}
    return Synthesized(stacks=stacks, templates=templates, outdir=outdir, seconds=seconds)
