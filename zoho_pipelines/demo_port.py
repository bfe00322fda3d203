"""The demo sandbox's port: the default one, or a free one when the default is taken."""

from __future__ import annotations

import dataclasses
import errno
from collections.abc import Callable

from zoho_pipelines.sandbox.server import RunningSandbox, SandboxConfig, start_sandbox

DEFAULT_PORT = 8765


class PortInUseError(Exception):
    """The port asked for is taken; the message says how to get past it."""


def start_demo_sandbox(config: SandboxConfig, on_fallback: Callable[[str], None]) -> RunningSandbox:
    """A subprocess sandbox on `config.port`, or, when that is the taken default, on a free port.

    The default is the port of the README's optional background sandbox (or another demo's), which
    may be up; the demo then takes another and says so through `on_fallback`. A port asked for
    explicitly is not second-guessed. The port is bound, not probed, so two demos started together
    cannot both find it free.
    """
    try:
        return start_sandbox(config, subprocess=True)
    except OSError as error:
        if error.errno != errno.EADDRINUSE:
            raise
        if config.port != DEFAULT_PORT:
            raise PortInUseError(
                f"port {config.port} is in use: stop what listens there, or pass --port 0 for a free one"
            ) from None
    on_fallback(
        f"Port {config.port} is in use (the README's background sandbox?): using a free port; "
        f"demo.env and the next steps below point at it, not at {config.port}."
    )
    return start_sandbox(dataclasses.replace(config, port=0), subprocess=True)
