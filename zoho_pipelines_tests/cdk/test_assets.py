"""The Lambda bundles carry builds for their runtime and import their handlers with nothing but
what Lambda provides."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from zoho_infra.assets import INGRESS_HANDLER, ONBOARDING_ARCHITECTURE, ONBOARDING_RUNTIME
from zoho_infra.lambda_dependencies import (
    TARGET,
    DependenciesError,
    LambdaTarget,
    locked_requirements,
    prepare,
    prepared_packages,
)
from zoho_infra.onboarding import HANDLER_MODULE, STEPS

from zoho_pipelines_tests.cdk.conftest import Synthesized

# Imports the module in a fresh interpreter without site-packages (-S: no .pth files, so not the
# editable install either; -I: no PYTHON* variables, no current directory), then prints where
# every loaded module came from.
PROBE = """
import importlib, sys
sys.path[:0] = sys.argv[2].split(":")
module = importlib.import_module(sys.argv[1])
for name in sys.argv[3].split(","):
    assert callable(getattr(module, name)), name
for loaded in list(sys.modules.values()):
    origin = getattr(loaded, "__file__", None)
    if origin:
        print(origin)
"""
# Under the onboarding runtime's CPython: the first handler on an event with a setting pydantic
# rejects, so pydantic-core's compiled validator runs; prints the error, the standard library's
# directory and every loaded file.
ONBOARDING_PROBE = """
import importlib, sys, sysconfig
sys.path[:0] = [sys.argv[1]]
module = importlib.import_module(sys.argv[2])
try:
    getattr(module, sys.argv[3])({})
except Exception as error:
    print(f"{type(error).__name__}: {error}")
print(sysconfig.get_paths()["stdlib"])
for loaded in list(sys.modules.values()):
    origin = getattr(loaded, "__file__", None)
    if origin:
        print(origin)
