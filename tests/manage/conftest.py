"""Helpers for the management API tests: tokens, a second owner, audit and row snapshots."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from licentia.services import admin, credentials
from licentia.services.runtime import Runtime
from licentia.store.tables import apps, audit_log, licenses, subscriptions, users
from tests.conftest import World

BASE = "/api/manage/v1"

#: Every scope this slice needs.
ALL_SCOPES = (
    "app:read",
    "app:write",
    "subscription:read",
    "subscription:write",
    "license:read",
    "license:write",
    "user:read",
    "user:write",
)


class Manage:
    """One owner's view of the management API."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.rt: Runtime = world.rt
        self.client: httpx.AsyncClient = world.client
        self.app_id = world.app_id
        self.token = ""
        self.account_id = ""
        self.last_token_id = ""

    async def setup(self) -> Manage:
        self.account_id = (await admin.get_owner(self.rt, self.world.owner_id)).id
        self.token = await self.make_token()
        return self

    async def make_token(
        self,
        scopes: Sequence[str] = ALL_SCOPES,
        app_ids: Sequence[str] | None = None,
        expires_at: datetime | None = None,
    ) -> str:
        info, plaintext = await credentials.create_token(
            self.rt, self.world.owner_id, "tests", list(scopes), app_ids, expires_at
        )
        self.last_token_id = info.id
        return plaintext

    async def call(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        json_body: Any = None,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        sent = {"Authorization": f"Bearer {token or self.token}"}
        sent.update(headers or {})
        if json_body is not None:
            kwargs["json"] = json_body
        return await self.client.request(method, BASE + path, headers=sent, **kwargs)

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.call("GET", path, **kwargs)

    async def post(self, path: str, body: Any = None, **kwargs: Any) -> httpx.Response:
        return await self.call("POST", path, json_body=body, **kwargs)

    async def audit(self) -> list[Any]:
        async with self.rt.db.read() as conn:
            rows = (
                await conn.execute(
                    select(audit_log)
                    .where(audit_log.c.owner_account_id == self.account_id)
                    .where(audit_log.c.face == "rest")
                    .order_by(audit_log.c.id)
                )
            ).all()
        return list(rows)

    async def snapshot(self) -> list[Any]:
        """Every row of this owner's app, licenses, users and subscriptions."""
        out: list[Any] = []
        async with self.rt.db.read() as conn:
            out += (await conn.execute(select(apps).where(apps.c.id == self.app_id))).all()
            for table in (subscriptions, licenses, users):
                rows = await conn.execute(
                    select(table).where(table.c.app_id == self.app_id).order_by(table.c.id)
                )
                out += rows.all()
        return [tuple(r) for r in out]


def changes_of(row: Any) -> dict[str, Any]:
    return json.loads(row.changes) if row.changes else {}


def assert_error(
    response: httpx.Response, status: int, code: str, fields: list[str] | None = None
) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    assert isinstance(body["message"], str) and body["message"]
    assert set(body) <= {"code", "message", "fields"}, body
    if fields is not None:
        assert body.get("fields") == fields, body
    assert "Traceback" not in response.text
    return body


@pytest.fixture
async def m(world: World) -> Manage:
    return await Manage(world).setup()


@pytest.fixture
async def other(app: Any, client: httpx.AsyncClient, clock: Any, public_pem: str) -> Manage:
    """A second owner with its own app and an all-scopes token."""
    return await Manage(await World(app, client, clock, public_pem).setup()).setup()
