"""The test PostgreSQL server survives its probed port being taken before it binds it."""

from __future__ import annotations

import socket

import psycopg
import pytest

from zoho_pipelines_tests import postgres_server
from zoho_pipelines_tests.postgres_server import running_postgres


def test_a_port_taken_between_probe_and_bind_is_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    """Another worker's server can take the probed port first: the next attempt uses another."""
    probe_free_port = postgres_server._free_port
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        ports = iter([taken])
        monkeypatch.setattr(postgres_server, "_free_port", lambda: next(ports, None) or probe_free_port())
        with running_postgres() as server, psycopg.connect(server.url()) as connection:
            assert server.port != taken
            assert connection.execute("select 1").fetchone() == (1,)
