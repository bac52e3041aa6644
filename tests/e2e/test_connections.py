"""Connections against a real `licentia serve` (issue #14): idle and slow clients, the
connection cap, the open-files limit, and Java's h2c upgrade offer.

Everything goes over raw sockets to 127.0.0.1, in bounded counts. The servers run with small
timeouts (`LICENTIA_HEADER_TIMEOUT`, `LICENTIA_KEEPALIVE_TIMEOUT`) so that "closed after the
timeout" is observed within seconds; waits have generous deadlines and no test measures time.
"""

from __future__ import annotations

import contextlib
import json
import resource
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from licentia.crypto.signing import verify

from .serverproc import ServerEnv, ServerProcess, cli_prefix, free_port, stop_process

#: HTTP connection handling, below the database: runs in the SQLite pass only.
pytestmark = [pytest.mark.e2e, pytest.mark.one_pass]

#: The soft open-files limit the servers are started with (the hard limit stays as it is).
LOW_SOFT_LIMIT = 256
#: Idle sockets opened at once: more than LOW_SOFT_LIMIT, so a server that kept its soft limit
#: (and held idle connections forever) could accept nothing else, not even `/healthz`.
IDLE_SOCKETS = 300
HEADER_TIMEOUT = "2"
KEEPALIVE_TIMEOUT = "1"
CLOSE_DEADLINE = 30.0  # seconds within which a timed-out connection must be closed
CAP = 4
#: What Java's `java.net.http.HttpClient` adds to every `http://` request with a body.
H2C_HEADERS = (
    b"Connection: Upgrade, HTTP2-Settings\r\n"
    b"Upgrade: h2c\r\n"
    b"HTTP2-Settings: AAEAAEAAAAIAAAABAAMAAABkAAQBAAAAAAUAAEAA\r\n"
)


@dataclass(frozen=True)
class App:
    owner_id: str
    name: str
    secret: str


@pytest.fixture(scope="module")
def app(e2e_env: ServerEnv) -> App:
    run = e2e_env.run_json
    owner = str(
        run("owner", "create", "--username", "conn-owner", "--password", "Owner-Pass-1")["owner_id"]
    )
    created = run("app", "create", "--owner", owner, "--name", "ConnApp")
    run("app", "set", str(created["app_id"]), "latest_version", "1.0.0")
    return App(owner, "ConnApp", str(created["secret"]))


def _low_nofile() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (LOW_SOFT_LIMIT, hard))


@contextlib.contextmanager
def serve(env: ServerEnv, **settings: str) -> Iterator[ServerProcess]:
    """`licentia serve` with the given LICENTIA_* settings and a soft open-files limit of 256."""
    port = free_port()
    argv = [*cli_prefix(), "serve", "--host", "127.0.0.1", "--port", str(port)]
    environ = env.environ()
    environ.update({f"LICENTIA_{k.upper()}": v for k, v in settings.items()})
    log_path = env.data_dir / f"conn-serve-{port}.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            argv,
            env=environ,
            cwd=env.data_dir,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_low_nofile,
        )
        try:
            server = ServerProcess(proc=proc, port=port, log_path=Path(log_path))
            server.wait_ready()
            yield server
        finally:
            stop_process(proc)


def soft_nofile(pid: int) -> int:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            return int(line.split()[3])
    raise AssertionError("no open-files line in /proc/PID/limits")


