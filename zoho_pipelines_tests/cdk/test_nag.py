"""AWS Solutions checks (cdk-nag): nothing unacknowledged, every acknowledgement with a reason,
and proof that the checks are really wired in (an offending construct fails synthesis)."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3
from cdk_nag import AwsSolutionsChecks
from zoho_infra.nag import MIN_REASON_LENGTH, acknowledge

from zoho_pipelines_tests.cdk.conftest import Synthesized


def acknowledgements(synthesized: Synthesized) -> list[tuple[str, str, str]]:
    """(construct path, rule, reason) for every acknowledgement in the app."""
    found = []
    key = cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY
    for stack in synthesized.stacks.all():
        for construct in stack.node.find_all():
            for entry in construct.node.metadata:
                if entry.type == key:
                    # {"Annotation::<rule id>": reason}
                    # (CDK acknowledges some of its own template-validation rules the same way.)
                    for rule, reason in entry.data.items():
                        if rule.startswith("Annotation::AwsSolutions-"):
                            found.append((construct.node.path, rule.split("::", 1)[1], reason))
    return found


def test_the_app_synthesizes_with_aws_solutions_checks(synthesized: Synthesized) -> None:
    # The session fixture synthesized with the nag plugin: any unacknowledged finding raises there.
    assert len(synthesized.template_files()) == 7


def test_every_acknowledgement_names_a_rule_and_gives_a_reason(synthesized: Synthesized) -> None:
    found = acknowledgements(synthesized)
    assert found, "the app acknowledges findings; none were read back"
    for path, rule, reason in found:
        assert len(reason) >= MIN_REASON_LENGTH, (path, rule)


def test_an_unacknowledged_finding_fails_synthesis(
    tmp_path: pytest.TempPathFactory, app_module: ModuleType
) -> None:
    app = cdk.App(outdir=str(tmp_path), builtin_cloud_formation_validation=False)
    stack = cdk.Stack(app, "Offending")
    s3.Bucket(stack, "Plain")  # no access logs, no TLS-only policy
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    with pytest.raises(RuntimeError, match="AwsSolutions-S10"):
        app.synth()


def test_a_short_reason_is_refused() -> None:
    app = cdk.App()
    with pytest.raises(ValueError, match="real reason"):
        acknowledge(cdk.Stack(app, "S"), "AwsSolutions-S1", "because")


def test_every_acknowledgement_is_needed(
    app_module: ModuleType, tmp_path: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Synthesize again with acknowledgements recorded instead of applied: each must match a
    finding on its construct or below, so none outlives the finding it was written for."""
    from zoho_infra import config, nag

    recorded: list[tuple[str, str]] = []

    class Recording:
        @staticmethod
        def of(scope: cdk.IConstruct) -> Any:
            class Recorder:
                def acknowledge(self, rule: cdk.Acknowledgment) -> None:
                    recorded.append((scope.node.path, rule.id))

            return Recorder()

    monkeypatch.setattr(nag, "Validations", Recording)
    app = cdk.App(
        context=config.cdk_json_context(), outdir=str(tmp_path), builtin_cloud_formation_validation=False
    )
    app_module.compose(app)
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    report = json.loads((Path(str(tmp_path)) / "validation-report.json").read_text(encoding="utf-8"))
    findings = {
        (construct["constructPath"], violation["ruleName"])
        for plugin in report["pluginReports"]
        for violation in plugin["violations"]
        for construct in violation["violatingConstructs"]
    }
    unused = [
        (path, rule)
        for path, rule in recorded
        if not any(found == rule and (at == path or at.startswith(path + "/")) for at, found in findings)
    ]
    assert recorded
    assert unused == []
