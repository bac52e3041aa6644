"""Changes made by an operator are seen by every server process's very next client call.

Two `licentia serve` processes share one database (SQLite file, or PostgreSQL when
`LICENTIA_TEST_DATABASE_URL` names one). Before each change both processes have served the
session (so each holds the app's configuration in its per-process cache); the change is made
through the CLI, a third process; the next call on each server must already see it. The hot
path keeps no cache besides the app configuration keyed by `apps.config_rev`, and this test
is what holds it to that: ban, pause, delete, HWID reset, session end, app disable and an app
setting change; and the one write-behind value (validate-session's last-seen time) reaches the
other process within its bound.
"""

from __future__ import annotations

import contextlib
import secrets
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from .serverproc import ServerEnv

pytestmark = pytest.mark.e2e


@dataclass
class Cluster:
    env: ServerEnv
    a: str
    b: str
    app_id: str
    creds: dict[str, str]
    keys: list[str]
    http: httpx.Client

    def cli(self, *args: str) -> dict[str, object]:
        return self.env.run_json(*args)

    def post(self, base: str, endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
        full = dict(
            body,
            request_id=str(uuid.uuid4()),
            nonce=secrets.token_hex(16),
            timestamp=int(time.time() * 1000),
        )
        answer: dict[str, Any] = self.http.post(f"{base}/api/v2/{endpoint}", json=full).json()
        return answer

    def session(self, base: str, key: str, sid: str) -> str:
        session_id = str(self.post(base, "init", self.creds)["session_id"])
        answer = self.post(
            base, "licenses", {"session_id": session_id, "license_key": key, "sid": sid}
        )
        assert answer["success"] is True, answer
        return session_id

    def validate(self, base: str, session_id: str) -> dict[str, Any]:
        return self.post(base, "validate-session", {"session_id": session_id})

    def both_ok(self, session_id: str) -> None:
        for base in (self.a, self.b):
            answer = self.validate(base, session_id)
            assert answer["success"] is True and answer["valid"] is True, answer

    def both_fail(self, session_id: str, code: str) -> None:
        for base in (self.b, self.a):
            answer = self.validate(base, session_id)
            assert answer["success"] is False and answer["code"] == code, answer


@pytest.fixture(scope="module")
def cluster(e2e_env: ServerEnv) -> Iterator[Cluster]:
    run = e2e_env.run_json
    owner = run("owner", "create", "--username", "hotpath", "--password", "hotpath-pw")
    app = run("app", "create", "--owner", str(owner["owner_id"]), "--name", "HotApp")
    app_id = str(app["app_id"])
    run("subscription", "create", "--app", app_id, "--name", "Default")
    generated = run(
        "license", "generate", "--app", app_id, "--subscription", "Default", "--lifetime",
        "--count", "4",
    )  # fmt: skip
    keys = [str(k) for k in generated["keys"]]  # type: ignore[attr-defined]
    creds = {
        "owner_id": str(owner["owner_id"]),
        "app_name": "HotApp",
        "secret": str(app["secret"]),
        "version": "1.0.0",
    }
    with contextlib.ExitStack() as stack:
        a, b = e2e_env.serve_many(2, stack)
        http = stack.enter_context(httpx.Client(timeout=30, trust_env=False))
        yield Cluster(e2e_env, a.base_url, b.base_url, app_id, creds, keys, http)


def test_ban_and_pause_are_seen_by_every_process(cluster: Cluster) -> None:
    key, app = cluster.keys[0], cluster.app_id
    session_id = cluster.session(cluster.a, key, "BAN-MACHINE")
    cluster.both_ok(session_id)
    cluster.cli("license", "ban", key, "--app", app)
    cluster.both_fail(session_id, "SESSION_EXPIRED")
    cluster.cli("license", "unban", key, "--app", app)
    session_id = cluster.session(cluster.b, key, "BAN-MACHINE")
    cluster.both_ok(session_id)
    cluster.cli("license", "pause", key, "--app", app)
    cluster.both_fail(session_id, "SESSION_EXPIRED")
    cluster.cli("license", "unpause", key, "--app", app)
    cluster.both_ok(cluster.session(cluster.a, key, "BAN-MACHINE"))


def test_hwid_reset_is_seen_by_every_process(cluster: Cluster) -> None:
    key, app = cluster.keys[1], cluster.app_id
    cluster.session(cluster.a, key, "FIRST-MACHINE")
    for base in (cluster.a, cluster.b):
        session_id = str(cluster.post(base, "init", cluster.creds)["session_id"])
        body = {"session_id": session_id, "license_key": key, "sid": "SECOND-MACHINE"}
        answer = cluster.post(base, "licenses", body)
        assert answer["code"] == "DEVICE_LIMIT_REACHED", answer
    cluster.cli("license", "reset-hwid", key, "--app", app)
    cluster.both_ok(cluster.session(cluster.b, key, "SECOND-MACHINE"))


def test_session_end_and_delete_are_seen_by_every_process(cluster: Cluster) -> None:
    key, app = cluster.keys[2], cluster.app_id
    session_id = cluster.session(cluster.b, key, "END-MACHINE")
    cluster.both_ok(session_id)
    cluster.cli("session", "end", session_id, "--app", app)
    cluster.both_fail(session_id, "SESSION_EXPIRED")
    session_id = cluster.session(cluster.a, key, "END-MACHINE")
    cluster.both_ok(session_id)
    cluster.cli("license", "delete", key, "--app", app)
    cluster.both_fail(session_id, "SESSION_EXPIRED")


def test_last_seen_written_behind_reaches_every_process_within_the_bound(
    cluster: Cluster,
) -> None:
    """validate-session writes last_seen_at behind (services/session_seen.py, flushed every
    1 s): a call served by A keeps the session alive for B once A has flushed. With a 3 s idle
    timeout, B's call 4 s after init and 2 s after A's call succeeds only if A's time reached
    the database within 2 s (the bound is 1 s plus the flush itself)."""
    app = cluster.app_id
    cluster.cli("app", "set", app, "session_idle_timeout", "3")
    try:
        session_id = str(cluster.post(cluster.a, "init", cluster.creds)["session_id"])
        time.sleep(2)
        answer = cluster.validate(cluster.a, session_id)
        assert answer["success"] is True, answer
        time.sleep(2)
        answer = cluster.validate(cluster.b, session_id)
        assert answer["success"] is True, answer
        time.sleep(3.2)  # idle past the timeout on every process
        for base in (cluster.a, cluster.b):
            assert cluster.validate(base, session_id)["code"] == "SESSION_EXPIRED"
    finally:
        cluster.cli("app", "set", app, "session_idle_timeout", "3600")


def test_app_disable_and_setting_change_are_seen_by_every_process(cluster: Cluster) -> None:
    app = cluster.app_id
    session_id = cluster.session(cluster.a, cluster.keys[3], "APP-MACHINE")
    created = time.monotonic()
    cluster.both_ok(session_id)
    cluster.cli("app", "set", app, "require_request_signature", "on")
    cluster.both_fail(session_id, "INVALID_REQUEST_SIGNATURE")
    cluster.cli("app", "set", app, "require_request_signature", "off")
    cluster.both_ok(session_id)
    cluster.cli("app", "disable", app)
    cluster.both_fail(session_id, "APP_DISABLED")
    cluster.cli("app", "enable", app)
    cluster.both_ok(session_id)
    # The session must be older than the new 1 s lifetime (the CLI is fast enough now that
    # everything above can take less than a second).
    time.sleep(max(0.0, 1.2 - (time.monotonic() - created)))
    cluster.cli("app", "set", app, "session_max_lifetime", "1")
    cluster.both_fail(session_id, "SESSION_EXPIRED")
