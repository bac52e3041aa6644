"""kill -9 durability: acknowledged client writes survive a hard kill of every server process.

A real `licentia serve --workers 2` (SQLite, or PostgreSQL when `LICENTIA_TEST_DATABASE_URL`
names one) takes a bounded load through the client protocol (signed answers checked): clients
in parallel run `init`, `register` (a fresh key each), `logs`, `variables/set` (each client its
own variable, increasing values) and `licenses` (another fresh key). Once enough writes are
acknowledged, the whole process group (the supervisor and both workers) gets SIGKILL while
requests are in flight. A new server on the same database must then show every acknowledged
write: the user (who can log in, linked to its key), the log line, the variable at least at the
last acknowledged value (or a later one that was in flight), the activated license. No key is
ever redeemed twice: each key has at most one user, also after every key that was sent is
tried again with a new username.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine

from licentia.store.tables import client_logs, licenses, users, variables

from .serverproc import ServerEnv
from .test_concurrency import (
    Cluster,
    Reply,
    SignatureProblem,
    TransportProblem,
    gather_all,
    post,
)

pytestmark = pytest.mark.e2e

CLIENTS = 8
ROUNDS = 40  # per client at most; the kill comes long before
KILL_AFTER = 60  # acknowledged writes before the SIGKILL
VERSION = "1.0.0"
APP_NAME = "Kill-App"
PASSWORD = "Kill-Password-1"
SID = "kill9-machine"
TEST_BUDGET = 300.0  # seconds for load, kill, restart and checks (a loaded 2-core CI box)
STARTUP_TIMEOUT = 90.0  # `--workers 2` imports the app three times; slow on a busy CI box


@dataclass
class Setup:
    env: ServerEnv
    cluster: Cluster
    app_id: str
    reg_keys: list[list[str]]
    lic_keys: list[list[str]]


@pytest.fixture(scope="module")
def setup(e2e_env: ServerEnv) -> Iterator[Setup]:
    run = e2e_env.run_json
    owner = run("owner", "create", "--username", "kill-owner", "--password", "Owner-Pass-123")
    app = run("app", "create", "--owner", str(owner["owner_id"]), "--name", APP_NAME)
    app_id, secret = str(app["app_id"]), str(app["secret"])
    run("subscription", "create", "--app", app_id, "--name", "Standard", "--level", "1")
    # Each client's variable is created by its first `variables/set`, then updated.
    run("app", "set", app_id, "client_create_variables", "true")
    count = CLIENTS * ROUNDS * 2
    keys = run(
        "license", "generate", "--app", app_id, "--subscription", "Standard",
        "--days", "30", "--count", str(count),
    )["keys"]  # fmt: skip
    assert isinstance(keys, list) and len(set(keys)) == count
    keys = [str(k) for k in keys]
    signing = run("signing-key", "show")
    public_key = load_pem_public_key(str(signing["pem"]).encode())
    assert isinstance(public_key, Ed25519PublicKey)
    cluster = Cluster(
        servers=[],
        database_url=e2e_env.database_url,
        public_key=public_key,
        kid=str(signing["kid"]),
        owner_id=str(owner["owner_id"]),
        secret=secret,
        keys=keys,
    )
    half = CLIENTS * ROUNDS
    yield Setup(
        env=e2e_env,
        cluster=cluster,
        app_id=app_id,
        reg_keys=[keys[c * ROUNDS : (c + 1) * ROUNDS] for c in range(CLIENTS)],
        lic_keys=[keys[half + c * ROUNDS : half + (c + 1) * ROUNDS] for c in range(CLIENTS)],
    )


@dataclass
class Ledger:
    """What the server acknowledged (200) and what was merely sent."""

    users: dict[str, str] = field(default_factory=dict)  # username -> key
    reg_sent: set[str] = field(default_factory=set)  # keys sent to register
    logs: set[str] = field(default_factory=set)
    var_acked: dict[int, int] = field(default_factory=dict)
    var_sent: dict[int, int] = field(default_factory=dict)
    activated: set[str] = field(default_factory=set)
    acks: int = 0
    enough: asyncio.Event = field(default_factory=asyncio.Event)

    def ack(self) -> None:
        self.acks += 1
        if self.acks >= KILL_AFTER:
            self.enough.set()


def ok(reply: Reply) -> bool:
    return reply.status == 200 and reply.body.get("code") == "OK"


async def client_loop(http: httpx.AsyncClient, s: Setup, c: int, ledger: Ledger) -> None:
    """One client's rounds, until the server goes away (a transport error ends it)."""
    cluster = s.cluster
    init_fields = {
        "owner_id": cluster.owner_id,
        "app_name": APP_NAME,
        "secret": cluster.secret,
        "version": VERSION,
    }
    with contextlib.suppress(TransportProblem):
        for i in range(ROUNDS):
            reply = await post(http, cluster, "init", init_fields)
            assert ok(reply), reply
            session = str(reply.body["session_id"])
            username, key = f"k9u{c}_{i}", s.reg_keys[c][i]
            ledger.reg_sent.add(key)
            fields = {"session_id": session, "username": username, "password": PASSWORD}
            reply = await post(http, cluster, "register", {**fields, "key": key, "sid": SID})
            assert ok(reply), reply
            ledger.users[username] = key
            ledger.ack()
            message = f"kill9 log {c} {i}"
            reply = await post(http, cluster, "logs", {"session_id": session, "message": message})
            assert ok(reply), reply
            ledger.logs.add(message)
            ledger.ack()
            ledger.var_sent[c] = i
            body = {"session_id": session, "var_key": f"k9v{c}", "var_value": str(i)}
            reply = await post(http, cluster, "variables/set", body)
            assert ok(reply), reply
            ledger.var_acked[c] = i
            ledger.ack()
            reply = await post(http, cluster, "init", init_fields)
            assert ok(reply), reply
            body = {"session_id": str(reply.body["session_id"]), "license_key": s.lic_keys[c][i]}
            reply = await post(http, cluster, "licenses", {**body, "sid": SID})
            assert ok(reply), reply
            ledger.activated.add(s.lic_keys[c][i])
            ledger.ack()


