"""Elite Key `app edit` sets the offline ticket lifetime like every other face."""

from __future__ import annotations

from licentia.services import admin
from tests.conftest import World

from .conftest import Bot


async def test_app_edit_offline_ticket_ttl(bot: Bot, world: World) -> None:
    edited = await bot.ok("app", "edit", {"offline_ticket_ttl": 86400})
    assert edited["app"]["offline_ticket_ttl"] == 86400
    assert (await admin.get_app_settings(world.rt, world.app_id))["offline_ticket_ttl"] == 86400
    refused = await bot.call("app", "edit", {"offline_ticket_ttl": 31 * 86400})
    assert refused.json()["success"] is False
    assert (await admin.get_app_settings(world.rt, world.app_id))["offline_ticket_ttl"] == 86400
