"""The deployment contract against the synthesized templates: every process gets what it declares.

Half (b) of the contract: each process's Lambda function or ECS container carries every variable
its entry names (and nothing undeclared), secrets arrive as ECS secrets, its role allows each
declared action on its resource and reaches no contract resource it does not declare (each
Dagster process has its own task role). The other half (test_contract_code.py) proves the
entries cover what the code reads and calls.
"""

from __future__ import annotations

import pytest
from zoho_infra.contract import PROCESSES, Process

from zoho_pipelines_tests.cdk.conftest import Synthesized
from zoho_pipelines_tests.cdk.contract_templates import deployed, missing_grants, undeclared_resources

NAMES = [process.name for process in PROCESSES]


@pytest.mark.parametrize("process", PROCESSES, ids=NAMES)
def test_process_gets_every_declared_variable(synthesized: Synthesized, process: Process) -> None:
    found = deployed(synthesized.templates, process)
    context = synthesized.stacks.network.node
    optional = {name for name, key in process.optional.items() if context.try_get_context(key)}
    assert sorted((process.environment | optional) - found.variables) == []
    assert sorted(process.secrets - found.secrets) == []


@pytest.mark.parametrize("process", PROCESSES, ids=NAMES)
def test_process_gets_nothing_undeclared(synthesized: Synthesized, process: Process) -> None:
    found = deployed(synthesized.templates, process)
    assert sorted(found.variables - process.environment - set(process.optional)) == []
    assert sorted(found.secrets - process.secrets) == []


@pytest.mark.parametrize("process", PROCESSES, ids=NAMES)
def test_process_role_allows_every_declared_call(synthesized: Synthesized, process: Process) -> None:
    context = synthesized.stacks.network.node
    grants = tuple(g for g in process.grants if g.only_with is None or context.try_get_context(g.only_with))
    assert missing_grants(deployed(synthesized.templates, process), grants) == []


@pytest.mark.parametrize("process", PROCESSES, ids=NAMES)
def test_process_role_reaches_no_resource_it_does_not_declare(
    synthesized: Synthesized, process: Process
) -> None:
    assert undeclared_resources(deployed(synthesized.templates, process), process) == []
