"""The sandbox's command line: every SandboxConfig field is a flag; prints its URL first.

`python -m zoho_pipelines.sandbox` and `zoho-pipelines sandbox` are this one parser, so both take the
same flags. Run by hand it listens on 8765 by default; the test and demo runner passes --port itself.
"""

from __future__ import annotations

import argparse
import dataclasses
import socket
from collections.abc import Sequence
from datetime import datetime

from zoho_pipelines.sandbox.config import SandboxConfig
from zoho_pipelines.sandbox.server import LISTEN_FD_FLAG, serve

COMMAND_LINE_PORT = 8765
# Shorter spellings people type (and the README uses) for the longest field names.
ALIASES = {
    "records_per_module": "--records",
    "concurrency_limit": "--concurrency",
    "mutate_every_s": "--mutate-every",
}


def main(argv: Sequence[str] | None = None, prog: str = "python -m zoho_pipelines.sandbox") -> None:
    parser = _parser(prog)
    arguments = parser.parse_args(argv)
    if arguments.listen_fd is not None and not _is_listening_socket(arguments.listen_fd):
        parser.error(f"{LISTEN_FD_FLAG} {arguments.listen_fd} is not a listening socket this process has")
    serve(_config_of(arguments), listen_fd=arguments.listen_fd)


def _is_listening_socket(fd: int) -> bool:
    """Checked up front: a bad descriptor would be a traceback, and a socket that does not listen
    would be made to listen on some port nobody knows (asyncio calls listen() on what it is given)."""
    try:
        with socket.fromfd(fd, socket.AF_INET, socket.SOCK_STREAM) as probe:  # a duplicate, closed here
            return probe.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN) == 1
    except OSError:
        return False


def _parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Serve the local Zoho API stand-in (accounts, CRM v2-v8, Books v3, Projects).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    defaults = dataclasses.replace(SandboxConfig(), port=COMMAND_LINE_PORT)
    for item in dataclasses.fields(SandboxConfig):
        default = getattr(defaults, item.name)
        kind = datetime.fromisoformat if item.name == "anchor" else type(default)
        flags = ["--" + item.name.replace("_", "-")] + ([ALIASES[item.name]] if item.name in ALIASES else [])
        parser.add_argument(*flags, dest=item.name, type=kind, default=default, help=item.metadata["help"])
    parser.add_argument(
        LISTEN_FD_FLAG,
        dest="listen_fd",
        type=int,
        default=None,
        help="serve this inherited listening socket instead of binding --port (the demo's runner)",
    )
    return parser


def _config_of(arguments: argparse.Namespace) -> SandboxConfig:
    fields = dataclasses.fields(SandboxConfig)
    return SandboxConfig(**{item.name: getattr(arguments, item.name) for item in fields})


if __name__ == "__main__":
    main()
