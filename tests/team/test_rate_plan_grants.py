"""Rate plans and resellers obey the grant rule (issue #14 leftover, `services.grants`): a
staff member with `rate-plan:write` could give resellers ban and HWID-reset rights, and
products to generate, that it does not hold itself."""

from __future__ import annotations

import pytest

from licentia.services import admin_resellers
from licentia.services.admin_common import AdminError
from licentia.services.grants import Grantor
from tests.manage.conftest import assert_error

from .conftest import Team, uniq

PLAN_RIGHTS = ["rate-plan:read", "rate-plan:write"]
PRICE = {"subscription": "Premium", "term_kind": "duration", "term_days": 30, "price": 2}


async def test_a_plan_manager_cannot_grant_ban_or_reset_it_lacks(team: Team) -> None:
    _member, token = await team.staff(PLAN_RIGHTS)
    for flag in ("allow_ban", "allow_reset_hwid"):
        response = await team.call(
            "POST", "/rate-plans", token=token, json_body={"name": uniq("p"), flag: True}
        )
        assert_error(response, 403, "PERMISSION_DENIED")
    created = await team.call("POST", "/rate-plans", token=token, json_body={"name": uniq("p")})
    assert created.status_code == 201, created.text
    plan_id = created.json()["id"]
    for flag in ("allow_ban", "allow_reset_hwid"):
        response = await team.call(
            "PATCH", f"/rate-plans/{plan_id}", token=token, json_body={flag: True}
        )
        assert_error(response, 403, "PERMISSION_DENIED")
    # Pricing a product lets resellers generate keys: it needs license.generate.
    priced = await team.call(
        "PUT",
        f"/rate-plans/{plan_id}/prices",
        token=token,
        json_body={"app_id": team.app_id, **PRICE},
    )
    assert_error(priced, 403, "PERMISSION_DENIED")
    page = await admin_resellers.list_rate_plans(team.rt, team.owner_id, limit=100)
    plan = next(p for p in page.items if p.id == plan_id)
    assert (plan.allow_ban, plan.allow_reset_hwid, plan.prices) == (False, False, [])


async def test_a_plan_manager_grants_what_it_holds(team: Team) -> None:
    held = ["license.ban", "license.unban", "license.reset_hwid", "license.generate"]
    _member, token = await team.staff([*PLAN_RIGHTS, *held])
    body = {"name": uniq("p"), "allow_ban": True, "allow_reset_hwid": True}
    created = await team.call("POST", "/rate-plans", token=token, json_body=body)
    assert created.status_code == 201, created.text
    priced = await team.call(
        "PUT",
        f"/rate-plans/{created.json()['id']}/prices",
        token=token,
        json_body={"app_id": team.app_id, **PRICE},
    )
    assert priced.status_code == 200, priced.text


async def test_a_reseller_manager_cannot_assign_a_bigger_plan(team: Team) -> None:
    member, token = await team.staff(["reseller:read", "reseller:write"])
    big = await team.plan(allow_ban=True, allow_reset_hwid=False)
    body = {"type": "new", "username": uniq("rs"), "email": "r@example.com"}
    refused = await team.call(
        "POST", "/resellers", token=token, json_body={**body, "rate_plan_id": big.id}
    )
    assert_error(refused, 403, "PERMISSION_DENIED")
    added = await team.call("POST", "/resellers", token=token, json_body=body)
    assert added.status_code == 201, added.text
    public_id = added.json()["public_id"]
    moved = await team.call(
        "PATCH", f"/resellers/{public_id}", token=token, json_body={"rate_plan_id": big.id}
    )
    assert_error(moved, 403, "PERMISSION_DENIED")
    # The dashboard passes the signed-in account as grantor: the same rule.
    with pytest.raises(AdminError) as refusal:
        await admin_resellers.edit_reseller(
            team.rt, team.owner_id, public_id, rate_plan_id=big.id, by=Grantor(member.account_id)
        )
    assert refusal.value.code == "PERMISSION_DENIED"
    # The owner itself (CLI, Elite Key) may.
    done = await admin_resellers.edit_reseller(
        team.rt, team.owner_id, public_id, rate_plan_id=big.id
    )
    assert done.rate_plan_id == big.id
