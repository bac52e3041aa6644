"""Service-test fixtures: a migrated database per test (SQLite, or PostgreSQL when
`LICENTIA_TEST_DATABASE_URL` is set), a `Runtime` on it with a controllable clock, and small
factories for owners and apps."""

from __future__ import annotations

import base64
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from licentia.config import Settings
from licentia.services import admin
from licentia.services.runtime import Runtime
from tests.conftest import TEST_ARGON2_ENV

from ._db import DatabaseFactory, database_factory

START = datetime(2026, 4, 13, 12, 0, 0, tzinfo=UTC)


@dataclass
class FakeClock:
    now: datetime = field(default=START)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture(scope="session")
def databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseFactory]:
    with database_factory(tmp_path_factory.mktemp("svc-template")) as factory:
        yield factory


@pytest.fixture
def database_url(databases: DatabaseFactory, tmp_path: Path) -> Iterator[str]:
    url = databases.new(tmp_path / "db")
    yield url
    databases.drop(url)


@pytest.fixture
def settings(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name in ("LICENTIA_DATA_DIR", "LICENTIA_DATABASE_URL", "LICENTIA_MASTER_KEY"):
        monkeypatch.delenv(name, raising=False)
    for name, value in TEST_ARGON2_ENV.items():
        monkeypatch.setenv(name, value)
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        master_key=base64.b64encode(secrets.token_bytes(32)).decode(),
        db_pool_size=2,
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def rt(settings: Settings, clock: FakeClock) -> AsyncIterator[Runtime]:
    runtime = Runtime.build(settings, clock=clock)
    try:
        yield runtime
    finally:
        await runtime.close()


@dataclass
class AppFixture:
    owner: admin.Owner
    app: admin.CreatedApp
    subscription: admin.Subscription

    @property
    def app_id(self) -> str:
        return self.app.app_id


async def make_app(
    rt: Runtime, *, name: str = "MyApp", subscription: str = "Default"
) -> AppFixture:
    owner = await admin.create_owner(
        rt, f"vendor-{secrets.token_hex(4)}", "pw-" + secrets.token_hex(4)
    )
    app = await admin.create_app(rt, owner.owner_id, name)
    sub = await admin.create_subscription(rt, app.app_id, subscription, 1)
    return AppFixture(owner=owner, app=app, subscription=sub)


@pytest.fixture
async def demo(rt: Runtime) -> AppFixture:
    return await make_app(rt)
