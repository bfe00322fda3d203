"""A real PostgreSQL server for the warehouse tests: initdb into a temp dir, start, stop.

PostgreSQL's binaries refuse to run as root, so as root they run as the `postgres` OS user (the
Debian package creates it) via runuser, in a directory handed to that user. A machine without
PostgreSQL fails these tests loudly: CI installs it with `apt-get install -y postgresql`.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from zoho_pipelines.lake import LocalLake
from zoho_pipelines.warehouse import SqlWarehouse, open_warehouse
from zoho_pipelines_tests.warehouse.support import Partitions

INSTALL_HINT = "install it with `apt-get install -y postgresql` (Debian/Ubuntu)"


def _postgres_bin() -> Path:
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0,
    )
    for directory in reversed(candidates):
        if (directory / "initdb").exists() and (directory / "pg_ctl").exists():
            return directory
    on_path = shutil.which("pg_ctl")
    if on_path and shutil.which("initdb"):
        return Path(on_path).parent
    pytest.fail(f"PostgreSQL server binaries (initdb, pg_ctl) not found: {INSTALL_HINT}", pytrace=False)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class PostgresServer:
    port: int
    user: str = "postgres"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    binaries = _postgres_bin()
    prefix: list[str] = []
    if os.geteuid() == 0:
        runuser = shutil.which("runuser")
        try:
            account = pwd.getpwnam("postgres")
        except KeyError:
            pytest.fail(f"running as root needs the `postgres` OS user: {INSTALL_HINT}", pytrace=False)
        if runuser is None:
            pytest.fail("running as root needs `runuser` to start PostgreSQL as `postgres`", pytrace=False)
        prefix = [runuser, "-u", "postgres", "--"]
    home = Path(tempfile.mkdtemp(prefix="zoho-pg-"))
    data, sockets = home / "data", home / "sockets"
    sockets.mkdir()
    if prefix:
        for path in (home, sockets):
            os.chown(path, account.pw_uid, account.pw_gid)
    home.chmod(0o755)

    def run(*command: str) -> None:
        result = subprocess.run([*prefix, *command], capture_output=True, text=True, check=False)
        if result.returncode:
            pytest.fail(f"{command[0]} failed:\n{result.stdout}\n{result.stderr}", pytrace=False)

    port = _free_port()
    run(str(binaries / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8")
    options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
    run(
        str(binaries / "pg_ctl"),
        "-D",
        str(data),
        "-l",
        str(home / "server.log"),
        "-o",
        options,
        "-w",
        "start",
    )
    try:
        yield PostgresServer(port=port)
    finally:
        subprocess.run(
            [*prefix, str(binaries / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
            capture_output=True,
            check=False,
        )
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh, empty database per test, dropped afterwards."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server.url(), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield postgres_server.url(name)
    finally:
        with (
            psycopg.connect(postgres_server.url(), autocommit=True) as admin,
            contextlib.suppress(psycopg.Error),
        ):
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture
def partitions(tmp_path: Path) -> Partitions:
    return Partitions(LocalLake(tmp_path / "lake"))


@pytest.fixture(params=["duckdb", "postgresql"])
def warehouse(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlWarehouse]:
    """Each backend that loads Arrow itself: a DuckDB file, and a database on the real server."""
    if request.param == "duckdb":
        url = f"duckdb://{tmp_path / 'warehouse.duckdb'}"
    else:
        url = request.getfixturevalue("postgres_url")
    opened = open_warehouse(url)
    try:
        yield opened
    finally:
        opened.close()
