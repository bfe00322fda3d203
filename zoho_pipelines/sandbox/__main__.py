"""`python -m zoho_pipelines.sandbox`: every SandboxConfig field is a flag; prints its URL first."""

from __future__ import annotations

import argparse
import dataclasses
from datetime import datetime

from zoho_pipelines.sandbox.config import SandboxConfig
from zoho_pipelines.sandbox.server import serve


def parse_config(argv: list[str] | None = None) -> SandboxConfig:
    parser = argparse.ArgumentParser(prog="python -m zoho_pipelines.sandbox", description=__doc__)
    defaults = SandboxConfig()
    for item in dataclasses.fields(SandboxConfig):
        default = getattr(defaults, item.name)
        kind = datetime.fromisoformat if item.name == "anchor" else type(default)
        parser.add_argument("--" + item.name.replace("_", "-"), dest=item.name, type=kind, default=default)
    return SandboxConfig(**vars(parser.parse_args(argv)))


if __name__ == "__main__":
    serve(parse_config())
