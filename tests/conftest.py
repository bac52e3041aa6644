"""Fixtures shared by the whole suite.

Every store/service/API test runs against a real database: SQLite by default, PostgreSQL when
`LICENTIA_TEST_DATABASE_URL` names one (a fresh database is created for the run and dropped
after). The schema is migrated once per run; each test isolates itself by creating its own
owner and app (`world`), so tests never see each other's rows.
"""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from licentia.api.app import LicentiaApp, create_app
from licentia.config import Settings
from licentia.crypto.signing import verify
from licentia.services import admin_apps, admin_licenses, signing_keys
from licentia.services.runtime import Runtime
from licentia.store.migrate import upgrade

TEST_MASTER_KEY = base64.b64encode(b"licentia-test-master-key-32bytes").decode()
PG_URL = os.environ.get("LICENTIA_TEST_DATABASE_URL", "")


def _admin_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not PG_URL:
        path = tmp_path_factory.mktemp("db") / "licentia.db"
        url = f"sqlite+aiosqlite:///{path}"
        upgrade(url)
        yield url
        return
    import asyncpg

    name = f"licentia_t_{secrets.token_hex(4)}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(_admin_dsn(PG_URL))
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    base, _, _ = PG_URL.rpartition("/")
    url = f"{base}/{name}"
    upgrade(url)
    yield url
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def db_kind(database_url: str) -> str:
    return "sqlite" if database_url.startswith("sqlite") else "postgresql"


class FakeClock:
    """A settable clock: starts at the real time, moves only when told."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float = 0, **kwargs: float) -> None:
        self.now += timedelta(seconds=seconds, **kwargs)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make_settings(database_url: str, data_dir: Any, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "database_url": database_url,
        "master_key": TEST_MASTER_KEY,
        "rate_general": "0",
        "rate_credentials": "0",
        "rate_identity": "0",
        "argon2_memory_kib": 8192,
        "argon2_time_cost": 1,
        "auto_migrate": False,
        "db_pool_size": 5,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Override in a test module (or with `pytest.mark.parametrize`) to change settings."""
    return {}


@pytest.fixture
def settings(database_url: str, tmp_path: Any, settings_overrides: dict[str, Any]) -> Settings:
    return make_settings(database_url, tmp_path / "data", **settings_overrides)


@pytest.fixture
async def app(settings: Settings, clock: FakeClock) -> AsyncIterator[LicentiaApp]:
    application = create_app(settings, Runtime.build(settings, clock=clock))
    await application.startup()
    yield application
    await application.shutdown()


@pytest.fixture
async def client(app: LicentiaApp) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("203.0.113.24", 51000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@pytest.fixture
async def public_pem(app: LicentiaApp) -> str:
    assert app.runtime is not None
    return (await signing_keys.ensure_active(app.runtime)).pem


def assert_signed(
    response: httpx.Response, pem: str, request_id: str = "", nonce: str = ""
) -> None:
    """The response carries a valid Ed25519 signature over ts, request id, nonce and body."""
    signature = response.headers.get("x-v2-signature")
    assert signature, "response is not signed"
    assert response.headers.get("x-auth-signature") == signature
    ts = response.headers["x-v2-signature-ts"]
    assert verify(pem, signature, ts, request_id, nonce, response.content), "bad signature"


class World:
    """One isolated vendor: an owner, an app, a subscription, and helpers to call the API."""

    def __init__(
        self, app: LicentiaApp, client: httpx.AsyncClient, clock: FakeClock, pem: str
    ) -> None:
        assert app.runtime is not None
        self.app = app
        self.rt: Runtime = app.runtime
        self.client = client
        self.clock = clock
        self.pem = pem
        self.owner_id = ""
        self.app_id = ""
        self.app_name = ""
        self.secret = ""

    async def setup(self) -> World:
        suffix = secrets.token_hex(4)
        owner = await admin_apps.create_owner(self.rt, f"vendor_{suffix}", "owner-password")
        self.owner_id = owner.owner_id
        created = await admin_apps.create_app(self.rt, owner.owner_id, f"App{suffix}")
        self.app_id, self.app_name, self.secret = created.app_id, created.app_name, created.secret
        await admin_apps.create_subscription(self.rt, self.app_id, "Premium", 2)
        return self

    async def post(
        self,
        endpoint: str,
        body: dict[str, Any] | None = None,
        *,
        check_signature: bool = True,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        response = await self.client.post(f"/api/v2/{endpoint}", json=body or {}, headers=headers)
        if check_signature:
            payload = body or {}
            assert_signed(
                response,
                self.pem,
                str(payload.get("request_id", "")),
                str(payload.get("nonce", "")),
            )
        return response

    async def init(self, **overrides: Any) -> str:
        body = {
            "owner_id": self.owner_id,
            "app_name": self.app_name,
            "secret": self.secret,
            "version": "1.0.0",
        }
        body.update(overrides)
        response = await self.post("init", body)
        assert response.status_code == 200, response.text
        return str(response.json()["session_id"])

    async def key(self, *, days: int | None = 30, lifetime: bool = False, **kw: Any) -> str:
        if lifetime:
            days = None
        keys = await admin_licenses.generate_licenses(
            self.rt,
            self.app_id,
            kw.pop("subscription", "Premium"),
            days=days,
            lifetime=lifetime,
            **kw,
        )
        return keys[0]

    async def register(
        self, username: str = "mara", password: str = "secret-pw", **extra: Any
    ) -> tuple[str, str]:
        """A fresh session with a registered user; returns (session_id, key)."""
        session = await self.init()
        key = extra.pop("key", None) or await self.key()
        body = {"session_id": session, "username": username, "password": password, "key": key}
        body.update(extra)
        response = await self.post("register", body)
        assert response.status_code == 200, response.text
        return session, key

    async def set(self, setting: str, value: str) -> None:
        await admin_apps.set_app_setting(self.rt, self.app_id, setting, value)


@pytest.fixture
async def world(
    app: LicentiaApp, client: httpx.AsyncClient, clock: FakeClock, public_pem: str
) -> World:
    return await World(app, client, clock, public_pem).setup()
