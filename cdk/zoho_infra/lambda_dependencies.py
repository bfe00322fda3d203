"""The onboarding Lambdas' third-party packages, installed for Lambda's runtime when the project is.

pydantic-core and orjson ship compiled wheels, so the bundle must carry the builds for the Lambda
runtime's CPython and CPU, whatever the machine that synthesizes runs. `scripts/install cdk` (and
the test set-up, `ensure_venv` in scripts/_bootstrap.sh) runs this module: it reads the packages'
exact versions and wheel hashes from uv.lock and has uv install those wheels for `TARGET` into
`.lambda/<target>/packages`, beside the hashed requirements it used. Synthesis only copies that
folder (offline, no Docker) and refuses when it is missing or was prepared from another uv.lock.

Usage: `python cdk/zoho_infra/lambda_dependencies.py --uv <uv executable>` (idempotent: a prepared
folder that matches uv.lock is left as it is).
"""

from __future__ import annotations

import argparse
import fcntl
import shutil
import subprocess
import tempfile
import tomllib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.markers import Marker

REPO_ROOT = Path(__file__).resolve().parents[2]
LOCK_FILE = REPO_ROOT / "uv.lock"


@dataclass(frozen=True)
class LambdaTarget:
    """A Lambda runtime and CPU, in the terms uv and PEP 508 markers use."""

    python: str  # CPython minor version of the Lambda runtime `python<python>`
    machine: str  # platform_machine of the Lambda architecture: x86_64 (or aarch64 for arm64)
    uv_platform: str  # uv's --python-platform: the wheel tags this machine and glibc accept

    @property
    def name(self) -> str:
        return f"python{self.python}-{self.machine}"

    def marker_environment(self) -> dict[str, str]:
        return {
            "implementation_name": "cpython",
            "platform_python_implementation": "CPython",
            "os_name": "posix",
            "sys_platform": "linux",
            "platform_system": "Linux",
            "platform_machine": self.machine,
            "python_version": self.python,
            "python_full_version": f"{self.python}.0",
            "extra": "",
        }


# python3.13 runs on Amazon Linux 2023 (glibc 2.34), and the stack declares x86_64, chosen here
# rather than taken from the build machine so a bundle prepared on an arm Mac is still right:
# https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html#runtimes-supported
# manylinux_2_28 wheels need glibc 2.28 or later, so every one uv picks loads there.
TARGET = LambdaTarget(python="3.13", machine="x86_64", uv_platform="x86_64-manylinux_2_28")
FOLDER = REPO_ROOT / ".lambda" / TARGET.name
REQUIREMENTS = "requirements.txt"
PACKAGES = "packages"

# What the onboarding code imports from outside the standard library, boto3 excepted.
ROOTS: tuple[str, ...] = ("httpx", "orjson", "pydantic", "pydantic-settings", "tenacity")
# Provided by every Python Lambda runtime; bundling them would only shadow the runtime's copies.
RUNTIME_PROVIDED = frozenset(
    {"boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six", "urllib3"}
)
INSTALL_COMMAND = "scripts/install cdk"


class DependenciesError(RuntimeError):
    """The onboarding Lambdas' packages cannot be prepared or are not prepared as uv.lock says."""


def locked_requirements(lock_file: Path = LOCK_FILE, target: LambdaTarget = TARGET) -> str:
    """Hashed requirements (pip's format) for ROOTS' run-time closure on `target`, from uv.lock.

    The text is also the folder's stamp: it names the target, so a new runtime or platform is
    as stale as a new lock."""
    lock = tomllib.loads(lock_file.read_text(encoding="utf-8"))
    environment = target.marker_environment()
    packages: dict[str, list[dict[str, Any]]] = {}
    for package in lock["package"]:
        packages.setdefault(package["name"], []).append(package)
    chosen: dict[str, dict[str, Any]] = {}
    followed: set[tuple[str, str]] = set()  # (package, extra or "" for its own dependencies)
    pending: list[Mapping[str, Any]] = [{"name": name} for name in ROOTS]
    while pending:
        dependency = pending.pop()
        name = dependency["name"]
        if name in RUNTIME_PROVIDED or not _applies(dependency.get("marker"), environment):
            continue
        if name not in chosen:
            chosen[name] = _locked_package(packages.get(name, []), dependency, environment)
        package = chosen[name]
        for extra in ("", *dependency.get("extra", [])):
            if (name, extra) not in followed:
                followed.add((name, extra))
                pending += (
                    package.get("optional-dependencies", {}).get(extra, [])
                    if extra
                    else package.get("dependencies", [])
                )
    lines = [
        f"# {', '.join(ROOTS)} and their dependencies from uv.lock, for CPython {target.python} "
        f"on {target.uv_platform} (cdk/zoho_infra/lambda_dependencies.py)"
    ]
    for name in sorted(chosen):
        package = chosen[name]
        hashes = sorted(wheel["hash"] for wheel in package.get("wheels", []))
        lines.append(" \\\n    ".join([f"{name}=={package['version']}", *(f"--hash={h}" for h in hashes)]))
    return "\n".join(lines) + "\n"