def http_client(base_url: str) -> httpx.AsyncClient:
    limits = httpx.Limits(max_keepalive_connections=CLIENTS, keepalive_expiry=2.0)
    return httpx.AsyncClient(base_url=base_url, timeout=30.0, limits=limits, trust_env=False)


async def load_then_kill(s: Setup) -> Ledger:
    ledger = Ledger()
    with s.env._spawn(workers=2) as server:
        server.wait_ready(timeout=STARTUP_TIMEOUT)
        async with http_client(server.base_url) as http:
            tasks = [asyncio.ensure_future(client_loop(http, s, c, ledger)) for c in range(CLIENTS)]
            waiter = asyncio.ensure_future(ledger.enough.wait())
            await asyncio.wait([waiter, *tasks], return_when=asyncio.FIRST_COMPLETED)
            try:
                assert ledger.enough.is_set(), "the load ended before the kill"
            finally:
                # Every process of the server at once, mid-request: no shutdown of any kind.
                os.killpg(server.proc.pid, signal.SIGKILL)
                server.proc.wait(timeout=10)
                results = await asyncio.gather(*tasks, return_exceptions=True)
                waiter.cancel()
            for result in results:
                if isinstance(result, BaseException):
                    raise result
    return ledger


async def count_rows(url: str, query: Any) -> list[Any]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return list((await conn.execute(query)).all())
    finally:
        await engine.dispose()


