"""Property-based fuzzing of the ingress over raw HTTP: what the handler-level fuzz cannot reach.

`zoho_pipelines_tests/events/test_ingress_fuzz.py` feeds API Gateway events to the handler. Here
raw bytes go over a socket to the local ingress server, so the HTTP layer is fuzzed too: header
names in any case, duplicated secret headers (joined with commas, as API Gateway joins them),
non-ASCII and latin-1 header bytes, missing, short, negative or non-numeric Content-Length,
chunked bodies, odd paths and query strings, bodies in other charsets than they claim. Properties:

- no request is answered with a 5xx;
- no request without a genuine secret or channel token gets an event into the queue (forged
  near-misses of the real values included), and none is answered 200;
- a request that is accepted adds exactly the events it reports, and no answer echoes a secret.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zoho_pipelines.events.ingress import IngressConfig, make_handler
from zoho_pipelines.events.local_router import LocalRouter
from zoho_pipelines.events.local_server import IngressServer
from zoho_pipelines.events.routing import Target
from zoho_pipelines_tests.events.test_ingress_fuzz import bodies, json_values, near_misses
from zoho_pipelines_tests.faults.conftest import LeakWatch

SECRETS = ("http-fuzz-secret-current-0001", "http-fuzz-secret-previous-002")
TOKEN = "http-fuzz-channel-token-0003"
FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
ANSWER_TIMEOUT_S = 10.0


class Ingress:
    def __init__(self, root: Path) -> None:
        self.router = LocalRouter(root, synchronous="OFF")
        handler = make_handler(
            IngressConfig(webhook_secrets=SECRETS, channel_tokens=(TOKEN,)), publisher=self.router
        )
        self.server = IngressServer(handler).start()
        parts = urlsplit(self.server.url)
        self.address = (parts.hostname, parts.port)

    def depth(self) -> int:
        return self.router.queue(Target.REFRESH).depth()

    def send(self, request: bytes) -> tuple[int, bytes]:
        """One request on its own connection; (status, whole answer)."""
        with socket.create_connection(self.address, timeout=ANSWER_TIMEOUT_S) as connection:
            connection.sendall(request)
            connection.shutdown(socket.SHUT_WR)
            answer = b""
            while chunk := connection.recv(65536):
                answer += chunk
        status_line = answer.split(b"\r\n", 1)[0].split()
        assert len(status_line) >= 2, f"no HTTP answer: {answer[:200]!r}"
        return int(status_line[1]), answer

    def close(self) -> None:
        self.server.stop()
        self.router.close()


@pytest.fixture(scope="module")
def ingress(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ingress]:
    running = Ingress(tmp_path_factory.mktemp("http-fuzz-queues"))
    yield running
    running.close()


@pytest.fixture(autouse=True)
def _watch_these_secrets(leak_watch: LeakWatch) -> None:
    leak_watch.add_secrets([*SECRETS, TOKEN])


header_names = st.sampled_from(["X-Zoho-Secret", "x-zoho-secret", "X-ZOHO-SECRET", "x-Zoho-secret"])
header_bytes = st.binary(max_size=40).map(lambda raw: raw.replace(b"\r", b"").replace(b"\n", b""))
forged_values = st.one_of(
    st.text(max_size=40).map(lambda text: text.encode("utf-8")),
    header_bytes,
    *(near_misses(secret).map(lambda text: text.encode("utf-8", "surrogatepass")) for secret in SECRETS),
    st.just(f"{SECRETS[0]},{SECRETS[1]}".encode()),
    st.just(f"{SECRETS[0]} {SECRETS[0]}".encode()),
).filter(lambda value: value.strip(b" \t") not in {secret.encode() for secret in SECRETS})
forged_tokens = st.one_of(json_values, near_misses(TOKEN)).filter(lambda value: value != TOKEN)
charsets = st.sampled_from(["utf-8", "utf-16", "latin-1", "ascii", "utf-8-sig", "cp1252"])
other_headers = st.lists(
    st.tuples(
        st.sampled_from([b"X-Custom", b"User-Agent", b"Accept", b"X-Forwarded-For", b"Cookie"]), header_bytes
    ),
    max_size=3,
)


@st.composite
def raw_requests(
    draw: st.DrawFn, secret_headers: st.SearchStrategy[list[bytes]], token: st.SearchStrategy[object]
) -> bytes:
    """A whole HTTP/1.1 request as bytes, valid or not in many ways."""
    method = draw(st.sampled_from([b"POST", b"POST", b"PUT", b"GET", b"DELETE"]))
    path = draw(
        st.sampled_from([b"/zoho/events", b"/", b"/zoho/events?x=1&x=2", b"/%ff%fe", b"/a/../b", b"/?token="])
    )
    body, content_type, _ = draw(bodies(token))
    raw = b"" if body is None else body.encode("utf-8", "surrogateescape")
    charset = draw(st.none() | charsets)
    if charset is not None and body is not None:
        raw = body.encode(charset, "replace")
        content_type = f"{content_type or 'application/json'}; charset={charset}"
    headers = [(b"Host", b"127.0.0.1"), (b"Connection", b"close")]
    if content_type is not None:
        headers.append((b"Content-Type", content_type.encode("utf-8", "replace")))
    name = draw(header_names).encode()
    headers += [(name, value) for value in draw(secret_headers)]
    headers += draw(other_headers)
    framing = draw(
        st.sampled_from(["length", "length", "length", "none", "short", "negative", "text", "chunked"])
    )
    if framing == "length":
        headers.append((b"Content-Length", str(len(raw)).encode()))
    elif framing == "short":
        headers.append((b"Content-Length", str(len(raw) // 2).encode()))
    elif framing == "negative":
        headers.append((b"Content-Length", b"-5"))
    elif framing == "text":
        headers.append((b"Content-Length", b"twelve"))
    elif framing == "chunked":
        headers.append((b"Transfer-Encoding", b"chunked"))
        raw = (f"{len(raw):x}\r\n".encode() + raw + b"\r\n0\r\n\r\n") if raw else b"0\r\n\r\n"
    draw(st.randoms()).shuffle(headers)
    head = b"\r\n".join([method + b" " + path + b" HTTP/1.1", *(n + b": " + v for n, v in headers)])
    return head + b"\r\n\r\n" + raw


@FUZZ
@given(request=raw_requests(st.lists(forged_values, max_size=2), forged_tokens))
def test_forged_http_requests_are_refused_without_a_5xx(ingress: Ingress, request: bytes) -> None:
    before = ingress.depth()
    status, answer = ingress.send(request)
    assert status < 500, answer[:300]
    assert status != 200, answer[:300]
    assert ingress.depth() == before


genuine_secret_headers = st.one_of(
    st.sampled_from(SECRETS).map(lambda secret: [secret.encode()]),
    st.just([]),  # no header: only a channel token in the body can authenticate
)


@FUZZ
@given(request=raw_requests(genuine_secret_headers, st.just(TOKEN)))
def test_authentic_http_requests_never_get_a_5xx_and_add_what_they_report(
    ingress: Ingress, request: bytes
) -> None:
    before = ingress.depth()
    status, answer = ingress.send(request)
    assert status < 500, answer[:300]
    assert not any(value.encode() in answer for value in (*SECRETS, TOKEN))
    body = answer.split(b"\r\n\r\n", 1)[1]
    accepted = json.loads(body)["accepted"] if status == 200 else 0
    assert ingress.depth() == before + accepted
