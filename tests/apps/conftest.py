"""Fixtures of the app-family tests: a management-API view of one owner (reusing
tests/manage/conftest.py's `Manage`), with every scope of the family."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from licentia.store.tables import apps, audit_log
from tests.conftest import World
from tests.manage.conftest import BASE, Manage, assert_error, changes_of

__all__ = ["BASE", "FAMILY_SCOPES", "Manage", "assert_error", "audit_rows", "changes_of"]

#: Every scope the app family's routes need.
FAMILY_RESOURCES = ("app", "variable", "channel", "log", "version", "hash", "rule", "response")
FAMILY_SCOPES = (
    *(f"{resource}:{kind}" for resource in FAMILY_RESOURCES for kind in ("read", "write")),
    "channel.messages",
    "channel.mutes",
)


async def audit_rows(m: Manage, capability: str, result: str | None = "ok") -> list[Any]:
    """This owner's REST audit entries of one capability (with this result), oldest first."""
    return [
        r
        for r in await m.audit()
        if r.capability == capability and (result is None or r.result == result)
    ]


async def config_rev(m: Manage, app_id: str | None = None) -> int:
    async with m.rt.db.read() as conn:
        return int(
            (
                await conn.execute(
                    select(apps.c.config_rev).where(apps.c.id == (app_id or m.app_id))
                )
            ).scalar_one()
        )


async def all_audit(m: Manage) -> list[Any]:
    async with m.rt.db.read() as conn:
        return list(
            (
                await conn.execute(
                    select(audit_log)
                    .where(audit_log.c.owner_account_id == m.account_id)
                    .order_by(audit_log.c.id)
                )
            ).all()
        )


@pytest.fixture
async def fm(world: World) -> Manage:
    """The world's owner with an all-family-scopes token."""
    m = Manage(world)
    await m.setup()
    m.token = await m.make_token(FAMILY_SCOPES)
    return m


@pytest.fixture
async def stranger(app: Any, client: httpx.AsyncClient, clock: Any, public_pem: str) -> Manage:
    """A second owner with its own app and an all-family-scopes token."""
    m = Manage(await World(app, client, clock, public_pem).setup())
    await m.setup()
    m.token = await m.make_token(FAMILY_SCOPES)
    return m
