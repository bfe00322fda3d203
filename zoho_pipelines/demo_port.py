"""The demo sandbox's port: the default one, or a free one when the default is taken."""

from __future__ import annotations

import socket

DEFAULT_PORT = 8765


class PortInUseError(Exception):
    """The port asked for is taken; the message says how to get past it."""


def sandbox_port(requested: int, host: str = "127.0.0.1") -> int:
    """The port to start the sandbox on: `requested` when free, else for the default a free one (0).

    The default is the port of the README's optional background sandbox, which may still be up;
    the demo then takes another and prints it. A port asked for explicitly is not second-guessed.
    """
    if requested == 0 or _is_free(host, requested):
        return requested
    if requested == DEFAULT_PORT:
        return 0
    raise PortInUseError(
        f"port {requested} is in use: stop what listens there, or pass --port 0 for a free one"
    )


def _is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the sandbox binds it
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True
