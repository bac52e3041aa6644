"""Registration race across processes: one license key, fifty simultaneous `register` calls.

Four `licentia serve` processes share one fresh PostgreSQL database. For each of 20 keys, 50
clients (each with its own session, created beforehand) call `register` with that key and a
distinct username at the same moment, spread round-robin over the four servers. Spec 2.4 step
6: exactly one wins (200), every other gets 403 `LICENSE_IN_USE`; no key is ever redeemed
twice. Every response must carry a valid Ed25519 signature (spec 0.12).

PostgreSQL only: SQLite serialises writers, so it cannot show a cross-process race.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import secrets
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from .serverproc import ServerEnv, ServerProcess, fetch_column, postgres_admin_url

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.postgres_only,
    pytest.mark.skipif(
        postgres_admin_url() is None,
        reason="needs LICENTIA_TEST_DATABASE_URL=postgresql+asyncpg://... (a cross-process "
        "race cannot be shown on SQLite)",
    ),
]

SERVERS = 4
KEYS = 20
CLIENTS_PER_KEY = 50
VERSION = "1.0.0"
APP_NAME = "Race-App"
PASSWORD = "Race-Password-1"
SID = "e2e-race-machine"
REQUEST_TIMEOUT = 30.0  # seconds, per HTTP request
TEST_BUDGET = 110.0  # seconds for the whole race and its checks (servers already running)
INIT_CONCURRENCY = 32  # in-flight inits while preparing sessions


@dataclass(frozen=True)
class Cluster:
    servers: list[ServerProcess]
    database_url: str
    public_key: Ed25519PublicKey
    kid: str
    owner_id: str
    secret: str
    keys: list[str]


@pytest.fixture(scope="module")
def cluster(e2e_env: ServerEnv) -> Iterator[Cluster]:
    run = e2e_env.run_json
    owner_id = str(
        run("owner", "create", "--username", "race-owner", "--password", "Owner-Pass-123")[
            "owner_id"
        ]
    )
    app = run("app", "create", "--owner", owner_id, "--name", APP_NAME)
    app_id, secret = str(app["app_id"]), str(app["secret"])
    run("app", "set", app_id, "latest_version", VERSION)
    run("subscription", "create", "--app", app_id, "--name", "Standard", "--level", "1")
    keys = run(
        "license",
        "generate",
        "--app",
        app_id,
        "--subscription",
        "Standard",
        "--days",
        "30",
        "--count",
        str(KEYS),
    )["keys"]
    assert isinstance(keys, list) and len(set(keys)) == KEYS, keys

    pem = e2e_env.run("signing-key", "show", "--pem").stdout.strip()
    kid = str(run("signing-key", "show")["kid"])
    public_key = load_pem_public_key(pem.encode())
    assert isinstance(public_key, Ed25519PublicKey)

    with contextlib.ExitStack() as stack:
        yield Cluster(
            servers=e2e_env.serve_many(SERVERS, stack),
            database_url=e2e_env.database_url,
            public_key=public_key,
            kid=kid,
            owner_id=owner_id,
            secret=secret,
            keys=[str(k) for k in keys],
        )


@dataclass
class Reply:
    status: int
    body: dict[str, Any]


class SignatureProblem(AssertionError):
    pass


class TransportProblem(AssertionError):
    """The server closed the connection or did not answer in time."""


async def post(
    client: httpx.AsyncClient, cluster: Cluster, endpoint: str, fields: dict[str, Any]
) -> Reply:
    """POST like the Python SDK does (metadata in body and headers); verify the signature."""
    request_id, nonce = str(uuid.uuid4()), secrets.token_hex(16)
    ts = int(time.time() * 1000)
    payload = {**fields, "request_id": request_id, "nonce": nonce, "timestamp": ts}
    body = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    try:
        response = await client.post(
            f"/api/v2/{endpoint}",
            content=body,
            headers={
                "Content-Type": "application/json",
                "x-request-id": request_id,
                "x-auth-nonce": nonce,
                "x-auth-timestamp": str(ts),
            },
        )
    except httpx.HTTPError as exc:
        raise TransportProblem(
            f"{client.base_url} {endpoint}: {type(exc).__name__}: {exc!r} (request_id "
            f"{request_id}, sent at {ts})"
        ) from exc
    where = f"{client.base_url} {endpoint} -> {response.status_code} {response.text[:300]}"
    signature = response.headers.get("x-v2-signature")
    sig_ts = response.headers.get("x-v2-signature-ts")
    if not signature or not sig_ts:
        raise SignatureProblem(f"unsigned response: {where} headers={dict(response.headers)}")
    if response.headers.get("x-v2-signature-kid") != cluster.kid:
        raise SignatureProblem(f"unexpected kid: {where}")
    if response.headers.get("x-v2-request-id") not in (None, request_id) or response.headers.get(
        "x-v2-nonce"
    ) not in (None, nonce):
        raise SignatureProblem(f"request id / nonce echo mismatch: {where}")
    message = f"{sig_ts}\n{request_id}\n{nonce}\n".encode() + response.content
    try:
        cluster.public_key.verify(base64.b64decode(signature, validate=True), message)
    except (InvalidSignature, ValueError) as exc:
        raise SignatureProblem(f"bad signature ({type(exc).__name__}): {where}") from None
    parsed = response.json()
    assert isinstance(parsed, dict), where
    return Reply(status=response.status_code, body=parsed)


async def gather_all(coros: list[Any]) -> list[Any]:
    """gather() that waits for every task and then raises the first failure, if any."""
    results = await asyncio.gather(*coros, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results


def username(key_index: int, client_index: int) -> str:
    return f"race{key_index:02d}_{client_index:02d}"


async def test_register_race_has_one_winner_per_key(cluster: Cluster) -> None:
    try:
        await asyncio.wait_for(run_race(cluster), timeout=TEST_BUDGET)
    except BaseException:
        # Show what the servers said; the failure itself is re-raised unchanged.
        for server in cluster.servers:
            print(f"===== output of the server at {server.base_url} =====\n{server.output()}")
        raise


async def run_race(cluster: Cluster) -> None:
    # Idle pooled connections are dropped after 2 s, below uvicorn's 5 s keep-alive timeout:
    # otherwise a request can go out on a connection at the instant the server closes it for
    # idleness, and fail with ReadError through no fault of the server (seen ~1 run in 5).
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64, keepalive_expiry=2.0)
    async with contextlib.AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(
                httpx.AsyncClient(
                    base_url=url, timeout=REQUEST_TIMEOUT, limits=limits, trust_env=False
                )
            )
            for url in (server.base_url for server in cluster.servers)
        ]

        # All four processes sign with the one key the CLI showed.
        for client in clients:
            response = await client.get("/api/v2/public-key")
            assert response.status_code == 200, response.text
            assert response.json()["kid"] == cluster.kid, (client.base_url, response.text)

        init_fields = {
            "owner_id": cluster.owner_id,
            "app_name": APP_NAME,
            "secret": cluster.secret,
            "version": VERSION,
        }
        gate = asyncio.Semaphore(INIT_CONCURRENCY)

        async def init(server: int) -> str:
            async with gate:
                reply = await post(clients[server], cluster, "init", init_fields)
            assert (reply.status, reply.body.get("code")) == (200, "OK"), reply
            return str(reply.body["session_id"])

        # 1. Sessions first, outside the race. Client c inits on server c+1 and registers on
        #    server c, so the register also proves sessions are shared between processes.
        sessions: list[list[str]] = []
        for _ in range(KEYS):
            sessions.append(
                await gather_all([init((c + 1) % SERVERS) for c in range(CLIENTS_PER_KEY)])
            )

        # 2. The races, one key at a time: all 50 registers released at once.
        winners: dict[int, str] = {}
        problems: list[str] = []
        for k, key in enumerate(cluster.keys):
            start = asyncio.Event()

            async def register(
                c: int, k: int = k, key: str = key, start: asyncio.Event = start
            ) -> tuple[int, Reply]:
                await start.wait()
                reply = await post(
                    clients[c % SERVERS],
                    cluster,
                    "register",
                    {
                        "session_id": sessions[k][c],
                        "username": username(k, c),
                        "password": PASSWORD,
                        "key": key,
                    },
                )
                return c, reply

            tasks = [asyncio.ensure_future(register(c)) for c in range(CLIENTS_PER_KEY)]
            await asyncio.sleep(0.05)  # let every task reach the gate
            start.set()
            results = await gather_all(tasks)

            outcomes = Counter(
                (reply.status, reply.body.get("success"), reply.body.get("code"))
                for _, reply in results
            )
            won = [c for c, reply in results if reply.status == 200]
            expected = Counter(
                {
                    (200, True, "OK"): 1,
                    (403, False, "LICENSE_IN_USE"): CLIENTS_PER_KEY - 1,
                }
            )
            if outcomes != expected:
                problems.append(f"key #{k} {key}: {dict(outcomes)}")
            if len(won) == 1:
                c = won[0]
                winners[k] = username(k, c)
                reply = dict(results)[c]
                assert reply.body["user"]["username"] == username(k, c), reply
                assert reply.body["user"]["linked_license_key"] == key, reply
        assert not problems, "register race outcomes (status, success, code) -> count:\n" + (
            "\n".join(problems)
        )
        assert len(winners) == KEYS

        # 3. Each winner exists and can log in (fresh session, any server); losers do not.
        async def check(k: int) -> None:
            client = clients[k % SERVERS]
            session = await init(k % SERVERS)
            reply = await post(
                client,
                cluster,
                "login",
                {
                    "session_id": session,
                    "username": winners[k],
                    "password": PASSWORD,
                    "sid": SID,
                },
            )
            assert (reply.status, reply.body.get("code")) == (200, "OK"), (winners[k], reply)
            assert reply.body["user"]["username"] == winners[k], reply
            loser = next(
                username(k, c) for c in range(CLIENTS_PER_KEY) if username(k, c) != winners[k]
            )
            reply = await post(
                client,
                cluster,
                "login",
                {
                    "session_id": session,
                    "username": loser,
                    "password": PASSWORD,
                    "sid": SID,
                },
            )
            assert (reply.status, reply.body.get("code")) == (404, "USER_NOT_FOUND"), (
                loser,
                reply,
            )

        await gather_all([check(k) for k in range(KEYS)])

    # 4. The database holds exactly one user per key: the winner.
    rows = await fetch_column(cluster.database_url, "SELECT username FROM users")
    assert sorted(str(r) for r in rows) == sorted(winners.values())
    per_key = Counter(str(r).split("_", 1)[0] for r in rows)
    assert per_key == Counter({f"race{k:02d}": 1 for k in range(KEYS)})
