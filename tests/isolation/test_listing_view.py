"""Why a before/after comparison of `GET /apps/{id}/licenses` can show `expiry_date` changes
that nobody made (issue #14): for an unused duration key, `expiry_date` is the expiry it would
get if activated now (management spec, license object), so it moves with the clock. The
stored state does not; isolation is judged on the stored rows (`tests/isolation/state.py`)."""

from __future__ import annotations

from typing import Any

import httpx

from licentia.services import credentials
from tests.conftest import FakeClock, World
from tests.isolation.conftest import Victim
from tests.manage.conftest import ALL_SCOPES, BASE


async def _listing(client: httpx.AsyncClient, token: str, app_id: str) -> dict[str, Any]:
    response = await client.get(
        f"{BASE}/apps/{app_id}/licenses",
        params={"limit": 100},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text
    return {item["key"]: item for item in response.json()["items"]}


async def test_only_unused_duration_keys_move_and_nothing_is_stored(
    client: httpx.AsyncClient, victim: Victim, foreign: World, clock: FakeClock
) -> None:
    rt = victim.rt
    _info, own = await credentials.create_token(rt, victim.world.owner_id, "v", list(ALL_SCOPES))
    _info, attacker = await credentials.create_token(rt, foreign.owner_id, "b", list(ALL_SCOPES))
    app_id = victim.world.app_id
    before, rows_before = await _listing(client, own, app_id), await victim.dump()
    clock.advance(60)
    refused = await client.post(
        f"{BASE}/apps/{app_id}/licenses/{victim.names['key']}/extend",
        json={"days": 30},
        headers={"Authorization": f"Bearer {attacker}"},
    )
    assert refused.status_code == 404
    after = await _listing(client, own, app_id)
    moved = {k for k in before if before[k]["expiry_date"] != after[k]["expiry_date"]}
    unused_duration = {
        k
        for k, item in before.items()
        if item["status"] == "unused" and item["duration_days"] and not item.get("paused")
    }
    assert moved and moved == unused_duration
    assert {k: after[k]["duration_days"] for k in moved} == {
        k: before[k]["duration_days"] for k in moved
    }
    assert await victim.dump() == rows_before
