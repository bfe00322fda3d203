"""The deployment with Textract on (context document_extractor=textract): the run tasks may call
exactly the six Textract analysis actions, get DOCUMENT_EXTRACTOR, and cdk-nag stays clean (the
synthesis runs the AWS Solutions checks and raises on any unacknowledged finding)."""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any

import pytest
from zoho_infra.contract import TEXTRACT_ACTIONS, TEXTRACT_RUN_GRANT, process

from zoho_pipelines_tests.cdk.contract_templates import deployed, missing_grants, undeclared_resources


@pytest.fixture(scope="module")
def textract_synthesis(app_module: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    import aws_cdk as cdk
    from aws_cdk.assertions import Template
    from zoho_infra.config import cdk_json_context

    context = {**cdk_json_context(), "document_extractor": "textract"}
    outdir = tmp_path_factory.mktemp("cdk.out.textract")
    app = cdk.App(context=context, outdir=str(outdir), builtin_cloud_formation_validation=False)
    stacks = app_module.compose(app)
    app.synth()
    names = ("network", "onboarding", "ingress", "dagster")
    return {name: Template.from_stack(getattr(stacks, name)) for name in names}


def test_run_tasks_get_the_textract_calls_and_the_setting(textract_synthesis: dict[str, Any]) -> None:
    run = process("dagster:run")
    found = deployed(textract_synthesis, run)
    granted = tuple(grant for grant in run.grants if grant.only_with is None)
    assert missing_grants(found, (*granted, TEXTRACT_RUN_GRANT)) == []
    assert undeclared_resources(found, run) == []
    (statement,) = [s for s in found.statements if "textract:" in json.dumps(s["Action"])]
    assert sorted(statement["Action"]) == sorted(TEXTRACT_ACTIONS)
    assert statement["Resource"] == "*"
    assert "DOCUMENT_EXTRACTOR" in found.variables


@pytest.mark.parametrize("name", ["dagster:webserver", "dagster:daemon", "ingress"])
def test_other_dagster_processes_get_no_textract(textract_synthesis: dict[str, Any], name: str) -> None:
    found = deployed(textract_synthesis, process(name))
    assert not [s for s in found.statements if "textract:" in json.dumps(s["Action"])]
