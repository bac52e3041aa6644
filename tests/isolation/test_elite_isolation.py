"""Tenant isolation over the Elite Key API (issue #14): every registered function/action is
called with another owner's Elite Key (naming the victim's app, which that owner also has a
namesake of) and with the victim's own key with every capability disabled, aimed at the
victim's objects. The victim's whole state must be the same after each call."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from licentia.api.elite import handlers
from licentia.services import admin, credentials
from tests.conftest import World
from tests.isolation import state
from tests.isolation.conftest import Victim
from tests.isolation.requests import FUTURE


def elite_params(names: dict[str, Any]) -> dict[str, Any]:
    """Every parameter an action reads, with the victim's objects or a real change."""
    return {
        "app_name": names["app_name"],
        "license_key": names["key"],
        "username": names["username"],
        "password": "attack-password-1",
        "new_password": "attack-password-2",
        "subscription": "Premium",
        "name": "Premium",
        "new_name": "Attacked",
        "level": 9,
        "days": 30,
        "amount": 3,
        "device_limit": 5,
        "note": "attacked",
        "reason": "attack",
        "email": "attacker@example.com",
        "device_type": names["device_type"],
        "device_id": names["device_id"],
        "key": names["var_key"],
        "var_key": names["var_key"],
        "value": "attacked",
        "version": names["version"],
        "mode": "block",
        "allowed_until": FUTURE,
        "hash": names["value"],
        "code": names["code"],
        "message": "attacked",
        "identifier": names["staff"],
        "staff_public_id": names["staff"],
        "reseller_public_id": names["reseller"],
        "role_id": names["role_id"],
        "rate_profile_id": names["plan_id"],
        "type": "new",
        "state": "active",
        "description": "attack",
    }


ACTIONS = sorted(handlers._REGISTRY)


def test_every_action_is_registered() -> None:
    functions = {function for function, _action in ACTIONS}
    assert {"license", "user", "device", "staff", "reseller", "app"} <= functions
    assert len(ACTIONS) >= 60


async def _call(
    client: httpx.AsyncClient, key: str, function: str, action: str, params: dict[str, Any]
) -> httpx.Response:
    return await client.post(
        "/api/elite-key",
        params={"function": function, "action": action},
        json=params,
        headers={"x-elite-key": key},
    )


async def _attack(
    victim: Victim, client: httpx.AsyncClient, key: str, params: dict[str, Any], *, refused: bool
) -> list[str]:
    before = await victim.dump()
    applied = await victim.applied()
    failures: list[str] = []
    for function, action in ACTIONS:
        for extra in ({}, {"identifier": victim.names["reseller"]}):
            if extra and function != "reseller":
                continue
            response = await _call(client, key, function, action, {**params, **extra})
            assert response.status_code < 500, (function, action, response.text)
            if refused and response.status_code < 400:
                failures.append(f"{function} {action}: {response.status_code} accepted")
            after = await victim.dump()
            if after != before:
                failures.append(f"{function} {action} changed {state.diff(before, after)}")
                before = after
    if await victim.applied() != applied:
        failures.append("an applied change was audited for the victim")
    return failures


async def test_another_owners_elite_key_changes_nothing(
    client: httpx.AsyncClient, victim: Victim, foreign: World
) -> None:
    rt = victim.rt
    await admin.create_app(rt, foreign.owner_id, victim.world.app_name)  # a namesake
    key = await credentials.rotate_elite_key(rt, foreign.owner_id)
    params = elite_params(victim.names)
    assert await _attack(victim, client, key, params, refused=False) == []
    # Without an app name (the foreign owner's only app would be picked): still nothing.
    lone = await World(victim.world.app, client, victim.world.clock, victim.world.pem).setup()
    lone_key = await credentials.rotate_elite_key(rt, lone.owner_id)
    params.pop("app_name")
    assert await _attack(victim, client, lone_key, params, refused=False) == []


async def test_the_victims_key_with_every_capability_disabled_changes_nothing(
    client: httpx.AsyncClient, victim: Victim
) -> None:
    owner_id = victim.world.owner_id
    await credentials.set_elite_capabilities(
        victim.rt, owner_id, sorted(credentials.ELITE_CAPABILITIES)
    )
    key = await credentials.rotate_elite_key(victim.rt, owner_id)
    failures = await _attack(victim, client, key, elite_params(victim.names), refused=True)
    assert failures == []


@pytest.mark.parametrize("field", ["license_key", "username"])
async def test_a_victims_name_through_the_attackers_own_app_is_not_found(
    client: httpx.AsyncClient, victim: Victim, foreign: World, field: str
) -> None:
    """The attacker's own app (found by name) holds none of the victim's keys or users."""
    key = await credentials.rotate_elite_key(victim.rt, foreign.owner_id)
    before = await victim.dump()
    params = {**elite_params(victim.names), "app_name": foreign.app_name}
    function = "license" if field == "license_key" else "user"
    for action in ("extend", "ban", "pause", "delete", "edit"):
        response = await _call(client, key, function, action, params)
        assert response.status_code == 404, response.text
    assert await victim.dump() == before
