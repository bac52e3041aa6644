"""Authentication, isolation and capabilities on every endpoint (management B.0, B.1):
401 INVALID_TOKEN, 403 ACCOUNT_SUSPENDED / PERMISSION_DENIED, 404 for another owner's objects,
and a refused call changes nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from licentia.services import admin, credentials
from tests.conftest import FakeClock
from tests.manage.conftest import BASE, Manage, assert_error

# (method, path, body, capability); {app}, {key} and {user} are filled in per test.
ENDPOINTS: list[tuple[str, str, Any, str]] = [
    ("GET", "/apps/{app}", None, "app.info"),
    ("PATCH", "/apps/{app}", {"hwid_lock": False}, "app.edit"),
    ("GET", "/apps/{app}/subscriptions", None, "subscription.list"),
    ("POST", "/apps/{app}/subscriptions", {"name": "Gold"}, "subscription.create"),
    ("GET", "/apps/{app}/licenses", None, "license.list"),
    ("POST", "/apps/{app}/licenses", {"key": "NEW-1", "subscription": "Premium"}, "license.add"),
    (
        "POST",
        "/apps/{app}/licenses/generate",
        {"subscription": "Premium", "amount": 2},
        "license.generate",
    ),
    ("GET", "/apps/{app}/licenses/{key}", None, "license.info"),
    ("DELETE", "/apps/{app}/licenses/{key}", None, "license.delete"),
    ("POST", "/apps/{app}/licenses/{key}/ban", {"reason": "x"}, "license.ban"),
    ("POST", "/apps/{app}/licenses/{key}/unban", None, "license.unban"),
    ("POST", "/apps/{app}/licenses/{key}/pause", None, "license.pause"),
    ("POST", "/apps/{app}/licenses/{key}/unpause", None, "license.unpause"),
    ("GET", "/apps/{app}/users", None, "user.list"),
    (
        "POST",
        "/apps/{app}/users",
        {"username": "newbie", "password": "pw-123456", "subscription": "Premium"},
        "user.create",
    ),
    ("GET", "/apps/{app}/users/{user}", None, "user.info"),
    ("DELETE", "/apps/{app}/users/{user}", None, "user.delete"),
    ("POST", "/apps/{app}/users/{user}/ban", None, "user.ban"),
    ("POST", "/apps/{app}/users/{user}/unban", None, "user.unban"),
    ("POST", "/apps/{app}/users/{user}/pause", None, "user.pause"),
    ("POST", "/apps/{app}/users/{user}/unpause", None, "user.unpause"),
]
ALL = [("GET", "/apps", None, "app.list"), *ENDPOINTS]


def ids(cases: list[tuple[str, str, Any, str]]) -> list[Any]:
    return [pytest.param(*case, id=case[3]) for case in cases]


async def seed(m: Manage) -> None:
    """A key and a user in the owner's app, the targets of the per-object endpoints."""
    await admin.add_license(m.rt, m.app_id, "KEY-1", "Premium")
    await admin.create_user(m.rt, m.app_id, "mara", "secret-pw", "Premium")


def fill(path: str, app_id: str) -> str:
    return path.format(app=app_id, key="KEY-1", user="mara")


@pytest.mark.parametrize(("method", "path", "body", "capability"), ids(ALL))
async def test_a_missing_token_is_401_and_changes_nothing(
    m: Manage, method: str, path: str, body: Any, capability: str
) -> None:
    await seed(m)
    before = await m.snapshot()
    response = await m.client.request(method, BASE + fill(path, m.app_id), json=body)
    assert_error(response, 401, "INVALID_TOKEN")
    assert response.headers["www-authenticate"] == "Bearer"
    assert await m.snapshot() == before


@pytest.mark.parametrize(
    "header",
    [
        pytest.param("Basic dXNlcjpwYXNz", id="basic"),
        pytest.param("Bearer ", id="empty"),
        pytest.param("Bearer lic_short", id="malformed"),
        pytest.param("Bearer lic_" + "A" * 40, id="unknown"),
        pytest.param("lic_" + "A" * 40, id="no-scheme"),
    ],
)
async def test_bad_authorization_headers_are_401(m: Manage, header: str) -> None:
    response = await m.client.get(
        f"{BASE}/apps/{m.app_id}/licenses", headers={"Authorization": header}
    )
    assert_error(response, 401, "INVALID_TOKEN")


async def test_a_revoked_token_is_401(m: Manage) -> None:
    token = await m.make_token()
    assert (await m.get("/apps", token=token)).status_code == 200
    await credentials.revoke_token(m.rt, m.world.owner_id, m.last_token_id)
    assert_error(await m.get("/apps", token=token), 401, "INVALID_TOKEN")


async def test_an_expired_token_is_401(m: Manage, clock: FakeClock) -> None:
    token = await m.make_token(expires_at=clock.now + timedelta(hours=1))
    assert (await m.get("/apps", token=token)).status_code == 200
    clock.advance(hours=1)
    assert_error(await m.get("/apps", token=token), 401, "INVALID_TOKEN")


