"""Elite Key API fixtures: a world with an Elite Key, and a client that calls like the bot."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from licentia.services import credentials
from tests.conftest import World

BASE = "https://licentia.example.com"
#: The bot's "sensitive" actions go as POST with a JSON body; the rest as GET (wire 5.1).
SENSITIVE = frozenset(
    "add generate create edit delete ban unban pause unpause extend shorten reset_password set "
    "reset verify_password coins".split()
)


class Bot:
    """Sends requests exactly as the current AuthlyX Discord bot does (wire 5.1)."""

    def __init__(self, client: httpx.AsyncClient, key: str, app_name: str) -> None:
        self.client = client
        self.key = key
        self.app_name = app_name

    async def call(
        self,
        function: str,
        action: str,
        params: dict[str, Any] | None = None,
        *,
        app_name: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        name = self.app_name if app_name is None else app_name
        values = dict(params or {})
        sent_headers = {"x-elite-key": self.key, **(headers or {})}
        query = {"function": function, "action": action}
        if action in SENSITIVE:
            body = {"url_prefix": BASE, "app_name": name, **values}
            return await self.client.post(
                "/api/elite-key", params=query, json=body, headers=sent_headers
            )
        query.update(url_prefix=BASE, app_name=name)
        for k, v in values.items():
            if v is None or v == "":
                continue
            query[k] = str(v).lower() if isinstance(v, bool) else str(v)
        return await self.client.get("/api/elite-key", params=query, headers=sent_headers)

    async def ok(
        self, function: str, action: str, params: dict[str, Any] | None = None, **kw: Any
    ) -> dict[str, Any]:
        response = await self.call(function, action, params, **kw)
        assert response.status_code == 200, response.text
        data = response.json()
        assert data["success"] is True
        assert isinstance(data["message"], str) and data["message"]
        return dict(data)


@pytest.fixture
async def elite_key(world: World) -> str:
    return await credentials.rotate_elite_key(world.rt, world.owner_id)


@pytest.fixture
def bot(world: World, elite_key: str) -> Bot:
    return Bot(world.client, elite_key, world.app_name)