def closed_by_server(sock: socket.socket, deadline: float) -> bool:
    """True once the server closed `sock` (EOF or reset) before `deadline`."""
    while time.monotonic() < deadline:
        sock.settimeout(max(0.1, min(1.0, deadline - time.monotonic())))
        try:
            data = sock.recv(65536)
        except TimeoutError:
            continue
        except (ConnectionResetError, BrokenPipeError):
            return True
        if data == b"":
            return True
    return False


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 response with a Content-Length from `sock`."""
    sock.settimeout(15)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before the response head: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers["content-length"])
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed inside the response body"
        body += chunk
    return int(lines[0].split()[1]), headers, body[:length]


def init_request(app: App, extra_headers: bytes = b"") -> bytes:
    body = json.dumps(
        {"owner_id": app.owner_id, "app_name": app.name, "secret": app.secret, "version": "1.0.0"}
    ).encode()
    return (
        b"POST /api/v2/init HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        + extra_headers
        + b"Content-Type: application/json\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )


@pytest.fixture(scope="module", params=["httptools", "h11"])
def server(request: pytest.FixtureRequest, e2e_env: ServerEnv) -> Iterator[ServerProcess]:
    with serve(
        e2e_env,
        http=request.param,
        header_timeout=HEADER_TIMEOUT,
        keepalive_timeout=KEEPALIVE_TIMEOUT,
    ) as proc:
        yield proc


def test_open_files_soft_limit_raised_to_hard(server: ServerProcess) -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert soft_nofile(server.proc.pid) == hard > LOW_SOFT_LIMIT


def test_idle_connections_closed_and_health_answers(server: ServerProcess) -> None:
    idle = []
    try:
        for _ in range(IDLE_SOCKETS):
            idle.append(socket.create_connection(("127.0.0.1", server.port), timeout=10))
        with httpx.Client(timeout=15, trust_env=False) as client:
            assert client.get(f"{server.base_url}/healthz").status_code == 200
        deadline = time.monotonic() + CLOSE_DEADLINE
        still_open = [s for s in idle if not closed_by_server(s, deadline)]
        assert not still_open, f"{len(still_open)} idle connections still open"
    finally:
        for sock in idle:
            sock.close()


@pytest.mark.parametrize(
    "partial",
    [
        b"POST /api/v2/init HTTP/1.1\r\nHost: 127.0.0.1\r\n",  # headers never finished
        b"POST /api/v2/init HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{",  # slow body
        b"G",  # one byte of a request line
    ],
    ids=["headers", "body", "request-line"],
)
def test_slow_request_closed(server: ServerProcess, partial: bytes) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(partial)
        assert closed_by_server(sock, time.monotonic() + CLOSE_DEADLINE)


def test_idle_keep_alive_connection_closed(server: ServerProcess) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        status, _headers, _body = read_response(sock)
        assert status == 200
        assert closed_by_server(sock, time.monotonic() + CLOSE_DEADLINE)


def test_h2c_upgrade_offer_served_as_http11_with_body(server: ServerProcess, app: App) -> None:
    """Java's HttpClient over http://: the body arrives, the answer is plain HTTP/1.1, and the
    connection stays usable for the next request (also one split between head and body)."""
    request = init_request(app, H2C_HEADERS)
    head_end = request.index(b"\r\n\r\n") + 4
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        for parts in ([request], [request], [request[:head_end], request[head_end:]]):
            for part in parts:
                sock.sendall(part)
                time.sleep(0.05)
            status, headers, body = read_response(sock)
            answer = json.loads(body)
            assert (status, answer["code"]) == (200, "OK"), answer
            assert answer["session_id"]
            assert "upgrade" not in headers


def test_h2c_upgrade_offer_logs_no_warning(server: ServerProcess, app: App) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(init_request(app, H2C_HEADERS))
        assert read_response(sock)[0] == 200
    assert "Unsupported upgrade" not in server.output()


# -- the connection cap ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def capped(e2e_env: ServerEnv) -> Iterator[ServerProcess]:
    with serve(e2e_env, max_connections=str(CAP), header_timeout="60") as proc:
        yield proc


def test_over_the_cap_closes_the_longest_waiting_connection(
    capped: ServerProcess, app: App
) -> None:
    """Idle connections (here: never sent a byte) do not lock real clients out: the one waiting
    longest is closed to make room, and the new request is served."""
    idle = [socket.create_connection(("127.0.0.1", capped.port), timeout=10) for _ in range(CAP)]
    try:
        evicted = False
        for _ in range(10):  # until the server has accepted the idle ones (a loaded machine)
            with socket.create_connection(("127.0.0.1", capped.port), timeout=10) as sock:
                sock.sendall(init_request(app))
                status, _headers, body = read_response(sock)
                assert (status, json.loads(body)["code"]) == (200, "OK"), capped.output()
            if closed_by_server(idle[0], time.monotonic() + 2):
                evicted = True
                break
        assert evicted or closed_by_server(idle[0], time.monotonic() + CLOSE_DEADLINE), (
            capped.output()
        )
    finally:
        for sock in idle:
            sock.close()


def _slow_body(port: int) -> socket.socket:
    """A connection whose request is in the app, waiting for the rest of its body."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(b"POST /api/v2/logs HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
    return sock


def test_over_the_cap_answers_busy_in_protocol_shape(capped: ServerProcess, app: App) -> None:
    """Every connection has a request in the app: a new request is answered busy, signed."""
    base = capped.base_url
    with httpx.Client(timeout=15, trust_env=False) as client:
        pem = client.get(f"{base}/api/v2/public-key").json()["pem"]
    busy: list[socket.socket] = []
    try:
        for attempt in range(1, 6):
            busy += [_slow_body(capped.port) for _ in range(CAP - len(busy))]
            time.sleep(0.2 * attempt)  # let the server read their heads
            sock = socket.create_connection(("127.0.0.1", capped.port), timeout=10)
            sock.sendall(
                init_request(app, b"X-Request-Id: busy-rid-1\r\nX-Auth-Nonce: busy-nonce-1\r\n")
            )
            status, headers, body = read_response(sock)
            if status == 429:
                break
            # A head not read yet counted as waiting and was closed to make room: again.
            sock.close()
            busy = [b for b in busy if not closed_by_server(b, time.monotonic() + 0.5)]
        with sock:
            assert status == 429
            answer = json.loads(body)
            assert answer["code"] == "RATE_LIMITED" and answer["success"] is False
            assert headers["retry-after"] == "1" and headers["connection"] == "close"
            assert headers["x-v2-request-id"] == "busy-rid-1"
            assert verify(
                pem,
                headers["x-v2-signature"],
                headers["x-v2-signature-ts"],
                "busy-rid-1",
                "busy-nonce-1",
                body,
            )
            assert closed_by_server(sock, time.monotonic() + CLOSE_DEADLINE)
        with httpx.Client(timeout=15, trust_env=False) as client:
            health = client.get(f"{base}/healthz")
            assert health.status_code == 503 and health.headers["retry-after"] == "1"
            manage = client.get(f"{base}/api/manage/v1/apps")
            assert manage.status_code == 429 and manage.json()["code"] == "RATE_LIMITED"
    finally:
        for sock in busy:
            sock.close()
    deadline = time.monotonic() + CLOSE_DEADLINE
    status = 0
    with httpx.Client(timeout=15, trust_env=False) as client:
        while time.monotonic() < deadline and status != 200:
            status = client.get(f"{base}/healthz").status_code
            time.sleep(0.1)
    assert status == 200
    assert "connection cap reached (5 open, LICENTIA_MAX_CONNECTIONS=4)" in capped.output()
