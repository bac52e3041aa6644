"""licentia-client (clients/python) against a real `licentia serve`, on the suite's database.

The quick start of docs/client.md: log in online, keep the ticket, start offline from it when
the server cannot be reached; and a vendor license file checked offline and online.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from licentia.config import Settings
from licentia.services import admin_apps, admin_licenses, signing_keys, tickets
from licentia.services.runtime import Runtime

from .serverproc import ServerEnv, free_port

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "clients" / "python"))

from licentia_client import (
    AccountStateError,
    AsyncClient,
    Client,
    TicketStore,
    TransportError,
    verify_ticket,
)


@dataclass
class Setup:
    base_url: str
    pem: str
    owner_id: str
    app_name: str
    secret: str
    keys: list[str]
    license_file: str


async def _prepare(env: ServerEnv) -> tuple[str, str, str, list[str], str, str]:
    """The vendor's side, in process on the server's database (CLI start-ups cost seconds)."""
    settings = Settings(
        data_dir=env.data_dir,
        database_url=env.database_url,
        argon2_memory_kib=64,
        argon2_time_cost=1,
    )
    rt = Runtime.build(settings)
    try:
        owner = await admin_apps.create_owner(rt, "lc-owner", "Pass-1234")
        app = await admin_apps.create_app(rt, owner.owner_id, "ClientApp")
        await admin_apps.set_app_setting(rt, app.app_id, "offline_ticket_ttl", 86400)
        await admin_apps.create_subscription(rt, app.app_id, "Pro", 3)
        keys = await admin_licenses.generate_licenses(rt, app.app_id, "Pro", days=30, count=3)
        made = await tickets.license_file(rt, app.app_id, keys[2], "AIR-1", 5)
        pem = (await signing_keys.ensure_active(rt)).pem
    finally:
        await rt.close()
    return owner.owner_id, app.app_name, app.secret, keys, made.ticket, pem


@pytest.fixture(scope="module")
def setup(e2e_env: ServerEnv) -> Iterator[Setup]:
    owner_id, app_name, secret, keys, license_file, pem = asyncio.run(_prepare(e2e_env))
    with e2e_env.serve() as base_url:
        yield Setup(base_url, pem, owner_id, app_name, secret, keys, license_file)


def _client(s: Setup, base_url: str | None = None) -> Client:
    return Client(
        base_url or s.base_url,
        owner_id=s.owner_id,
        app_name=s.app_name,
        secret=s.secret,
        version="1.0.0",
        public_key=s.pem,
        retries=1,
        retry_backoff=0.0,
    )


def test_quick_start_online_then_offline(setup: Setup, tmp_path: Path) -> None:
    store = TicketStore(tmp_path / "ticket")
    with _client(setup) as online:
        online.init()
        login = online.license_login(setup.keys[0], hwid="PC-1")
        assert login.profile.subscription == "Pro" and login.profile.subscription_level == 3
        issued = online.fetch_ticket()
        store.save(issued.ticket)
        assert online.validate_session().identity_type == "license"
    with _client(setup, f"http://127.0.0.1:{free_port()}") as offline:
        with pytest.raises(TransportError):
            offline.init()
        claims = offline.start_offline(store, hwid="pc-1")
    assert claims.identity_name == setup.keys[0] and claims.subscriptions[0].level == 3
    assert claims.expires_at - claims.issued_at == 86400


def test_license_file_offline_and_online(setup: Setup) -> None:
    claims = verify_ticket(setup.license_file, [setup.pem], app_name="ClientApp", hwid="AIR-1")
    assert claims.typ == "license-file" and claims.identity_name == setup.keys[2]
    with _client(setup) as client:
        assert client.check_ticket(setup.license_file, hwid="AIR-1").valid


async def test_async_client_on_the_real_server(setup: Setup) -> None:
    async with AsyncClient(
        setup.base_url,
        owner_id=setup.owner_id,
        app_name=setup.app_name,
        secret=setup.secret,
        version="1.0.0",
        public_key=setup.pem,
    ) as client:
        await client.init()
        await client.license_login(setup.keys[1], hwid="PC-2")
        ticket = (await client.fetch_ticket()).ticket
        assert (await client.check_ticket(ticket)).identity_type == "license"
        with pytest.raises(AccountStateError):
            await client.license_login(setup.keys[1], hwid="PC-3")
