"""The one-time Redshift grant: the deploy guide runs the statements the code defines, for the user
the Dagster stack outputs, which is the database user of the run tasks' role (the only role that
may call GetCredentials)."""

from __future__ import annotations

from zoho_infra.data import WAREHOUSE_IAM_ROLE_USER_PREFIX, warehouse_grant_statements

from zoho_pipelines_tests.cdk.conftest import REPO, Synthesized
from zoho_pipelines_tests.cdk.contract_templates import allowed_actions, role_statements

GUIDE = (REPO / "deploy" / "README.md").read_text(encoding="utf-8")


def test_the_warehouse_user_output_names_the_role_that_logs_in_to_redshift(synthesized: Synthesized) -> None:
    template = synthesized.templates["dagster"]
    output = template.to_json()["Outputs"]["WarehouseUser"]["Value"]
    prefix, role = output["Fn::Join"][1]
    assert prefix == WAREHOUSE_IAM_ROLE_USER_PREFIX
    role_id = role["Ref"]
    assert "redshift-serverless:GetCredentials" in allowed_actions(role_statements(template, role_id))
    others = [
        key
        for key, value in template.find_resources("AWS::IAM::Role").items()
        if key != role_id and "ecs-tasks" in str(value)
    ]
    for other in others:  # the webserver's and daemon's roles, and the execution roles, never log in
        assert not [a for a in allowed_actions(role_statements(template, other)) if a.startswith("redshift")]


def test_the_guide_runs_the_statements_the_code_defines() -> None:
    for sql in warehouse_grant_statements("$WAREHOUSE_USER"):
        assert f'"{sql.replace(chr(34), chr(92) + chr(34))}"' in GUIDE, sql
    assert "Outputs[?OutputKey=='WarehouseUser'].OutputValue" in GUIDE
