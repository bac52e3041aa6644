"""Helpers for the end-user portal tests: a vendor app with its portal on, end users made
through the client API (so their SIDs are really bound), and browsers (httpx clients) with
their own address and cookie jar."""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from licentia.services import admin_apps
from licentia.store.tables import audit_log, bindings, portal_resets, sessions
from tests.conftest import World

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
PASSWORD = "user-secret-1"


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "no CSRF field on the page"
    return found.group(1)


class Browser:
    """One browser of the portal of one app."""

    def __init__(self, http: httpx.AsyncClient, app_id: str) -> None:
        self.http = http
        self.app_id = app_id

    @property
    def root(self) -> str:
        return f"/portal/{self.app_id}"

    async def get(self, tail: str = "", **kw: Any) -> httpx.Response:
        return await self.http.get(self.root + tail, **kw)

    async def post(self, tail: str, data: dict[str, str], **kw: Any) -> httpx.Response:
        return await self.http.post(self.root + tail, data=data, **kw)

    async def sign_in(self, username: str, password: str = PASSWORD) -> httpx.Response:
        html = (await self.get("/signin")).text
        return await self.post(
            "/signin",
            {
                "csrf_token": csrf_of(html),
                "method": "user",
                "username": username,
                "password": password,
            },
        )

    async def sign_in_key(self, key: str) -> httpx.Response:
        html = (await self.get("/signin")).text
        return await self.post(
            "/signin", {"csrf_token": csrf_of(html), "method": "license", "key": key}
        )

    async def submit(self, action: str, data: dict[str, str] | None = None) -> httpx.Response:
        """GET the portal page, then POST `action` with its CSRF token, like a real form."""
        html = (await self.get()).text
        return await self.post(action, {"csrf_token": csrf_of(html), **(data or {})})


class Portal:
    def __init__(self, world: World) -> None:
        self.world = world
        self.rt = world.rt
        self.app_id = world.app_id
        self._clients: list[httpx.AsyncClient] = []

    def browser(self, *, ip: str | None = None, base_url: str = "https://testserver") -> Browser:
        # Random addresses come from 198.18.0.0/15; tests that need a fixed one use 198.51.100.x.
        address = (
            ip
            or f"198.{18 + secrets.randbelow(2)}.{secrets.randbelow(250)}.{secrets.randbelow(250)}"
        )
        transport = httpx.ASGITransport(app=self.world.app, client=(address, 51000))
        http = httpx.AsyncClient(transport=transport, base_url=base_url)
        self._clients.append(http)
        return Browser(http, self.app_id)

    async def set(self, **settings: Any) -> None:
        await admin_apps.set_app_settings(self.rt, self.app_id, settings)

    async def user(self, username: str = "mara", sid: str = "SID-A") -> str:
        """A user registered through the client API with `sid` bound; its client session."""
        session, _ = await self.world.register(username, PASSWORD, sid=sid)
        return session

    async def key_holder(self, sid: str = "SID-K") -> tuple[str, str]:
        """A key-only license activated through the client API with `sid` bound."""
        key = await self.world.key()
        session = await self.world.init()
        response = await self.world.post(
            "licenses", {"session_id": session, "license_key": key, "sid": sid}
        )
        assert response.status_code == 200, response.text
        return key, session

    async def signed_in(self, username: str = "mara") -> Browser:
        browser = self.browser()
        response = await browser.sign_in(username)
        assert response.status_code == 303, response.text
        return browser

    async def bound(self, kind: str = "user") -> list[str]:
        async with self.rt.db.read() as conn:
            rows = (
                await conn.execute(
                    select(bindings.c.sid).where(
                        bindings.c.app_id == self.app_id, bindings.c.holder_kind == kind
                    )
                )
            ).all()
        return sorted(r.sid for r in rows)

    async def resets(self) -> list[Any]:
        async with self.rt.db.read() as conn:
            return list(
                (
                    await conn.execute(
                        select(portal_resets)
                        .where(portal_resets.c.app_id == self.app_id)
                        .order_by(portal_resets.c.id)
                    )
                ).all()
            )

    async def audit(self, capability: str) -> list[Any]:
        async with self.rt.db.read() as conn:
            return list(
                (
                    await conn.execute(
                        select(audit_log)
                        .where(
                            audit_log.c.app_id == self.app_id,
                            audit_log.c.capability == capability,
                        )
                        .order_by(audit_log.c.id)
                    )
                ).all()
            )

    async def client_session(self, session_id: str) -> Any:
        from licentia.services.client import session_digest

        async with self.rt.db.read() as conn:
            return (
                await conn.execute(
                    select(sessions).where(sessions.c.id_hash == session_digest(session_id))
                )
            ).one()

    async def close(self) -> None:
        for http in self._clients:
            await http.aclose()


@pytest.fixture
async def portal(world: World) -> AsyncIterator[Portal]:
    helper = Portal(world)
    await helper.set(user_panel_enabled=True)
    yield helper
    await helper.close()
