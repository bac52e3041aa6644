"""Fixtures shared by the whole suite.

Every store/service/API test runs against a real database: SQLite by default, PostgreSQL when
`LICENTIA_TEST_DATABASE_URL` names one (a fresh database is created for the run and dropped
after). The schema is migrated once per run; each test isolates itself by creating its own
owner and app (`world`), so tests never see each other's rows.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer.main
import typer.testing
from fastapi import APIRouter, FastAPI

from licentia.api import app as app_module
from licentia.api.app import LicentiaApp, create_app
from licentia.config import Settings
from licentia.crypto.signing import verify
from licentia.services import admin_apps, admin_licenses, signing_keys
from licentia.services.ratelimit import MemoryRateLimiter
from licentia.services.runtime import Runtime
from licentia.store.migrate import upgrade

# typer's CliRunner rebuilds the whole click command tree (about 170 commands, each signature
# inspected) on every invoke: half a second of CPU before the command starts. The tree of an
# app never changes after import, so the CLI tests build it once per app and reuse it (as
# the console entry point builds it once per process).
_BUILT_COMMANDS: dict[int, tuple[Any, Any]] = {}


def _built_command(typer_app: Any) -> Any:
    hit = _BUILT_COMMANDS.get(id(typer_app))
    if hit is None or hit[0] is not typer_app:
        hit = _BUILT_COMMANDS[id(typer_app)] = (typer_app, typer.main.get_command(typer_app))
    return hit[1]


typer.testing._get_command = _built_command  # type: ignore[attr-defined]

TEST_MASTER_KEY = base64.b64encode(b"licentia-test-master-key-32bytes").decode()
PG_URL = os.environ.get("LICENTIA_TEST_DATABASE_URL", "")

#: argon2id parameters for every test that is not about argon2 itself: the smallest cost argon2
#: accepts comfortably (about 0.05 ms a hash instead of 20 ms), so that the thousands of hashes
#: the suite makes (the dummy hash of unknown usernames, plus every owner, user and password change)
#: cost nothing. tests/unit/test_argon2_defaults.py checks the production parameters.
TEST_ARGON2_MEMORY_KIB = 64
TEST_ARGON2_TIME_COST = 1
TEST_ARGON2_ENV = {
    "LICENTIA_ARGON2_MEMORY_KIB": str(TEST_ARGON2_MEMORY_KIB),
    "LICENTIA_ARGON2_TIME_COST": str(TEST_ARGON2_TIME_COST),
}


def xdist_worker() -> str:
    """The pytest-xdist worker id (`gw0`, `gw1`, ...), or `main` without xdist."""
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def _admin_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


#: Fixture scopes whose set-up a module's tests share.
_SHARED_SCOPES = frozenset({"module", "class", "package"})


#: Tests that do not depend on the database engine run in one pass of `./scripts/test`
#: only: `one_pass` tests (the browser tests, HTTP connection handling) in the SQLite pass,
#: `postgres_pass` tests (a copy whose interesting path is SQLite -> PostgreSQL) in the
#: PostgreSQL pass. Run either pass alone with LICENTIA_TEST_EVERY_PASS=1 to keep them all.
EVERY_PASS = os.environ.get("LICENTIA_TEST_EVERY_PASS", "") == "1"


def _skip_in_this_pass(item: pytest.Item) -> None:
    if EVERY_PASS:
        return
    if PG_URL and item.get_closest_marker("one_pass"):
        item.add_marker(pytest.mark.skip(reason="engine-independent: runs in the SQLite pass"))
    if not PG_URL and item.get_closest_marker("postgres_pass"):
        item.add_marker(pytest.mark.skip(reason="runs in the PostgreSQL pass"))


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist turns the marker into the group suffix
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Keep the tests that share a module-scoped fixture on one pytest-xdist worker.

    `./scripts/test` runs with `--dist loadgroup`: tests are spread over the workers one by one,
    except those marked `xdist_group`, which stay together. A module whose tests share an
    expensive fixture (the e2e modules start real servers) would otherwise set it up once on
    every worker that gets one of its tests.
    """
    for item in items:
        _skip_in_this_pass(item)
        info = getattr(item, "_fixtureinfo", None)
        if info is None:
            continue
        if any(
            defs and defs[-1].scope in _SHARED_SCOPES for defs in info.name2fixturedefs.values()
        ):
            item.add_marker(pytest.mark.xdist_group(name=item.nodeid.split("::", 1)[0]))