async def test_a_suspended_owner_is_403(m: Manage) -> None:
    await admin.set_owner_status(m.rt, m.world.owner_id, "suspended")
    assert_error(await m.get("/apps"), 403, "ACCOUNT_SUSPENDED")
    assert_error(await m.get(f"/apps/{m.app_id}/licenses"), 403, "ACCOUNT_SUSPENDED")


@pytest.mark.parametrize(("method", "path", "body", "capability"), ids(ALL))
async def test_an_under_scoped_token_is_403_and_changes_nothing(
    m: Manage, method: str, path: str, body: Any, capability: str
) -> None:
    await seed(m)
    resource, _, action = capability.partition(".")
    # Every scope of the slice except the ones that grant this capability.
    granted = {
        capability,
        f"{resource}:{'read' if credentials.is_read_action(action) else 'write'}",
    }
    scopes = [
        s
        for s in (
            "app:read",
            "app:write",
            "subscription:read",
            "subscription:write",
            "license:read",
            "license:write",
            "user:read",
            "user:write",
        )
        if s not in granted
    ] + ["hash:read"]
    token = await m.make_token(scopes)
    before = await m.snapshot()
    response = await m.call(method, fill(path, m.app_id), token=token, json_body=body)
    assert_error(response, 403, "PERMISSION_DENIED")
    assert await m.snapshot() == before
    if not credentials.is_read_action(action):  # a refused change is audited, not applied
        entry = (await m.audit())[-1]
        assert (entry.capability, entry.result) == (capability, "PERMISSION_DENIED")


@pytest.mark.parametrize(("method", "path", "body", "capability"), ids(ALL))
async def test_the_exact_capability_is_enough(
    m: Manage, method: str, path: str, body: Any, capability: str
) -> None:
    await seed(m)
    token = await m.make_token([capability])
    response = await m.call(method, fill(path, m.app_id), token=token, json_body=body)
    assert response.status_code in (200, 201, 204), response.text


@pytest.mark.parametrize(("method", "path", "body", "capability"), ids(ENDPOINTS))
async def test_another_owners_app_is_404_and_changes_nothing(
    m: Manage, other: Manage, method: str, path: str, body: Any, capability: str
) -> None:
    await seed(m)
    before = await m.snapshot()
    response = await other.call(method, fill(path, m.app_id), json_body=body)
    assert_error(response, 404, "APP_NOT_FOUND")
    assert await m.snapshot() == before
    assert await m.audit() == []


@pytest.mark.parametrize(("method", "path", "body", "capability"), ids(ENDPOINTS))
async def test_an_app_outside_the_token_limit_is_404(
    m: Manage, method: str, path: str, body: Any, capability: str
) -> None:
    await seed(m)
    second = await admin.create_app(m.rt, m.world.owner_id, "Second")
    token = await m.make_token(app_ids=[second.app_id])
    before = await m.snapshot()
    response = await m.call(method, fill(path, m.app_id), token=token, json_body=body)
    assert_error(response, 404, "APP_NOT_FOUND")
    assert await m.snapshot() == before


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/apps/{app}/licenses/{key}"),
        ("DELETE", "/apps/{app}/licenses/{key}"),
        ("POST", "/apps/{app}/licenses/{key}/ban"),
        ("GET", "/apps/{app}/users/{user}"),
        ("DELETE", "/apps/{app}/users/{user}"),
        ("POST", "/apps/{app}/users/{user}/pause"),
    ],
)
async def test_another_owners_key_or_user_through_my_app_is_404(
    m: Manage, other: Manage, method: str, path: str
) -> None:
    await seed(other)  # KEY-1 and mara exist only in the other owner's app
    before = await other.snapshot()
    response = await m.call(method, fill(path, m.app_id))
    code = "LICENSE_NOT_FOUND" if "licenses" in path else "USER_NOT_FOUND"
    assert_error(response, 404, code)
    assert await other.snapshot() == before


async def test_an_unknown_app_id_is_404(m: Manage) -> None:
    assert_error(await m.get("/apps/not-an-app/licenses"), 404, "APP_NOT_FOUND")
    assert_error(await m.get("/apps/" + "x" * 300), 404, "APP_NOT_FOUND")


async def test_an_app_limited_token_lists_only_its_apps(m: Manage) -> None:
    second = await admin.create_app(m.rt, m.world.owner_id, "Second")
    everything = (await m.get("/apps")).json()["items"]
    assert {a["id"] for a in everything} == {m.app_id, second.app_id}
    token = await m.make_token(["app:read"], app_ids=[second.app_id])
    limited = (await m.get("/apps", token=token)).json()["items"]
    assert [a["id"] for a in limited] == [second.app_id]


async def test_another_owner_lists_only_its_own_apps(m: Manage, other: Manage) -> None:
    listed = (await other.get("/apps")).json()["items"]
    assert [a["id"] for a in listed] == [other.app_id]
