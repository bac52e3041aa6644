"""Fixtures of the protocol fuzzer: the client-protocol driver of tests/api."""

from __future__ import annotations

import pytest

from tests.api.conftest import Api
from tests.conftest import World


@pytest.fixture
async def api(world: World) -> Api:
    return Api(world)