def _admin_sql(sql: str) -> None:
    import asyncpg

    async def run() -> None:
        conn = await asyncpg.connect(_admin_dsn(PG_URL))
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run())


@contextlib.contextmanager
def fresh_database(prefix: str, folder: Path, *, migrate: bool = True) -> Iterator[str]:
    """A new database of the test kind: a SQLite file in `folder`, or a PostgreSQL database
    `<prefix>_<random>` on the test server, dropped afterwards. Migrated unless told not to.
    Call it outside a running event loop (a sync fixture)."""
    if not PG_URL:
        url = f"sqlite+aiosqlite:///{folder / f'{prefix}.db'}"
        if migrate:
            upgrade(url)
        yield url
        return
    name = f"{prefix}_{secrets.token_hex(4)}"
    _admin_sql(f'CREATE DATABASE "{name}"')
    try:
        url = f"{PG_URL.rpartition('/')[0]}/{name}"
        if migrate:
            upgrade(url)
        yield url
    finally:
        _admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One migrated database per test process: under pytest-xdist, one per worker.

    SQLite: a file under the process's own base temp directory (xdist gives each worker its
    own). PostgreSQL: `licentia_t_<worker>_<random>`, created here and dropped at the end.
    """
    with fresh_database(f"licentia_t_{xdist_worker()}", tmp_path_factory.mktemp("db")) as url:
        yield url


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
        "argon2_memory_kib": TEST_ARGON2_MEMORY_KIB,
        "argon2_time_cost": TEST_ARGON2_TIME_COST,
        "auto_migrate": False,
        "db_pool_size": 5,
        # No webhook delivery loop polling the database in the background of every in-process
        # app: the webhook tests drive delivery themselves (tests/webhooks), the e2e servers
        # run the loop. A poll that holds a connection while a test disposes the engine
        # (test_health) would leave it unclosed.
        "webhook_poll_interval": 0,
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


#: Set `LICENTIA_TEST_FRESH_APP=1` to build every test's `LicentiaApp` from scratch.
REUSE_APPS = os.environ.get("LICENTIA_TEST_FRESH_APP", "") != "1"
#: One `LicentiaApp` per distinct settings (data_dir aside), reused by test after test.
_APPS: dict[str, LicentiaApp] = {}


def _no_routes(*_args: Any, **_kwargs: Any) -> APIRouter:
    return APIRouter()


def _no_dashboard(*_args: Any, **_kwargs: Any) -> FastAPI:
    return FastAPI()


def build_test_app(settings: Settings, runtime: Runtime) -> LicentiaApp:
    """`create_app(settings, runtime)`, without rebuilding the HTTP routes for every test.

    Building the FastAPI routes of the management, Elite Key and dashboard faces costs about
    a second of CPU per app (pydantic builds a validator for every parameter of every route):
    most of the suite's time when every test built its own app. The routes reach everything
    through the app instance (`lambda: self.runtime`, bound methods), so one instance per
    distinct settings is kept and, for each further test, re-initialised in place: the real
    `LicentiaApp.__init__` runs again (fresh runtime, settings, metrics, no started
    components) with the three route builders stubbed out, and the instance then gets back
    its already built `web` app and the Elite Key limiter that `web` holds (re-pointed by
    `startup()`, as for a new app). Settings that are read while building routes (such as
    `elite_rate`) are part of the cache key, since the whole settings are.
    """
    if not REUSE_APPS:
        return create_app(settings, runtime)
    key = settings.model_dump_json(exclude={"data_dir"})
    cached = _APPS.get(key)
    if cached is None:
        cached = _APPS[key] = create_app(settings, runtime)
        return cached
    web, limiter = cached.web, cached._elite_limiter
    saved = (app_module.build_manage_router, app_module.build_elite_router)
    saved_dashboard = app_module.build_dashboard
    app_module.build_manage_router = app_module.build_elite_router = _no_routes
    app_module.build_dashboard = _no_dashboard
    try:
        LicentiaApp.__init__(cached, settings, runtime)
    finally:
        app_module.build_manage_router, app_module.build_elite_router = saved
        app_module.build_dashboard = saved_dashboard
    cached.web = web
    cached._elite_limiter = limiter
    limiter.target = MemoryRateLimiter()
    return cached


@pytest.fixture
async def app(settings: Settings, clock: FakeClock) -> AsyncIterator[LicentiaApp]:
    application = build_test_app(settings, Runtime.build(settings, clock=clock))
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
