"""licentia-client tests: the package from clients/python (a separate distribution, never
installed into the test environment) driven against the server in process."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

CLIENT_ROOT = Path(__file__).resolve().parents[2] / "clients" / "python"
if str(CLIENT_ROOT) not in sys.path:
    sys.path.insert(0, str(CLIENT_ROOT))

from licentia_client import AsyncClient  # noqa: E402

from tests.api.conftest import Api  # noqa: E402
from tests.conftest import World  # noqa: E402

Hook = Callable[[httpx.Request, int], None]


class Wire(httpx.AsyncBaseTransport):
    """The in-process server, with hooks to lose, drop or alter traffic for the tests."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.sent: list[httpx.Request] = []
        #: Deliver the request, then fail as if the answer had been lost (this many times).
        self.lose_answers = 0
        #: Change a response before the client sees it.
        self.alter: Callable[[httpx.Response], httpx.Response] | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        response = await self.inner.handle_async_request(request)
        await response.aread()
        if self.lose_answers:
            self.lose_answers -= 1
            raise httpx.ReadError("connection reset", request=request)
        if self.alter is not None:
            response = self.alter(response)
        return response


def make_client(api: Api, wire: Wire, **options: Any) -> AsyncClient:
    defaults: dict[str, Any] = {
        "owner_id": api.owner_id,
        "app_name": api.app_name,
        "secret": api.secret,
        "version": "1.0.0",
        "public_key": api.world.pem,
        "retry_backoff": 0.0,
    }
    return AsyncClient("http://testserver", transport=wire, **{**defaults, **options})


@pytest.fixture
async def api(world: World) -> Api:
    return Api(world)


@pytest.fixture
def wire(app: Any) -> Wire:
    return Wire(httpx.ASGITransport(app=app, client=("203.0.113.24", 51000)))


@pytest.fixture
async def lc(api: Api, wire: Wire) -> AsyncIterator[AsyncClient]:
    client = make_client(api, wire)
    yield client
    await client.aclose()
