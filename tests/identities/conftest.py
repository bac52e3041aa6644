"""Fixtures of the identities family (users, bindings, devices, sessions): an owner with an
all-scopes token for these resources, reusing the management API helpers."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import World
from tests.manage.conftest import Manage

SCOPES = (
    "user:read",
    "user:write",
    "binding:read",
    "binding:write",
    "device:read",
    "device:write",
    "session:read",
    "session:write",
    "user.list_sessions",
)


@pytest.fixture
async def m(world: World) -> Manage:
    manage = await Manage(world).setup()
    manage.token = await manage.make_token(SCOPES)
    return manage


@pytest.fixture
async def other(app: Any, client: httpx.AsyncClient, clock: Any, public_pem: str) -> Manage:
    """A second owner with its own app and an all-scopes token."""
    manage = await Manage(await World(app, client, clock, public_pem).setup()).setup()
    manage.token = await manage.make_token(SCOPES)
    return manage
