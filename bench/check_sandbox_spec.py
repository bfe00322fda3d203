"""Validate the sandbox's CRM responses against Zoho's official v8 OpenAPI JSON schemas.

A development check, not a test: the spec files are not part of the repository. Usage:

    .venv/bin/python bench/check_sandbox_spec.py --spec-dir ../shared/reference/zoho-crm-oas-v8

External $refs (raw.githubusercontent.com/.../v8.0/<file>.json) resolve to the local file of the
same name; OpenAPI 3.0's `nullable: true` becomes a JSON-schema null type. Prints one line per
check (OK or the first violations) and exits non-zero if any check failed.

One deliberate deviation: record.json types a record's `Tag` items with tags.json's Tag (the
Tags settings API object, which requires created_time, modified_by, ...), while the records API
returns tags as {"name", "id", "color_code"} (Zoho's Get Records samples,
https://www.zoho.com/crm/developer/docs/api/v8/get-records.html). Record.Tag is checked against
those three keys, with the types tags.json gives them; see `record_tags_as_returned`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from jsonschema import Draft7Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from zoho_pipelines.sandbox.server import SandboxConfig, start_sandbox

SPEC_BASE = "https://raw.githubusercontent.com/Zohocorp-Pvt-Ltd/crm-oas/refs/heads/main/v8.0/"
ANCHOR = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def nullable_to_json_schema(node: Any) -> Any:
    """OpenAPI 3.0 `nullable: true` -> JSON Schema `type: [..., "null"]` (enums gain None too)."""
    if isinstance(node, list):
        return [nullable_to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: nullable_to_json_schema(value) for key, value in node.items()}
    if converted.pop("nullable", False):
        if "type" in converted:
            converted["type"] = [converted["type"], "null"]
        if "enum" in converted:
            converted["enum"] = [*converted["enum"], None]
    return converted


def record_tags_as_returned(record_spec: Any, tags_spec: Any) -> Any:
    """record.json with Record.Tag items as the records API returns them (see the module docstring)."""
    tag = tags_spec["components"]["schemas"]["Tag"]
    keys = ("name", "id", "color_code")
    record = record_spec["components"]["schemas"]["Record"]
    record["properties"]["Tag"]["items"] = {
        "type": "object",
        "properties": {key: tag["properties"][key] for key in keys},
        "required": list(keys),
    }
    return record_spec


def load_registry(spec_dir: Path) -> Registry:
    resources = []
    tags_spec = json.loads((spec_dir / "tags.json").read_text())
    for path in sorted(spec_dir.glob("*.json")):
        contents = json.loads(path.read_text())
        if path.name == "record.json":
            contents = record_tags_as_returned(contents, tags_spec)
        contents = nullable_to_json_schema(contents)
        resources.append(
            (SPEC_BASE + path.name, Resource.from_contents(contents, default_specification=DRAFT7))
        )
    return Registry().with_resources(resources)


class Checker:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.failures = 0

    def check(self, name: str, document: str, pointer: str, payload: Any) -> None:
        schema = {"$ref": f"{SPEC_BASE}{document}#{pointer}"}
        validator = Draft7Validator(schema, registry=self.registry)
        errors = sorted(validator.iter_errors(payload), key=lambda error: list(error.absolute_path))
        if not errors:
            print(f"OK    {name}")
            return
        self.failures += 1
        print(f"FAIL  {name}: {len(errors)} violation(s)")
        for error in errors[:5]:
            where = "/".join(map(str, error.absolute_path)) or "(root)"
            print(f"        at {where}: {error.message[:200]}")


def run(spec_dir: Path) -> int:
    checker = Checker(load_registry(spec_dir))
    config = SandboxConfig(anchor=ANCHOR, records_per_module=500)
    with start_sandbox(config) as sandbox:
        token = httpx.post(
            f"{sandbox.url}/oauth/v2/token",
            params={
                "grant_type": "refresh_token",
                "client_id": config.client_id,
                "client_secret": config.client_secret,
                "refresh_token": config.refresh_token,
            },
        ).json()["access_token"]
        api = httpx.Client(
            base_url=sandbox.url, headers={"Authorization": f"Zoho-oauthtoken {token}"}, timeout=30
        )
        check: Callable[[str, str, str, Any], None] = checker.check
        crm = sandbox.state.crm
        lead, deal, other_deal = crm.ids("Leads")[0], crm.ids("Deals")[0], crm.ids("Deals")[1]
        leads = [spec.api_name for spec in crm.spec("Leads").fields]

        records = api.get("/crm/v8/Leads", params={"fields": ",".join(leads[:50]), "per_page": 200}).json()
        check(
            "GET records (Leads, 50 fields)", "record.json", "/components/schemas/Response_Wrapper", records
        )
        deals = api.get(
            "/crm/v8/Deals", params={"fields": ",".join(s.api_name for s in crm.spec("Deals").fields)}
        )
        check(
            "GET records (Deals, all fields)",
            "record.json",
            "/components/schemas/Response_Wrapper",
            deals.json(),
        )
        one = api.get(f"/crm/v8/Leads/{lead}").json()
        check("GET record", "record.json", "/components/schemas/Response_Wrapper", one)
        deleted = api.get("/crm/v8/Leads/deleted", params={"type": "all"}).json()
        check("GET deleted", "record.json", "/components/schemas/Deleted_Records_Wrapper", deleted)
        for label, response in (
            ("error: fields missing", api.get("/crm/v8/Leads")),
            (
                "error: discrete page limit",
                api.get("/crm/v8/Leads", params={"fields": "Last_Name", "page": 11}),
            ),
            ("error: invalid module", api.get("/crm/v8/Nope", params={"fields": "Last_Name"})),
            (
                "error: page_token mismatch",
                api.get(
                    "/crm/v8/Leads",
                    params={"fields": "Email", "page_token": records["info"]["next_page_token"]},
                ),
            ),
        ):
            check(label, "record.json", "/components/schemas/API_Exception", response.json())

        update = api.put(
            "/crm/v8/Deals",
            json={
                "data": [
                    {"id": str(deal), "Stage": "Closed Won"},
                    {"id": str(other_deal), "Amount": "lots"},
                    {"Stage": "x"},
                ]
            },
        ).json()
        for position, item in enumerate(update["data"]):
            pointer = "Success_Response" if item["status"] == "success" else "API_Exception"
            check(
                f"PUT result {position} ({item['code']})",
                "record.json",
                f"/components/schemas/{pointer}",
                item,
            )

        check(
            "GET fields (Leads)",
            "fields.json",
            "/components/schemas/Response_Wrapper",
            api.get("/crm/v8/settings/fields", params={"module": "Leads"}).json(),
        )
        check(
            "GET fields (Deals)",
            "fields.json",
            "/components/schemas/Response_Wrapper",
            api.get("/crm/v8/settings/fields", params={"module": "Deals"}).json(),
        )
        check(
            "GET modules",
            "modules.json",
            "/components/schemas/Response_Wrapper",
            api.get("/crm/v8/settings/modules").json(),
        )
        contracts = [spec.api_name for spec in crm.spec("Service_Contracts").fields]
        check(
            "GET fields (Service_Contracts, every field type)",
            "fields.json",
            "/components/schemas/Response_Wrapper",
            api.get("/crm/v8/settings/fields", params={"module": "Service_Contracts"}).json(),
        )
        check(
            "GET records (Service_Contracts, all fields)",
            "record.json",
            "/components/schemas/Response_Wrapper",
            api.get("/crm/v8/Service_Contracts", params={"fields": ",".join(contracts)}).json(),
        )
        check("GET org", "org.json", "/components/schemas/Response_Wrapper", api.get("/crm/v8/org").json())

        coql = api.post(
            "/crm/v8/coql",
            json={
                "select_query": "select Deal_Name, Amount, Account_Name from Deals "
                "where Amount > 1000 order by Amount desc limit 50"
            },
        )
        check("COQL result", "coql.json", "/components/schemas/Response_Wrapper", coql.json())
        for label, query, schema in (
            ("COQL syntax error", "select from Deals", "Syntax_Exception"),
            ("COQL invalid column", "select Nope from Deals", "Invalid_Query_Exception"),
            ("COQL limit", "select Deal_Name from Deals limit 5000", "Limit_Exceeded_Exception"),
            (
                "COQL select-clause joins > 15",
                "select "  # noqa: S608 - field names from the sandbox's own catalogue
                + ", ".join(f"Account_Name.{spec.api_name}" for spec in crm.spec("Accounts").fields[:16])
                + " from Deals",
                "Limit_Exceeded_Exception",
            ),
            ("COQL unquoted reserved word", "select External from Service_Contracts", "Syntax_Exception"),
            ("COQL image upload", "select Site_Photos from Service_Contracts", "Invalid_Query_Exception"),
            (
                "COQL criteria not in pairs",
                "select Deal_Name from Deals where id > 1 and id > 2 and id > 3",
                "Syntax_Exception",
            ),
        ):
            body = api.post("/crm/v8/coql", json={"select_query": query}).json()
            check(label, "coql.json", f"/components/schemas/{schema}", body)

        created = api.post(
            "/crm/bulk/v8/read",
            json={"query": {"module": {"api_name": "Deals"}, "fields": ["Deal_Name", "Stage"]}},
        ).json()
        check(
            "Bulk read create", "bulk_read.json", "/components/schemas/Success_Response", created["data"][0]
        )
        job_id = created["data"][0]["details"]["id"]
        deadline = time.monotonic() + 60
        while (job := api.get(f"/crm/bulk/v8/read/{job_id}").json())["data"][0]["state"] != "COMPLETED":
            if time.monotonic() > deadline:
                raise SystemExit("bulk job did not complete")
        check("Bulk read job", "bulk_read.json", "/components/schemas/Response_Wrapper", job)
        missing = api.get("/crm/bulk/v8/read/1").json()
        check("Bulk read unknown job", "bulk_read.json", "/components/schemas/Resource_Not_Found", missing)

        # The sandbox's clock starts at its anchor, so "within a week from now" is measured from there.
        expiry = (ANCHOR + timedelta(hours=3)).isoformat()
        watch = api.post(
            "/crm/v8/actions/watch",
            json={
                "watch": [
                    {
                        "channel_id": "1000000068001",
                        "events": ["Deals.all"],
                        "notify_url": "http://127.0.0.1:9/x",
                        "channel_expiry": expiry,
                    }
                ]
            },
        ).json()
        check("Watch enable", "notifications.json", "/components/schemas/SuccessWrapper", watch)
        check(
            "Watch details",
            "notifications.json",
            "/components/schemas/Response_Wrapper",
            api.get("/crm/v8/actions/watch").json(),
        )
        api.close()
    print(f"\n{checker.failures} check(s) failed")
    return 1 if checker.failures else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--spec-dir", type=Path, required=True, help="folder with Zoho's crm-oas v8 JSON files"
    )
    sys.exit(run(parser.parse_args().spec_dir))


if __name__ == "__main__":
    main()
