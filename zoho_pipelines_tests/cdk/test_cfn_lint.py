"""cfn-lint on every synthesized template: no error, and no warning beyond two CDK patterns."""

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
DATED = {
    # Lambda runtime deprecation rules compare the template with the machine's calendar, so
    # the same template passes today and fails next year. Which runtime the functions use is
    # decided by the interpreter the bundle is built from (cdk/zoho_infra/assets.py); the
    # deployment guide says when each runtime retires (python3.11: deprecated 2027-06-30).
    "E2531",
    "E2533",
    "W2531",
}


def test_templates_pass_cfn_lint(synthesized: Synthesized) -> None:
    files = synthesized.template_files()
    assert len(files) == 7
    findings = []
    for path in files:
        # The rules the cfn-lint command runs by default (errors and warnings), in the app's region.
        matches = lint(path.read_text(encoding="utf-8"), config=ManualArgs(regions=[REGION]))
        skipped = IGNORED | DATED
        findings += [f"{path.name}: {m.rule.id} {m.message}" for m in matches if m.rule.id not in skipped]
    assert findings == []
    assert all(rule.startswith("W") for rule in IGNORED)  # nothing at error level is ever ignored
