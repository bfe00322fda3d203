"""The image installs the project as pyproject.toml pins it, and that is enough for deploy/dagster.yaml.

No Docker engine runs here, so the image is not built; what can break it is checked instead: the
Dockerfile installs the project and nothing pinned beside it, and every module the production
instance loads comes from a runtime dependency with an exact pin (the dev extra is not installed
in the image).
"""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path

import yaml
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "deploy" / "Dockerfile"


def runtime_requirements() -> dict[str, Requirement]:
    document = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    requirements = [Requirement(text) for text in document["project"]["dependencies"]]
    return {metadata.distribution(r.name).metadata["Name"].lower(): r for r in requirements}


def loaded_modules() -> set[str]:
    """Top-level packages deploy/dagster.yaml makes Dagster import."""
    instance = yaml.safe_load((REPO / "deploy" / "dagster.yaml").read_text(encoding="utf-8"))
    modules = {instance[section]["module"] for section in ("run_launcher", "compute_logs")}
    if "postgres" in instance["storage"]:
        modules.add("dagster_postgres")
    return {module.split(".")[0] for module in modules}


def test_the_image_installs_the_project_and_nothing_beside_it() -> None:
    installs = [
        line.strip() for line in DOCKERFILE.read_text(encoding="utf-8").splitlines() if "pip install" in line
    ]
    assert installs == ["RUN pip install ."]


def test_every_module_the_instance_loads_is_a_pinned_runtime_dependency() -> None:
    requirements = runtime_requirements()
    providers = metadata.packages_distributions()
    for module in loaded_modules():
        (distribution,) = {name.lower() for name in providers[module]}
        assert distribution in requirements, f"{module} comes from {distribution}, not a runtime dependency"
        (specifier,) = requirements[distribution].specifier
        assert specifier.operator == "=="
        assert metadata.version(distribution) == specifier.version  # and that is what is installed here
    assert "dagster_postgres" in loaded_modules()
