"""Synthesize the CDK app offline, as `python cdk/app.py` does, and report what a deploy would create.

    JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 .venv/bin/python bench/cdk_report.py [--by-type] [--json]

Prints the time to load the CDK (jsii start-up) and to synthesize (composition, AWS Solutions
checks and CloudFormation's built-in template validation, all on, as in cdk/app.py), the
resources per stack (with --by-type, per resource type), and every cdk-nag acknowledgement with
its reason, grouped by rule and reason. The cloud assembly goes to a temporary directory.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from types import ModuleType
from typing import Any

REPO = Path(__file__).resolve().parents[1]
CDK_DIR = REPO / "cdk"
NAG_PREFIX = "Annotation::AwsSolutions-"


def load_app() -> ModuleType:
    spec = importlib.util.spec_from_file_location("zoho_cdk_app", CDK_DIR / "app.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the app defines them
    spec.loader.exec_module(module)
    return module


def resource_counts(template: dict[str, Any]) -> Counter[str]:
    return Counter(resource["Type"] for resource in template.get("Resources", {}).values())


def acknowledgements(stacks: list[Any]) -> dict[tuple[str, str], list[str]]:
    """(rule, reason) -> the construct paths it is acknowledged on."""
    import aws_cdk as cdk

    found: dict[tuple[str, str], list[str]] = defaultdict(list)
    for stack in stacks:
        for construct in stack.node.find_all():
            for entry in construct.node.metadata:
                if entry.type != cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY:
                    continue
                for rule, reason in entry.data.items():
                    if rule.startswith(NAG_PREFIX):
                        found[(rule.split("::", 1)[1], reason)].append(construct.node.path)
    return dict(found)


def report(*, by_type: bool) -> dict[str, Any]:
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    started = time.perf_counter()
    app_module = load_app()
    import aws_cdk as cdk
    from zoho_infra.config import cdk_json_context

    loaded = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="cdk-report-") as outdir:
        app = cdk.App(context=cdk_json_context(), outdir=outdir)
        stacks = app_module.compose(app)
        assembly = app.synth()
        synthesized = time.perf_counter()
        per_stack = {}
        for stack in stacks.all():
            counts = resource_counts(assembly.get_stack_by_name(stack.stack_name).template)
            per_stack[stack.stack_name] = {
                "resources": sum(counts.values()),
                **({"by_type": dict(sorted(counts.items()))} if by_type else {}),
            }
    return {
        "load_seconds": round(loaded - started, 2),
        "synth_seconds": round(synthesized - loaded, 2),
        "stacks": per_stack,
        "total_resources": sum(stack["resources"] for stack in per_stack.values()),
        "acknowledgements": [
            {"rule": rule, "reason": reason, "constructs": sorted(paths)}
            for (rule, reason), paths in sorted(acknowledgements(stacks.all()).items())
        ],
    }


def print_text(result: dict[str, Any]) -> None:
    print(f"load (jsii, imports): {result['load_seconds']:.2f} s")
    print(f"synth (compose, cdk-nag, template validation): {result['synth_seconds']:.2f} s")
    print(f"\nresources per stack ({result['total_resources']} in all):")
    for name, stack in result["stacks"].items():
        print(f"  {name:<28} {stack['resources']:>4}")
        for kind, count in stack.get("by_type", {}).items():
            print(f"      {kind:<48} {count:>3}")
    acknowledged = result["acknowledgements"]
    print(
        f"\ncdk-nag acknowledgements ({len(acknowledged)} distinct, "
        f"{sum(len(a['constructs']) for a in acknowledged)} placements):"
    )
    for entry in acknowledged:
        where = entry["constructs"]
        print(f"  {entry['rule']}  x{len(where)}  ({where[0]}{', ...' if len(where) > 1 else ''})")
        print(f"      {entry['reason']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--by-type", action="store_true", help="also count resources per type")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    args = parser.parse_args()
    result = report(by_type=args.by_type)
    if args.json:
        json.dump(result, sys.stdout, indent=2)
        print()
    else:
        print_text(result)


if __name__ == "__main__":
    main()