"""
ELF_MACHINE_X86_64 = 0x3E  # e_machine, bytes 18-19 of an ELF header (little-endian)
COMPILED = {"orjson", "pydantic_core"}


def loaded_files(module: str, paths: list[Path], handlers: list[str]) -> list[Path]:
    result = subprocess.run(
        [sys.executable, "-S", "-c", PROBE, module, ":".join(map(str, paths)), ",".join(handlers)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return [Path(line) for line in result.stdout.splitlines()]


def onboarding_bundle(synthesized: Synthesized) -> Path:
    return synthesized.outdir / "bundles" / "onboarding"


def test_the_onboarding_bundle_carries_cpython_313_x86_64_builds(synthesized: Synthesized) -> None:
    bundle = onboarding_bundle(synthesized)
    assert not (bundle / "boto3").exists()  # the runtime provides it
    # Console scripts and the RECORDs hashing them name the interpreter uv found: left out, the
    # bundle (and its asset hash) does not depend on the machine that prepared it.
    assert not (bundle / "bin").exists()
    assert list(bundle.glob("*.dist-info/RECORD")) == []
    assert len(list(bundle.glob("*.dist-info/METADATA"))) == len(list(bundle.glob("*.dist-info")))
    extensions = sorted(bundle.rglob("*.so"))
    assert {f.relative_to(bundle).parts[0] for f in extensions} == COMPILED
    for extension in extensions:
        assert extension.name.endswith(".cpython-313-x86_64-linux-gnu.so"), extension
        header = extension.read_bytes()[:20]
        assert header[:4] == b"\x7fELF"
        assert int.from_bytes(header[18:20], "little") == ELF_MACHINE_X86_64, extension
    tags = {
        wheel.parent.name.split("-")[0]: re.findall(r"^Tag: (\S+)$", wheel.read_text(), re.MULTILINE)
        for wheel in bundle.glob("*.dist-info/WHEEL")
    }
    compiled = {name for name, wheel_tags in tags.items() if any("none-any" not in t for t in wheel_tags)}
    assert compiled == COMPILED
    for name in compiled:
        assert tags[name]
        assert all(re.fullmatch(r"cp313-cp313-manylinux(2014|_2_\d+)_x86_64", tag) for tag in tags[name])
    assert not [f for f in bundle.rglob("*") if re.search(r"cp311|cpython-311", f.name)]


def test_the_onboarding_functions_run_the_runtime_their_packages_are_for(synthesized: Synthesized) -> None:
    assert ONBOARDING_RUNTIME.name == f"python{TARGET.python}"
    assert ONBOARDING_ARCHITECTURE.name == TARGET.machine
    functions = synthesized.templates["onboarding"].find_resources("AWS::Lambda::Function")
    assert len(functions) == len(STEPS)
    for function in functions.values():
        assert function["Properties"]["Runtime"] == "python3.13"
        assert function["Properties"]["Architectures"] == ["x86_64"]
    (ingress,) = synthesized.templates["ingress"].find_resources("AWS::Lambda::Function").values()
    assert ingress["Properties"]["Runtime"] == "python3.14"


def lambda_cpython() -> str:
    """A local CPython of the onboarding runtime's version: on PATH, or pyenv's or uv's."""
    name = f"python{TARGET.python}"
    installed = [
        *Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")).glob(
            f"versions/{TARGET.python}*/bin/{name}"
        ),
        *(Path.home() / ".local/share/uv/python").glob(f"cpython-{TARGET.python}*/bin/{name}"),
    ]
    for candidate in filter(None, [shutil.which(name), *map(str, sorted(installed))]):
        check = subprocess.run(
            [
                candidate,
                "-c",
                "import sys; print(sys.implementation.name, *sys.version_info[:2], sys.executable)",
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
        *version, executable = check.stdout.split() or [""]
        if version == ["cpython", *TARGET.python.split(".")]:
            return executable  # the interpreter itself, not a shim that needs its environment
    pytest.fail(
        f"importing the onboarding bundle as Lambda's {name} needs a CPython {TARGET.python}: "
        f"none runs as {name} on PATH or in ~/.pyenv/versions or ~/.local/share/uv/python; "
        f"install one (pyenv install {TARGET.python}, or uv python install {TARGET.python})"
    )


def test_the_onboarding_handlers_run_under_cpython_313_from_the_bundle_alone(
    synthesized: Synthesized, tmp_path: Path
) -> None:
    bundle = onboarding_bundle(synthesized)
    result = subprocess.run(
        [lambda_cpython(), "-S", "-I", "-c", ONBOARDING_PROBE, str(bundle), HANDLER_MODULE, STEPS[0].handler],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        cwd=tmp_path,  # no .env to read
        env={"ZOHO_TOKEN_MAX_WAIT_S": "soon"},
    )
    assert result.returncode == 0, result.stderr
    error, stdlib, *loaded = result.stdout.splitlines()
    assert error == (
        "ConfigurationError: invalid configuration: ZOHO_TOKEN_MAX_WAIT_S: Input should be a valid "
        "number, unable to parse string as a number (fix ZOHO_TOKEN_MAX_WAIT_S in the environment or .env)"
    )
    files = [Path(f) for f in loaded]
    outside = [f for f in files if not (f.is_relative_to(bundle) or f.is_relative_to(stdlib))]
    assert outside == []
    from_bundle = [f.relative_to(bundle) for f in files if f.is_relative_to(bundle)]
    assert {f.parts[0] for f in from_bundle if f.suffix == ".so"} == COMPILED  # loaded, not just present


def test_synthesis_refuses_packages_that_are_missing_or_from_another_lock(tmp_path: Path) -> None:
    folder = tmp_path / ".lambda" / TARGET.name
    with (
        pytest.raises(DependenciesError, match=r"are not in .*: run scripts/install cdk$"),
        prepared_packages(folder),
    ):
        pass
    folder.mkdir(parents=True)
    with (
        pytest.raises(DependenciesError, match=r"are not in .*: run scripts/install cdk$"),
        prepared_packages(folder),
    ):
        pass
    (folder / "requirements.txt").write_text(locked_requirements().replace("pydantic==", "pydantic==0"))
    with (
        pytest.raises(DependenciesError, match=r"prepared from another uv.lock: run scripts/install cdk$"),
        prepared_packages(folder),
    ):
        pass
    (folder / "requirements.txt").write_text(locked_requirements())
    with prepared_packages(folder) as packages:
        assert packages == folder / "packages"


def test_a_prepared_folder_matching_the_lock_is_left_alone(tmp_path: Path) -> None:
    folder = tmp_path / ".lambda" / TARGET.name
    folder.mkdir(parents=True)
    (folder / "requirements.txt").write_text(locked_requirements())
    assert prepare(uv=str(tmp_path / "no-uv"), folder=folder) is False  # uv is never run


LOCK = """
version = 1
[[package]]
name = "httpx"
version = "0.28.1"
dependencies = [
    { name = "exceptiongroup", marker = "python_full_version < '3.13'" },
    { name = "boto3" },
    { name = "idna", extra = ["codecs"] },
]
wheels = [{ hash = "sha256:11" }, { hash = "sha256:12" }]
[[package]]
name = "idna"
version = "3.21"
wheels = [{ hash = "sha256:21" }]
[package.optional-dependencies]
codecs = [{ name = "certifi" }]
[[package]]
name = "certifi"
version = "2026.10.19"
wheels = [{ hash = "sha256:81" }]
[[package]]
name = "exceptiongroup"
version = "1.3.0"
wheels = [{ hash = "sha256:31" }]
[[package]]
name = "orjson"
version = "3.13.0"
resolution-markers = ["python_full_version >= '3.13'"]
wheels = [{ hash = "sha256:41" }]
[[package]]
name = "orjson"
version = "3.10.0"
resolution-markers = ["python_full_version < '3.13'"]
wheels = [{ hash = "sha256:42" }]
[[package]]
name = "pydantic"
version = "2.14.4"
dependencies = [{ name = "pydantic-settings" }]
wheels = [{ hash = "sha256:51" }]
[[package]]
name = "pydantic-settings"
version = "2.16.3"
dependencies = [{ name = "pydantic" }]
wheels = [{ hash = "sha256:61" }]
[[package]]
name = "tenacity"
version = "9.2.1"
wheels = [{ hash = "sha256:71" }]
"""


def test_the_pins_follow_the_lambda_runtime_not_this_interpreter(tmp_path: Path) -> None:
    lock = tmp_path / "uv.lock"
    lock.write_text(LOCK)
    pins = [line for line in locked_requirements(lock).splitlines() if "==" in line]
    assert pins == [
        "certifi==2026.10.19 \\",
        "httpx==0.28.1 \\",
        "idna==3.21 \\",
        "orjson==3.13.0 \\",
        "pydantic==2.14.4 \\",
        "pydantic-settings==2.16.3 \\",
        "tenacity==9.2.1 \\",
    ]
    older = LambdaTarget(python="3.11", machine="x86_64", uv_platform="x86_64-manylinux_2_28")
    assert "exceptiongroup==1.3.0 \\" in locked_requirements(lock, older)
    assert "orjson==3.10.0 \\" in locked_requirements(lock, older)
    assert "    --hash=sha256:11 \\\n    --hash=sha256:12\n" in locked_requirements(lock)


def test_the_ingress_bundle_needs_only_the_standard_library_and_boto3(synthesized: Synthesized) -> None:
    bundle = synthesized.outdir / "bundles" / "ingress"
    site_packages = Path(sysconfig.get_paths()["purelib"])
    module, handler = INGRESS_HANDLER.rsplit(".", 1)
    files = loaded_files(module, [bundle, site_packages], [handler])
    from_site = {f.relative_to(site_packages).parts[0] for f in files if f.is_relative_to(site_packages)}
    assert from_site <= {"boto3", "botocore", "jmespath", "dateutil", "s3transfer", "urllib3", "six.py"}
    assert all(f.is_relative_to(bundle) for f in files if "zoho_pipelines" in f.parts)
