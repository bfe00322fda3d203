"""Runners and ground truth: subprocess mode, /__sandbox endpoints, mutation, field catalogue."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

import httpx

from zoho_pipelines.sandbox.server import RunningSandbox, SandboxConfig, start_sandbox
from zoho_pipelines_tests.conftest import SANDBOX_ANCHOR
from zoho_pipelines_tests.sandbox.helpers import api_client


def test_subprocess_mode_serves_the_same_data(sandbox: RunningSandbox) -> None:
    config = SandboxConfig(anchor=SANDBOX_ANCHOR, records_per_module=sandbox.config.records_per_module)
    with start_sandbox(config, subprocess=True) as child:
        assert child.state is None
        with api_client(child) as remote, api_client(sandbox) as local:
            params = {"fields": "Last_Name,Email,Modified_Time", "per_page": 20}
            remote_page = remote.get("/crm/v8/Leads", params=params).json()
            local_page = local.get("/crm/v8/Leads", params=params).json()
        assert remote_page["data"] == local_page["data"]
        assert remote_page["info"]["more_records"] is local_page["info"]["more_records"] is True
        record_id = sandbox.state.crm.ids("Deals")[3]
        truth = httpx.get(f"{child.url}/__sandbox/truth/Deals/{record_id}").json()
        assert truth == sandbox.state.crm.record("Deals", record_id)
        assert child.stats()["calls"]["GET /crm/{version}/{module}"] == {"200": 1}
        assert child.env()["ZOHO_API_URL"] == child.url


def test_mutations_are_visible_in_truth_and_api(sandbox_factory: Callable[..., RunningSandbox]) -> None:
    running = sandbox_factory(records_per_module=300)
    crm = running.state.crm
    window_start = running.clock.now().replace(microsecond=0)  # mutations happen now, history ends earlier
    before = set(crm.ids("Contacts").tolist())
    changes = httpx.post(
        f"{running.url}/__sandbox/mutate", json={"module": "Contacts", "creates": 3, "edits": 4, "deletes": 2}
    ).json()
    after = set(crm.ids("Contacts").tolist())
    assert after == (before | {int(i) for i in changes["created"]}) - {int(i) for i in changes["deleted"]}
    end = window_start + timedelta(days=36_500)
    truth = httpx.get(
        f"{running.url}/__sandbox/truth/Contacts",
        params={"start": window_start.isoformat(), "end": end.isoformat()},
    ).json()
    assert sorted(truth["modified"]) == sorted(changes["created"] + changes["edited"])
    assert sorted(truth["deleted"]) == sorted(changes["deleted"])
    with api_client(running) as client:
        header = {"If-Modified-Since": window_start.isoformat()}
        listed = client.get("/crm/v8/Contacts", params={"fields": "Last_Name"}, headers=header).json()["data"]
        deleted = client.get("/crm/v8/Contacts/deleted", headers=header).json()["data"]
    assert sorted(record["id"] for record in listed) == sorted(truth["modified"])
    assert sorted(entry["id"] for entry in deleted) == sorted(truth["deleted"])


def test_leads_need_several_field_groups(sandbox: RunningSandbox) -> None:
    with api_client(sandbox) as client:
        fields = client.get("/crm/v8/settings/fields", params={"module": "Leads"}).json()["fields"]
    names = [field["api_name"] for field in fields]
    assert len(names) > 50
    assert any(name.endswith("__c") for name in names)
    data_types = {field["data_type"] for field in fields}
    assert {
        "text",
        "textarea",
        "email",
        "phone",
        "website",
        "picklist",
        "multiselectpicklist",
        "integer",
        "bigint",
        "double",
        "percent",
        "currency",
        "boolean",
        "date",
        "datetime",
        "ownerlookup",
        "userlookup",
        "autonumber",
        "formula",
    } <= data_types
    with api_client(sandbox) as client:
        halves = [
            client.get("/crm/v8/Leads", params={"fields": ",".join(part), "per_page": 10}).json()["data"]
            for part in (names[:40], names[40:])
        ]
    merged = {record["id"]: dict(record) for record in halves[0]}
    for record in halves[1]:
        merged[record["id"]].update(record)
    for record_id, record in merged.items():
        assert record == sandbox.state.crm.record("Leads", record_id)


def test_mutation_mode_keeps_changing_records(sandbox_factory: Callable[..., RunningSandbox]) -> None:
    running = sandbox_factory(records_per_module=200, mutate_every_s=0.02)
    started = running.config.anchor  # the sandbox's clock starts there; history ends before it
    far = started + timedelta(days=36_500)
    deadline = time.monotonic() + 20
    changed: set[str] = set()
    while changed != {"Leads", "Contacts", "Accounts", "Deals"} and time.monotonic() < deadline:
        changed = {
            module
            for module in ("Leads", "Contacts", "Accounts", "Deals")
            if running.state.crm.modified_ids(module, started, far)
        }
    assert changed == {"Leads", "Contacts", "Accounts", "Deals"}
