"""A throwaway PostgreSQL server: initdb into a temp dir, start on a free port, stop and remove.

Shared by the warehouse tests (as a session fixture) and the benchmarks (`bench/run.py`), so both
measure and test against the same real server set-up. PostgreSQL's binaries refuse to run as
root, so as root they run as the `postgres` OS user (the Debian package creates it) via runuser,
in a directory handed to that user. Durability is off (fsync, full-page writes): the data is
thrown away, and neither tests nor benchmarks should measure the disk's flush latency.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

INSTALL_HINT = "install it with `apt-get install -y postgresql` (Debian/Ubuntu)"
PORT_ATTEMPTS = 3


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server could be started here; the message says what is missing."""


@dataclass(frozen=True)
class PostgresServer:
    port: int
    user: str = "postgres"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"


def postgres_binaries() -> Path:
    """The newest installed server's bin directory (Debian's layout first, then PATH)."""
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
    raise PostgresUnavailable(f"PostgreSQL server binaries (initdb, pg_ctl) not found: {INSTALL_HINT}")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _run_as_prefix() -> tuple[list[str], pwd.struct_passwd | None]:
    """`runuser -u postgres --` and that account when running as root; nothing otherwise."""
    if os.geteuid() != 0:
        return [], None
    runuser = shutil.which("runuser")
    try:
        account = pwd.getpwnam("postgres")
    except KeyError:
        raise PostgresUnavailable(f"running as root needs the `postgres` OS user: {INSTALL_HINT}") from None
    if runuser is None:
        raise PostgresUnavailable("running as root needs `runuser` to start PostgreSQL as `postgres`")
    return [runuser, "-u", "postgres", "--"], account


@contextmanager
def running_postgres(*, settings: tuple[str, ...] = ()) -> Iterator[PostgresServer]:
    """A started server (trust auth, user `postgres`), stopped and deleted on exit.

    `settings` are extra `name=value` server settings, e.g. ("shared_buffers=256MB",).
    """
    binaries = postgres_binaries()
    prefix, account = _run_as_prefix()
    home = Path(tempfile.mkdtemp(prefix="zoho-pg-"))
    data, sockets = home / "data", home / "sockets"
    sockets.mkdir()
    if account is not None:
        for path in (home, sockets):
            os.chown(path, account.pw_uid, account.pw_gid)
    home.chmod(0o755)

    def run(*command: str) -> None:
        result = subprocess.run([*prefix, *command], capture_output=True, text=True, check=False)
        if result.returncode:
            raise PostgresUnavailable(f"{Path(command[0]).name} failed:\n{result.stdout}\n{result.stderr}")

    try:
        run(
            str(binaries / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "--no-sync",
            "-E",
            "UTF8",
        )
        log = home / "server.log"
        for attempt in range(1, PORT_ATTEMPTS + 1):
            # The port is free when probed, but the server binds it a moment later: another test
            # worker's server may take it first. The server then stops at once, saying so in its log.
            port = _free_port()
            options = " ".join(
                [
                    f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1",
                    "-c fsync=off -c full_page_writes=off",
                    *(f"-c {setting}" for setting in settings),
                ]
            )
            try:
                run(str(binaries / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "start")
                break
            except PostgresUnavailable:
                taken = log.exists() and "Address already in use" in log.read_text(errors="replace")
                if attempt == PORT_ATTEMPTS or not taken:
                    raise
                log.unlink()
        yield PostgresServer(port=port)
    finally:
        subprocess.run(
            [*prefix, str(binaries / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
            capture_output=True,
            check=False,
        )
        shutil.rmtree(home, ignore_errors=True)
