"""Helpers for the dashboard tests: an owner, browsers (httpx clients) with their own address,
form submission with the page's CSRF token, and audit lookups."""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from licentia.api.app import LicentiaApp
from licentia.services import admin
from licentia.services.runtime import Runtime
from licentia.store.tables import audit_log

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
PASSWORD = "owner-password-1"


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "no CSRF field on the page"
    return found.group(1)


class Browser:
    """One browser: its own cookie jar and client address."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def get(self, path: str, **kw: Any) -> httpx.Response:
        return await self.http.get("/dashboard" + path, **kw)

    async def post(self, path: str, data: dict[str, str], **kw: Any) -> httpx.Response:
        return await self.http.post("/dashboard" + path, data=data, **kw)

    async def submit(self, page: str, action: str, data: dict[str, str]) -> httpx.Response:
        """GET `page`, then POST `action` with the page's CSRF token, like a real form."""
        html = (await self.get(page)).text
        return await self.post(action, {"csrf_token": csrf_of(html), **data})

    async def sign_in(self, username: str, password: str = PASSWORD) -> httpx.Response:
        return await self.submit("/signin", "/signin", {"username": username, "password": password})


class Dash:
    def __init__(self, app: LicentiaApp) -> None:
        assert app.runtime is not None
        self.app = app
        self.rt: Runtime = app.runtime
        self._clients: list[httpx.AsyncClient] = []
        self.username = ""
        self.owner: admin.Owner | None = None

    def browser(self, *, base_url: str = "https://testserver", ip: str | None = None) -> Browser:
        address = (
            ip or f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.{secrets.randbelow(250)}"
        )
        transport = httpx.ASGITransport(app=self.app, client=(address, 51000))
        http = httpx.AsyncClient(transport=transport, base_url=base_url)
        self._clients.append(http)
        return Browser(http)

    async def new_owner(self, prefix: str = "dash") -> admin.Owner:
        name = f"{prefix}_{secrets.token_hex(4)}"
        return await admin.create_owner(self.rt, name, PASSWORD)

    async def signed_in(self) -> Browser:
        browser = self.browser()
        assert self.owner is not None
        response = await browser.sign_in(self.owner.username)
        assert response.status_code == 303, response.text
        return browser

    async def audit(self, capability: str, owner_account_id: str) -> list[Any]:
        async with self.rt.db.read() as conn:
            return list(
                (
                    await conn.execute(
                        select(audit_log)
                        .where(
                            audit_log.c.owner_account_id == owner_account_id,
                            audit_log.c.capability == capability,
                        )
                        .order_by(audit_log.c.id)
                    )
                ).all()
            )

    async def close(self) -> None:
        for http in self._clients:
            await http.aclose()


@pytest.fixture
async def dash(app: LicentiaApp) -> AsyncIterator[Dash]:
    helper = Dash(app)
    helper.owner = await helper.new_owner()
    helper.username = helper.owner.username
    yield helper
    await helper.close()
