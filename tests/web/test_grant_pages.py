"""The grant rule in the dashboard (`services.grants`): a staff member who manages roles and
staff cannot widen its own role, grant what it does not hold, hand out owner-level rights, or
change its own membership, and so never reaches the owner's Elite Key."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, select

from licentia.services import admin_staff, credentials
from licentia.store.tables import elite_keys, staff_members, staff_roles
from tests.web.conftest import Browser, Dash
from tests.web.test_team_pages import _member, _signed_in_as


async def _staff(dash: Dash, permissions: list[str]) -> tuple[Browser, admin_staff.Role, Any]:
    assert dash.owner is not None
    role = await admin_staff.create_role(dash.rt, dash.owner.owner_id, "Limited", permissions)
    member = await _member(dash, "staff")
    await admin_staff.add_staff(
        dash.rt, dash.owner.owner_id, type="existing", role_id=role.id, public_id=member.public_id
    )
    return await _signed_in_as(dash, member.username), role, member


async def _role_perms(dash: Dash, role_id: str) -> list[str]:
    async with dash.rt.db.read() as conn:
        row = (
            await conn.execute(select(staff_roles.c.permissions).where(staff_roles.c.id == role_id))
        ).one()
    return list(json.loads(row.permissions))


async def _roles_of_owner(dash: Dash) -> int:
    assert dash.owner is not None
    async with dash.rt.db.read() as conn:
        query = select(func.count()).where(staff_roles.c.owner_account_id == dash.owner.id)
        return int((await conn.execute(query)).scalar_one())


async def _elite_digest(dash: Dash) -> Any:
    assert dash.owner is not None
    async with dash.rt.db.read() as conn:
        return (
            await conn.execute(
                select(elite_keys.c.digest).where(elite_keys.c.owner_account_id == dash.owner.id)
            )
        ).scalar_one()


async def test_a_role_manager_cannot_escalate_through_the_dashboard(dash: Dash) -> None:
    assert dash.owner is not None
    await credentials.rotate_elite_key(dash.rt, dash.owner.owner_id)
    key_before = await _elite_digest(dash)
    browser, role, _member_account = await _staff(dash, ["role:read", "role:write"])
    roles_before = await _roles_of_owner(dash)

    # Its own role: refused whatever it adds, and unchanged.
    widened = await browser.submit(
        f"/team/roles/{role.id}",
        f"/team/roles/{role.id}",
        {
            "name": "Limited",
            "perm": "license:write",
            "perm_extra": "role:read role:write app.delete elite-key.rotate token.create",
            "scope": "all",
        },
    )
    assert widened.status_code == 403, widened.text  # nobody changes their own role
    assert await _role_perms(dash, role.id) == ["role:read", "role:write"]

    # A new role with rights it does not hold, or owner-level ones: refused, none created.
    for extra in ("app:write owner:write", "elite-key.rotate", "license.ban"):
        made = await browser.submit(
            "/team", "/team/roles", {"name": "Escalate", "perm_extra": extra, "scope": "all"}
        )
        assert made.status_code == 400, (extra, made.text)
        assert 'id="e-role_permissions"' in made.text
    assert await _roles_of_owner(dash) == roles_before

    # So the owner's Elite Key stays out of reach.
    page = await browser.get("/team")
    rotate = await browser.post("/access/elite/rotate", {"csrf_token": _csrf(page.text)})
    assert rotate.status_code == 403
    assert await _elite_digest(dash) == key_before

    # What it holds, it may still grant.
    fine = await browser.submit(
        "/team", "/team/roles", {"name": "Readers", "perm_extra": "role:read", "scope": "all"}
    )
    assert fine.status_code == 303, fine.text
    assert await _roles_of_owner(dash) == roles_before + 1


async def test_a_staff_manager_cannot_take_a_bigger_role(dash: Dash) -> None:
    assert dash.owner is not None
    browser, role, member = await _staff(dash, ["role:read", "staff:read", "staff:write"])
    big = await admin_staff.create_role(dash.rt, dash.owner.owner_id, "Admin", ["app:write"])
    # Its own membership: another role for itself is refused.
    mine = await browser.submit(
        "/team", f"/team/staff/{member.public_id}/role", {"role_id": big.id}
    )
    assert mine.status_code == 403
    # Another member: a role beyond its own rights is refused too.
    other = await _member(dash, "other")
    small = await admin_staff.create_role(dash.rt, dash.owner.owner_id, "Small", ["staff:read"])
    await admin_staff.add_staff(
        dash.rt, dash.owner.owner_id, type="existing", role_id=small.id, public_id=other.public_id
    )
    theirs = await browser.submit(
        "/team", f"/team/staff/{other.public_id}/role", {"role_id": big.id}
    )
    assert theirs.status_code == 403
    async with dash.rt.db.read() as conn:
        held = dict(
            (
                await conn.execute(
                    select(staff_members.c.account_id, staff_members.c.role_id).where(
                        staff_members.c.owner_account_id == dash.owner.id
                    )
                )
            ).all()
        )
    assert held[member.id] == role.id and held[other.id] == small.id


def _csrf(html: str) -> str:
    from tests.web.conftest import csrf_of

    return csrf_of(html)