async def check_after_restart(s: Setup, ledger: Ledger) -> None:
    cluster, app_id = s.cluster, s.app_id
    with s.env._spawn(workers=2) as server:
        server.wait_ready(timeout=STARTUP_TIMEOUT)
        async with http_client(server.base_url) as http:
            init_fields = {
                "owner_id": cluster.owner_id,
                "app_name": APP_NAME,
                "secret": cluster.secret,
                "version": VERSION,
            }

            async def session() -> str:
                return str((await post(http, cluster, "init", init_fields)).body["session_id"])

            async def login(username: str) -> None:
                body = {"session_id": await session(), "username": username, "sid": SID}
                reply = await post(http, cluster, "login", {**body, "password": PASSWORD})
                assert ok(reply), (username, reply)
                assert reply.body["user"]["linked_license_key"] == ledger.users[username]

            async def activate(key: str) -> None:
                body = {"session_id": await session(), "license_key": key, "sid": SID}
                assert ok(await post(http, cluster, "licenses", body)), key

            async def register_again(n: int, key: str) -> None:
                # Every key that reached register, acknowledged or not, once more: a new
                # username gets it only if nobody holds it yet.
                body = {"session_id": await session(), "username": f"again{n}", "key": key}
                reply = await post(http, cluster, "register", {**body, "password": PASSWORD})
                assert reply.body.get("code") in ("OK", "LICENSE_IN_USE"), (key, reply)
                if key in ledger.users.values():
                    assert reply.body["code"] == "LICENSE_IN_USE", (key, reply)

            await gather_all([login(u) for u in sorted(ledger.users)])
            await gather_all([activate(k) for k in sorted(ledger.activated)])
            await gather_all([register_again(n, k) for n, k in enumerate(sorted(ledger.reg_sent))])
    url = cluster.database_url
    per_key = await count_rows(
        url,
        select(users.c.linked_license_key, func.count())
        .where(users.c.app_id == app_id)
        .group_by(users.c.linked_license_key),
    )
    assert all(n == 1 for _, n in per_key), [row for row in per_key if row[1] != 1]
    stored_users = dict(
        await count_rows(
            url,
            select(users.c.username, users.c.linked_license_key).where(users.c.app_id == app_id),
        )
    )
    for username, key in ledger.users.items():
        assert stored_users.get(username) == key, username
    messages = {
        row[0]
        for row in await count_rows(
            url, select(client_logs.c.message).where(client_logs.c.app_id == app_id)
        )
    }
    assert ledger.logs <= messages, sorted(ledger.logs - messages)[:5]
    stored_vars = dict(
        await count_rows(
            url, select(variables.c.key, variables.c.value).where(variables.c.app_id == app_id)
        )
    )
    for c, acked in ledger.var_acked.items():
        value = int(stored_vars[f"k9v{c}"])
        assert acked <= value <= ledger.var_sent[c], (c, acked, value, ledger.var_sent[c])
    active = {
        row[0]
        for row in await count_rows(
            url,
            select(licenses.c.key).where(
                licenses.c.app_id == app_id, licenses.c.activated_at.is_not(None)
            ),
        )
    }
    assert ledger.activated <= active, sorted(ledger.activated - active)[:5]


async def test_acknowledged_writes_survive_kill_9(setup: Setup) -> None:
    async def scenario() -> None:
        ledger = await load_then_kill(setup)
        assert ledger.users and ledger.logs and ledger.var_acked and ledger.activated, ledger
        in_flight = len(ledger.reg_sent) - len(ledger.users)
        print(
            f"killed after {ledger.acks} acknowledged writes: {len(ledger.users)} registers "
            f"(+{in_flight} in flight), {len(ledger.logs)} logs, {len(ledger.var_acked)} "
            f"variables, {len(ledger.activated)} licenses"
        )
        await check_after_restart(setup, ledger)

    try:
        await asyncio.wait_for(scenario(), timeout=TEST_BUDGET)
    except (AssertionError, SignatureProblem, TimeoutError):
        for log in sorted(setup.env.data_dir.glob("licentia-serve-*.log")):
            print(f"===== {log.name} =====\n{log.read_text(errors='replace')[-6000:]}")
        raise
