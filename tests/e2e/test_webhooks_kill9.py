"""kill -9 between a change and its webhook delivery: delivered after restart, once.

A real `licentia serve --workers 2` delivers to a real signature-checking receiver on
127.0.0.1 that answers 503 at first, so the events of three key generations made by another
process (set-up and changes run in the test process, on the same database; three
`key.generated` events for each of two endpoints) stay pending while both workers retry
(attempts recorded, leases taken). Then the whole process group gets SIGKILL, possibly with
an attempt in flight. The receiver starts accepting, a new server starts on the same database,
and every (endpoint, webhook-id) is accepted exactly once: the outbox row survived the kill,
a dead worker's lease ran out, and a delivered row is never sent again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
from collections import Counter
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from licentia.config import Settings
from licentia.services import admin_apps, admin_licenses, webhooks
from licentia.services.runtime import Runtime
from tests.webhooks.receiver import Receiver

from .serverproc import ServerEnv

pytestmark = pytest.mark.e2e

BUDGET = 120.0  # seconds for every wait of the test (a loaded 2-core CI box)
STARTUP_TIMEOUT = 90.0
EVENTS = 3
PATHS = ("/a", "/b")


def _wait(condition: object, what: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    server = Receiver(status=503).start()
    yield server
    server.stop()


def _column(url: str, query: str) -> list[object]:
    async def go() -> list[object]:
        engine = create_async_engine(url, poolclass=NullPool)
        try:
            async with engine.connect() as conn:
                return [row[0] for row in (await conn.execute(text(query))).all()]
        finally:
            await engine.dispose()

    return asyncio.run(go())


def _runtime(env: ServerEnv) -> Runtime:
    settings = Settings(
        data_dir=env.data_dir,
        database_url=env.database_url,
        webhook_allow_private=True,
        argon2_memory_kib=64,
        argon2_time_cost=1,
    )
    return Runtime.build(settings)


async def _setup(env: ServerEnv, receiver: Receiver) -> str:
    rt = _runtime(env)
    try:
        owner = await admin_apps.create_owner(rt, "hook-owner", "Owner-1234")
        app_id = (await admin_apps.create_app(rt, owner.owner_id, "Hooked")).app_id
        await admin_apps.create_subscription(rt, app_id, "Std", 1)
        for path in PATHS:
            hook = await webhooks.create_endpoint(rt, app_id, receiver.url(path))
            assert hook.secret is not None
            receiver.secrets[path] = hook.secret
        return app_id
    finally:
        await rt.close()


async def _changes(env: ServerEnv, app_id: str) -> None:
    rt = _runtime(env)
    try:
        for _ in range(EVENTS):
            await admin_licenses.generate_licenses(rt, app_id, "Std", days=1)
    finally:
        await rt.close()


def _accepted(receiver: Receiver) -> Counter[tuple[str, str]]:
    with receiver.lock:
        return Counter(
            (r.path, r.headers.get("webhook-id", ""))
            for r in receiver.received
            if r.answered == 200
        )


def test_pending_deliveries_survive_kill9_and_arrive_once(
    e2e_env: ServerEnv, receiver: Receiver
) -> None:
    deadline = time.monotonic() + BUDGET
    env = e2e_env
    env.extra.update(
        {
            "LICENTIA_WEBHOOK_ALLOW_PRIVATE": "true",
            "LICENTIA_WEBHOOK_RETRY_SCHEDULE": ",".join(["0.3"] * 200),
            "LICENTIA_WEBHOOK_TIMEOUT": "1",
            "LICENTIA_WEBHOOK_POLL_INTERVAL": "0.2",
        }
    )
    app_id = asyncio.run(_setup(env, receiver))
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(env._spawn(workers=2))
        server.wait_ready(timeout=STARTUP_TIMEOUT)
        asyncio.run(_changes(env, app_id))  # another process changes, the server delivers
        # Both endpoints are being tried (and refused) before the kill.
        _wait(
            lambda: (
                {r.path for r in list(receiver.received)} == set(PATHS)
                and len(receiver.received) >= 2 * len(PATHS)
            ),
            "failing attempts on both endpoints",
            deadline,
        )
        os.killpg(server.proc.pid, signal.SIGKILL)
        server.proc.wait(timeout=10)
    failing = len(receiver.received)
    assert _accepted(receiver) == Counter()
    receiver.status = 200
    with env.serve(workers=1):
        expected = EVENTS * len(PATHS)
        _wait(lambda: len(_accepted(receiver)) >= expected, "every delivery", deadline)
        time.sleep(1.5)  # further polls must not send anything again
        accepted = _accepted(receiver)
    assert len(accepted) == expected and set(accepted.values()) == {1}, accepted
    assert {path for path, _ in accepted} == set(PATHS)
    assert len({event for _, event in accepted}) == EVENTS
    assert all(r.verified for r in receiver.received), "every attempt is signed"
    bodies = [json.loads(r.body) for r in receiver.received if r.answered == 200]
    assert {b["type"] for b in bodies} == {"key.generated"}
    statuses = _column(env.database_url, "SELECT status FROM webhook_deliveries")
    assert statuses == ["delivered"] * expected
    attempts = _column(env.database_url, "SELECT count(*) FROM webhook_attempts")
    assert int(str(attempts[0])) >= failing, "every attempt before the kill is recorded"
