"""The ingress ships in a Lambda with only the standard library and boto3: prove that importing
and running it (through a rejected and a published request) loads nothing else."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

# boto3 and what boto3 itself needs; everything else must come from the standard library.
# (botocore uses certifi's CA bundle when it is installed, and falls back to its own otherwise.)
BOTO3_FAMILY = {"boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six", "certifi"}
# The package's own modules the Lambda asset has to carry (all standard-library only).
OWN_MODULES = {
    "zoho_pipelines",
    "zoho_pipelines.events",
    "zoho_pipelines.events.ingress",
    "zoho_pipelines.events.model",
    "zoho_pipelines.events.publisher",
    "zoho_pipelines.events.request",
    "zoho_pipelines.events.webhook_auth",
}

PROBE = textwrap.dedent(
    """
    import json, os, sys
    baseline = set(sys.modules)  # what the interpreter and site hooks loaded before us
    os.environ.update({
        "ZOHO_WEBHOOK_SECRETS": "probe-secret",
        "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
    })
    from zoho_pipelines.events.ingress import handler
    body = json.dumps({"module": "Leads", "operation": "insert", "id": "1"})
    statuses = [
        handler({"headers": {"x-zoho-secret": "nope"}, "body": body}, None)["statusCode"],
        # Accepted, then PutEvents to a closed port: the whole publishing path gets imported.
        handler({"headers": {"x-zoho-secret": "probe-secret"}, "body": body}, None)["statusCode"],
    ]
    print(json.dumps({"statuses": statuses, "modules": sorted(set(sys.modules) - baseline)}))
    """
)


def test_ingress_imports_only_the_standard_library_and_boto3() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=120
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["statuses"] == [401, 503]

    modules = set(report["modules"])
    top_level = {name.split(".")[0] for name in modules}
    # multiprocessing (standard library, loaded by the SDK) registers __main__ as "__mp_main__".
    foreign = top_level - set(sys.stdlib_module_names) - BOTO3_FAMILY - {"zoho_pipelines", "__mp_main__"}
    assert foreign == set(), f"the ingress pulled in {sorted(foreign)}"
    own = {name for name in modules if name.split(".")[0] == "zoho_pipelines"}
    assert own <= OWN_MODULES, f"unexpected package modules: {sorted(own - OWN_MODULES)}"
    assert "zoho_pipelines.settings" not in modules
    assert "pydantic" not in top_level
