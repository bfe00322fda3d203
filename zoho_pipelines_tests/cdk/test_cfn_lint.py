"""cfn-lint on every synthesized template: no error, and no warning beyond two CDK patterns.

The Lambda runtime deprecation rules (E2531, E2533, W2531) run too: they compare the runtimes
with the machine's calendar, which is why the onboarding functions are on python3.13 (deprecated
2029-06-30) and the ingress on python3.14; scripts/test-a-year-ahead runs this a year on."""

from __future__ import annotations

from cfnlint.api import ManualArgs, lint

from zoho_pipelines_tests.cdk.conftest import Synthesized

REGION = "us-east-1"  # cdk.json's region
IGNORED = {
    # CDK adds an explicit DependsOn on a role next to the GetAtt that already implies it
    # (so the role's policy exists before the function); harmless redundancy in generated code.
    "W3005",
    # Availability zones come from context on purpose: an environment-agnostic stack cannot
    # resolve three zones itself, and Redshift Serverless needs three (see cdk/zoho_infra/config.py).
    "W3010",
}


def test_templates_pass_cfn_lint(synthesized: Synthesized) -> None:
    files = synthesized.template_files()
    assert len(files) == 7
    findings = []
    for path in files:
        # The rules the cfn-lint command runs by default (errors and warnings), in the app's region.
        matches = lint(path.read_text(encoding="utf-8"), config=ManualArgs(regions=[REGION]))
        findings += [f"{path.name}: {m.rule.id} {m.message}" for m in matches if m.rule.id not in IGNORED]
    assert findings == []
    assert all(rule.startswith("W") for rule in IGNORED)  # nothing at error level is ever ignored
