"""`python cdk/app.py`, the documented entry point, synthesizes every stack offline.

The other CDK tests compose the app in-process; this one runs the script itself in a fresh
interpreter, with no AWS credentials and every proxy pointed at a closed port, exactly as the
README's step 3 runs it. "Offline" is checked where CDK records it: a synthesis that needed an
account lookup (AZs, VPCs, AMIs...) lists it under `missing` in the assembly manifest.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from zoho_pipelines_tests.cdk.conftest import CDK_DIR

STACKS = 7


def test_the_app_script_synthesizes_every_stack_without_lookups(tmp_path: Path) -> None:
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "CDK_"))}
    environment.update(
        JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="20",
        CDK_OUTDIR=str(tmp_path),
        AWS_EC2_METADATA_DISABLED="true",
        HTTP_PROXY="http://127.0.0.1:9",
        HTTPS_PROXY="http://127.0.0.1:9",
        NO_PROXY="",
    )
    result = subprocess.run(
        [sys.executable, str(CDK_DIR / "app.py")],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    manifest = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    assert "missing" not in manifest  # no context lookup was needed
    stacks = [a for a in manifest["artifacts"].values() if a["type"] == "aws:cloudformation:stack"]
    assert len(stacks) == STACKS
    assert len(list(tmp_path.glob("*.template.json"))) == STACKS
    # The environment-agnostic stacks still got the three zones Redshift Serverless needs.
    network = json.loads((tmp_path / "ZohoPipelinesNetwork.template.json").read_text(encoding="utf-8"))
    zones = {
        resource["Properties"]["AvailabilityZone"]
        for resource in network["Resources"].values()
        if resource["Type"] == "AWS::EC2::Subnet"
    }
    assert len(zones) == 3
