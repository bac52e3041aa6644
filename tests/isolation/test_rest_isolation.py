"""Tenant isolation over REST (issue #14): every changing route of the management API, found
in its OpenAPI document, is called with another owner's token and with the victim's own
under-scoped, app-limited, staff and reseller credentials, aimed at the victim's objects. The
victim's whole state (every row it has in every table) must be the same after each call, and
no applied change may be audited for it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from licentia.api.app import LicentiaApp
from licentia.services import admin
from tests.conftest import World
from tests.isolation import state
from tests.isolation.conftest import Attacker, Victim, attackers
from tests.isolation.requests import Call, api_routes, changing_calls

LABELS = [
    "foreign-owner-token",
    "app-limited-token",
    "low-scope-token",
    "stapp",
    "stlow",
    "reseller-token",
]


async def _send(client: httpx.AsyncClient, attacker: Attacker, call: Call) -> httpx.Response:
    headers = {"Authorization": f"Bearer {attacker.token}"}
    if call.content is not None:
        headers["Content-Type"] = call.content_type
        return await client.request(
            call.method, call.path, params=call.query, content=call.content, headers=headers
        )
    return await client.request(
        call.method, call.path, params=call.query, json=call.json, headers=headers
    )


def test_every_changing_route_is_attacked(app: LicentiaApp) -> None:
    """The OpenAPI document yields the routes: more than a hundred, and every kind of id."""
    names = {
        n: "x"
        for n in (
            "app_id key username device_type device_id var_key channel name version value "
            "code list_name role_id staff reseller plan_id price_id token_id session sid "
            "message_id webhook_id delivery_id"
        ).split()
    }
    names["keys"] = {"a": "x"}
    calls = changing_calls(app.web.openapi(), "", names)
    assert len(calls) >= 100
    assert {c.method for c in calls} == {"POST", "PUT", "PATCH", "DELETE"}
    # Every generated body is one the route accepts: only the access checks stop the call.
    by_route = {(c.method, c.template): c for c in calls}
    checked = 0
    for route in api_routes(app.web.routes):
        if route.body_field is None:
            continue
        for method in route.methods:
            call = by_route.get((method, route.path))
            if call is not None and call.json is not None:
                _value, errors = route.body_field.validate(call.json, {}, loc=("body",))
                assert not errors, (method, route.path, errors)
                checked += 1
    assert checked >= 60


@pytest.mark.parametrize("label", LABELS)
async def test_no_credential_changes_another_owners_or_a_forbidden_object(
    app: LicentiaApp,
    client: httpx.AsyncClient,
    victim: Victim,
    foreign: World,
    label: str,
) -> None:
    await admin.create_app(victim.rt, foreign.owner_id, victim.world.app_name)
    attacker = next(a for a in await attackers(victim, foreign) if a.label == label)
    calls = changing_calls(app.web.openapi(), "", victim.names)
    before = await victim.dump()
    applied = await victim.applied()
    failures: list[str] = []
    for call in calls:
        response = await _send(client, attacker, call)
        assert response.status_code < 500, (call, response.text)
        if attacker.victims_own and response.status_code < 400:
            failures.append(f"{call.method} {call.template}: {response.status_code} accepted")
        after = await victim.dump()
        if after != before:
            changed: dict[str, Any] = state.diff(before, after)
            failures.append(f"{call.method} {call.template} changed {changed}")
            before = after
    assert failures == []
    assert await victim.applied() == applied
