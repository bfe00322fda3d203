"""The Lambda bundles import their handlers with nothing but what Lambda provides."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path

from zoho_infra.assets import INGRESS_HANDLER
from zoho_infra.onboarding import HANDLER_MODULE, STEPS

from zoho_pipelines_tests.cdk.conftest import Synthesized

# Imports the module in a fresh interpreter without site-packages (-S: no .pth files, so not the
# editable install either), then prints where every loaded module came from.
PROBE = """
import importlib, sys
sys.path[:0] = sys.argv[2].split(":")
module = importlib.import_module(sys.argv[1])
for name in sys.argv[3].split(","):
    assert callable(getattr(module, name)), name
for loaded in list(sys.modules.values()):
    origin = getattr(loaded, "__file__", None)
    if origin:
        print(origin)
"""


def loaded_files(module: str, paths: list[Path], handlers: list[str]) -> list[Path]:
    result = subprocess.run(
        [sys.executable, "-S", "-c", PROBE, module, ":".join(map(str, paths)), ",".join(handlers)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return [Path(line) for line in result.stdout.splitlines()]


def test_the_onboarding_bundle_is_self_contained(synthesized: Synthesized) -> None:
    bundle = synthesized.outdir / "bundles" / "onboarding"
    assert not (bundle / "boto3").exists()  # the runtime provides it
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    files = loaded_files(HANDLER_MODULE, [bundle], [step.handler for step in STEPS])
    outside = [f for f in files if not (f.is_relative_to(bundle) or f.is_relative_to(stdlib))]
    assert outside == []
    assert any(f.is_relative_to(bundle / "pydantic_core") for f in files)


def test_the_ingress_bundle_needs_only_the_standard_library_and_boto3(synthesized: Synthesized) -> None:
    bundle = synthesized.outdir / "bundles" / "ingress"
    site_packages = Path(sysconfig.get_paths()["purelib"])
    module, handler = INGRESS_HANDLER.rsplit(".", 1)
    files = loaded_files(module, [bundle, site_packages], [handler])
    from_site = {f.relative_to(site_packages).parts[0] for f in files if f.is_relative_to(site_packages)}
    assert from_site <= {"boto3", "botocore", "jmespath", "dateutil", "s3transfer", "urllib3", "six.py"}
    assert all(f.is_relative_to(bundle) for f in files if "zoho_pipelines" in f.parts)