def prepare(uv: str, folder: Path = FOLDER, target: LambdaTarget = TARGET) -> bool:
    """Install the locked wheels for `target` into `folder` unless they are there already.

    The new folder is built beside the old one and renamed into place under an exclusive lock, so
    an overlapping run waits and a killed one leaves the previous folder (or none) behind, never
    half of one. Returns whether anything was installed."""
    requirements = locked_requirements(target=target)
    folder.parent.mkdir(parents=True, exist_ok=True)
    with _locked(folder, exclusive=True):
        if _stamp(folder) == requirements:
            return False
        for leftover in folder.parent.glob(f".{folder.name}.*"):  # from killed runs
            shutil.rmtree(leftover)
        build = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
        (build / REQUIREMENTS).write_text(requirements, encoding="utf-8")
        subprocess.run(  # noqa: S603 (uv from scripts/_bootstrap.sh, arguments from this module)
            [
                uv,
                "pip",
                "install",
                "--quiet",
                "--target",
                str(build / PACKAGES),
                "--python-version",
                target.python,
                "--python-platform",
                target.uv_platform,
                "--only-binary",
                ":all:",
                "--no-deps",  # the closure is uv.lock's, resolved above for the target
                "--require-hashes",
                "--requirement",
                str(build / REQUIREMENTS),
            ],
            check=True,
            cwd=REPO_ROOT,
        )
        if folder.exists():
            folder.rename(build.with_name(f"{build.name}.old"))
        build.rename(folder)
        for old in folder.parent.glob(f".{folder.name}.*"):
            shutil.rmtree(old)
    return True


@contextmanager
def prepared_packages(folder: Path = FOLDER, target: LambdaTarget = TARGET) -> Iterator[Path]:
    """The installed packages, held (a shared lock) against a concurrent `prepare` while in use.

    Raises DependenciesError, one line saying what to run, when the folder is missing or
    was prepared from another uv.lock."""
    missing = DependenciesError(
        f"the onboarding Lambdas' packages for {target.name} are not in {folder}: run {INSTALL_COMMAND}"
    )
    if not folder.parent.is_dir():
        raise missing
    with _locked(folder, exclusive=False):
        stamp = _stamp(folder)
        if stamp is None:
            raise missing
        if stamp != locked_requirements(target=target):
            raise DependenciesError(
                f"the onboarding Lambdas' packages in {folder} were prepared from another uv.lock: "
                f"run {INSTALL_COMMAND}"
            )
        yield folder / PACKAGES


def _locked_package(
    candidates: list[dict[str, Any]], dependency: Mapping[str, Any], environment: dict[str, str]
) -> dict[str, Any]:
    """The lock's entry for `dependency`: uv names the version when it locked several."""
    if "version" in dependency:
        candidates = [c for c in candidates if c["version"] == dependency["version"]]
    if len(candidates) > 1:
        candidates = [
            c
            for c in candidates
            if any(_applies(marker, environment) for marker in c.get("resolution-markers", []))
        ]
    if len(candidates) != 1:
        raise DependenciesError(f"uv.lock has no single entry for {dependency['name']}: run uv lock")
    return candidates[0]


def _applies(marker: str | None, environment: dict[str, str]) -> bool:
    return marker is None or Marker(marker).evaluate(environment)


def _stamp(folder: Path) -> str | None:
    try:
        return (folder / REQUIREMENTS).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


@contextmanager
def _locked(folder: Path, *, exclusive: bool) -> Iterator[None]:
    """An advisory lock beside `folder`; the kernel releases it when its holder dies."""
    with (folder.parent / f"{folder.name}.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uv", required=True, help="the uv executable (scripts/_bootstrap.sh's)")
    arguments = parser.parse_args()
    if prepare(arguments.uv):
        print(f"installed the onboarding Lambdas' packages for {TARGET.name} into {FOLDER}")


if __name__ == "__main__":
    main()
