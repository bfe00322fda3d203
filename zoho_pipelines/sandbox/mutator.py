"""Mutation mode: a background thread that keeps creating, editing and deleting CRM records."""

from __future__ import annotations

import random
import threading

from zoho_pipelines.sandbox.crm_catalog import MODULES
from zoho_pipelines.sandbox.crm_store import CrmStore


class PeriodicMutator:
    """Every `interval_s`, a few changes to one module (round robin), as a live org would see."""

    def __init__(self, store: CrmStore, interval_s: float, seed: int) -> None:
        self.store = store
        self.interval_s = interval_s
        self._rng = random.Random(f"mutator:{seed}")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sandbox-mutator", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        modules = list(MODULES)
        tick = 0
        while not self._stop.wait(self.interval_s):
            module = modules[tick % len(modules)]
            tick += 1
            self.store.mutate(
                module,
                creates=self._rng.randint(0, 3),
                edits=self._rng.randint(1, 5),
                deletes=self._rng.randint(0, 1),
            )

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
