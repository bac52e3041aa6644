"""The grant rule over REST and in the service (`services.grants`): nobody grants a right they
do not hold, nobody changes their own role, only the owner grants owner-level rights, and a
token's scopes bound what it may grant."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import func, select

from licentia.services import admin, admin_staff
from licentia.services.admin_common import AdminError
from licentia.services.grants import Grantor
from licentia.store.tables import staff_members, staff_roles
from tests.manage.conftest import assert_error

from .conftest import Team


async def _perms(team: Team, role_id: str) -> list[str]:
    async with team.rt.db.read() as conn:
        row = (
            await conn.execute(select(staff_roles.c.permissions).where(staff_roles.c.id == role_id))
        ).one()
    return list(json.loads(row.permissions))


async def _role_count(team: Team) -> int:
    async with team.rt.db.read() as conn:
        query = select(func.count()).where(staff_roles.c.owner_account_id == team.account_id)
        return int((await conn.execute(query)).scalar_one())


async def _role_of(team: Team, member_id: str) -> str:
    async with team.rt.db.read() as conn:
        query = select(staff_members.c.role_id).where(staff_members.c.id == member_id)
        return str((await conn.execute(query)).scalar_one())


async def test_a_role_manager_cannot_widen_its_own_role(team: Team) -> None:
    member, token = await team.staff(["role:read", "role:write"])
    for added in (["app.delete"], ["elite-key.rotate"], ["token.create"], ["license:write"]):
        response = await team.call(
            "PATCH",
            f"/roles/{member.role_id}",
            token=token,
            json_body={"permissions": ["role:read", "role:write", *added]},
        )
        assert_error(response, 403, "PERMISSION_DENIED")
    # Not even a rename of its own role.
    assert_error(
        await team.call(
            "PATCH", f"/roles/{member.role_id}", token=token, json_body={"name": "Mine"}
        ),
        403,
        "PERMISSION_DENIED",
    )
    assert await _perms(team, member.role_id) == ["role:read", "role:write"]


@pytest.mark.parametrize(
    "permissions",
    [
        pytest.param(["app:write", "owner:write"], id="app-and-owner-write"),
        pytest.param(["license.ban"], id="a-capability-it-lacks"),
        pytest.param(["role:read", "elite-key.show"], id="owner-level"),
    ],
)
async def test_a_role_manager_cannot_create_a_bigger_role(
    team: Team, permissions: list[str]
) -> None:
    _member, token = await team.staff(["role:read", "role:write"])
    before = await _role_count(team)
    body = {"name": "Escalate", "permissions": permissions}
    assert_error(await team.post("/roles", body, token=token), 403, "PERMISSION_DENIED")
    assert await _role_count(team) == before


async def test_a_role_manager_grants_what_it_holds(team: Team) -> None:
    _member, token = await team.staff(["role:read", "role:write", "license.ban"])
    made = await team.post(
        "/roles", {"name": "Banner", "permissions": ["license.ban", "role:read"]}, token=token
    )
    assert made.status_code == 201, made.text
    # A shorthand covers actions added later: only who holds the shorthand grants it.
    assert_error(
        await team.post("/roles", {"name": "Wide", "permissions": ["license:write"]}, token=token),
        403,
        "PERMISSION_DENIED",
    )
    # The role it made it may edit within its rights, but not beyond them.
    role_id = made.json()["id"]
    narrowed = await team.call(
        "PATCH", f"/roles/{role_id}", token=token, json_body={"permissions": ["license.ban"]}
    )
    assert narrowed.status_code == 200, narrowed.text
    assert_error(
        await team.call(
            "PATCH", f"/roles/{role_id}", token=token, json_body={"permissions": ["app.delete"]}
        ),
        403,
        "PERMISSION_DENIED",
    )
    assert await _perms(team, role_id) == ["license.ban"]


async def test_an_app_limited_role_manager_grants_only_its_apps(team: Team) -> None:
    second = await admin.create_app(team.rt, team.owner_id, "Second")
    member, token = await team.staff(["role:read", "role:write"], [team.app_id])
    before = await _role_count(team)
    # Over REST an app-limited role makes no account-level change at all.
    every_app = {"name": "Everywhere", "permissions": ["role:read"], "apps": None}
    assert_error(await team.post("/roles", every_app, token=token), 403, "PERMISSION_DENIED")
    # And the service, whatever the face, keeps a grant within the grantor's apps.
    by = Grantor(member.account_id)
    for apps in (None, [second.app_id], [team.app_id, second.app_id]):
        with pytest.raises(AdminError) as refused:
            await admin_staff.create_role(
                team.rt, team.owner_id, "Wide", ["role:read"], apps, by=by
            )
        assert refused.value.code == "PERMISSION_DENIED"
    assert await _role_count(team) == before
    role = await admin_staff.create_role(
        team.rt, team.owner_id, "Here", ["role:read"], [team.app_id], by=by
    )
    assert role.app_ids == [team.app_id]


async def test_a_staff_manager_cannot_reassign_itself_or_a_superior(team: Team) -> None:
    member, token = await team.staff(["staff:read", "staff:write", "role:read"])
    big = await team.role(["app:write", "staff:write"])
    response = await team.call(
        "PATCH", f"/staff/{member.public_id}", token=token, json_body={"role_id": big.id}
    )
    assert_error(response, 403, "PERMISSION_DENIED")
    assert await _role_of(team, member.id) == member.role_id
    # A member above it: it may not demote, ban or remove that member.
    boss, _boss_token = await team.staff(["app:write", "staff:write"])
    small = await team.role(["staff:read"])
    for method, path, body in (
        ("PATCH", f"/staff/{boss.public_id}", {"role_id": small.id}),
        ("POST", f"/staff/{boss.public_id}/ban", None),
        ("DELETE", f"/staff/{boss.public_id}", None),
    ):
        response = await team.call(method, path, token=token, json_body=body)
        assert_error(response, 403, "PERMISSION_DENIED")
    assert await _role_of(team, boss.id) == boss.role_id
    # Nor add a new member with a bigger role than its own.
    added = await team.post(
        "/staff",
        {"type": "new", "role_id": big.id, "username": "bigger", "email": "b@example.com"},
        token=token,
    )
    assert_error(added, 403, "PERMISSION_DENIED")


async def test_the_owners_token_grants_within_its_scopes(team: Team) -> None:
    # TEAM_SCOPES hold no owner:* scope: the owner's own token cannot grant owner.edit.
    assert_error(
        await team.post("/roles", {"name": "Ownerish", "permissions": ["owner.edit"]}),
        403,
        "PERMISSION_DENIED",
    )
    full = await team.make_token(["role:write", "owner:write"])
    made = await team.post(
        "/roles", {"name": "Ownerish", "permissions": ["owner.edit"]}, token=full
    )
    assert made.status_code == 201, made.text


async def test_token_scopes_never_exceed_the_creator(team: Team) -> None:
    _member, token = await team.staff(["token:read", "token:write", "license:read"])
    for scopes in (["license:write"], ["app.delete"], ["elite-key.rotate"]):
        response = await team.post("/tokens", {"name": "more", "scopes": scopes}, token=token)
        assert_error(response, 403, "PERMISSION_DENIED")
    ok = await team.post("/tokens", {"name": "less", "scopes": ["license:read"]}, token=token)
    assert ok.status_code == 201, ok.text


async def test_the_service_refuses_any_face_that_passes_a_grantor(team: Team) -> None:
    """The rule lives in the service: every face that names the grantor gets it."""
    member, _token = await team.staff(["role:read", "role:write"])
    by: Any = Grantor(member.account_id)
    with pytest.raises(AdminError) as own:
        await admin_staff.edit_role(
            team.rt, team.owner_id, member.role_id, permissions=["app.delete"], by=by
        )
    assert own.value.code == "PERMISSION_DENIED"
    with pytest.raises(AdminError) as bigger:
        await admin_staff.create_role(team.rt, team.owner_id, "Big", ["owner:write"], by=by)
    assert bigger.value.code == "PERMISSION_DENIED"
    # The owner itself (no grantor) grants anything.
    role = await admin_staff.create_role(team.rt, team.owner_id, "Big", ["owner:write"])
    assert role.permissions == ["owner:write"]
