"""Starting `zoho-pipelines ingress` as its own process, for the benchmarks that load it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from suite.child import child_environment

# The ingress target is "> 500 requests/s on one core": the server gets core 0, the load the rest.
INGRESS_CORE = 0


def _default_sigint() -> None:
    """Children of some shells inherit an ignored SIGINT: restore it so the server can be stopped."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _pin_to_ingress_core() -> None:
    _default_sigint()
    if hasattr(os, "sched_setaffinity") and INGRESS_CORE in os.sched_getaffinity(0):
        os.sched_setaffinity(0, {INGRESS_CORE})


def start_ingress(home: Path, secret: str, *, pin_core: bool = True) -> tuple[subprocess.Popen[str], str]:
    """`zoho-pipelines ingress` on a free port with local queues under `home`; (process, url)."""
    environment = {
        key: value for key, value in child_environment().items() if not key.startswith(("AWS_", "EVENTS_"))
    }
    environment.update(ZOHO_PIPELINES_HOME=str(home), ZOHO_WEBHOOK_SECRETS=secret, EVENTS_TARGET="local")
    process = subprocess.Popen(
        [sys.executable, "-c", "from zoho_pipelines.cli import app; app()", "ingress", "--port", "0"],
        cwd=home,
        env=environment,
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=_pin_to_ingress_core if pin_core else _default_sigint,
    )
    assert process.stdout is not None
    match = re.search(r"listening on (http://\S+)", process.stdout.readline())
    if not match:
        process.kill()
        raise RuntimeError("the ingress did not start")
    return process, match.group(1)
