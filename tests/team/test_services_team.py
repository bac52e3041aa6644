"""Team services: accounts of new members, principals (rights), coins and the balance that
never goes negative, even under concurrent debits."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from licentia.services import admin_apps, admin_resellers, admin_staff, principals
from licentia.services.admin_common import AdminError
from licentia.store.tables import accounts, coin_ledger, licenses, resellers

from .conftest import Team, uniq


async def test_new_member_account_and_compat_password(team: Team) -> None:
    role = await team.role(["license.info"])
    added = await admin_staff.add_staff(
        team.rt, team.owner_id, type="new", role_id=role.id, username=uniq("n"), email="n@x.io"
    )
    password = added.temporary_password
    assert password is not None and len(password) == 16 and password.isalnum()
    async with team.rt.db.read() as conn:
        row = (
            await conn.execute(select(accounts).where(accounts.c.id == added.staff.account_id))
        ).one()
    assert row.must_change_password is True and row.owner_id is None
    assert row.temporary_password_expires_at == team.world.clock() + timedelta(hours=72)
    assert password not in row.password_hash
    assert await team.rt.passwords.verify(row.password_hash, password)

    # An existing account by public id; twice is ALREADY_EXISTS; the owner itself is refused.
    other = await admin_apps.create_owner(team.rt, uniq("acct"), "pw")
    existing = await admin_staff.add_staff(
        team.rt, team.owner_id, type="existing", role_id=role.id, public_id=other.public_id
    )
    assert existing.temporary_password is None and existing.staff.username == other.username
    with pytest.raises(AdminError) as twice:
        await admin_staff.add_staff(
            team.rt, team.owner_id, type="existing", role_id=role.id, public_id=other.public_id
        )
    assert twice.value.code == "ALREADY_EXISTS"
    owner = await admin_apps.get_owner(team.rt, team.owner_id)
    with pytest.raises(AdminError) as self_add:
        await admin_staff.add_staff(
            team.rt, team.owner_id, type="existing", role_id=role.id, public_id=owner.public_id
        )
    assert self_add.value.code == "INVALID_INPUT"

    # compat_initial_password: AuthlyX's "1".
    async with team.rt.db.write() as conn:
        await conn.execute(
            accounts.update()
            .where(accounts.c.owner_id == team.owner_id)
            .values(compat_initial_password=True)
        )
    compat = await admin_resellers.add_reseller(
        team.rt, team.owner_id, type="new", username=uniq("c"), email="c@x.io"
    )
    assert compat.temporary_password == "1"


async def test_rights_of_owner_staff_and_reseller(team: Team) -> None:
    owner = await admin_apps.get_owner(team.rt, team.owner_id)
    mine = await principals.rights_for(team.rt, owner.id, owner.id)
    assert mine.is_owner and mine.allows("staff.add") and mine.allows("app.delete", team.app_id)

    member, _ = await team.staff(["license.ban", "user:read"], [team.app_id])
    rights = await principals.rights_for(team.rt, member.account_id, owner.id)
    assert rights.allows("license.ban", team.app_id)
    assert rights.allows("user.info", team.app_id)
    assert not rights.allows("user.ban", team.app_id)
    assert not rights.allows("license.ban", "another-app")
    assert not rights.allows("staff.add")  # not granted by default
    assert not rights.allows("license.ban")  # account-level write with an app-limited role
    await admin_staff.ban_staff(team.rt, team.owner_id, member.username)
    banned = await principals.rights_for(team.rt, member.account_id, owner.id)
    assert banned.is_member and not banned.has_any and not banned.allows("user.info", team.app_id)

    plan = await team.plan(allow_ban=False, allow_reset_hwid=True)
    seller, _ = await team.reseller(plan.id)
    r = await principals.rights_for(team.rt, seller.account_id, owner.id)
    assert r.reseller_allows("license.generate", team.app_id)
    assert r.reseller_allows("license.reset_hwid", team.app_id)
    assert not r.reseller_allows("license.ban", team.app_id)
    assert not r.may_use_owner_routes and not r.allows("license.list", team.app_id)
    # Allowed apps narrow the priced apps.
    second = await admin_apps.create_app(team.rt, team.owner_id, uniq("Two"))
    await admin_resellers.edit_reseller(
        team.rt, team.owner_id, seller.username, app_ids=[second.app_id]
    )
    narrowed = await principals.rights_for(team.rt, seller.account_id, owner.id)
    assert narrowed.reseller is not None and narrowed.reseller.app_ids == frozenset()


async def _sum_ledger(team: Team, reseller_id: str) -> tuple[int, int]:
    async with team.rt.db.read() as conn:
        total = (
            await conn.execute(
                select(func.coalesce(func.sum(coin_ledger.c.amount), 0)).where(
                    coin_ledger.c.reseller_id == reseller_id
                )
            )
        ).scalar_one()
        balance = (
            await conn.execute(
                select(resellers.c.points_balance).where(resellers.c.id == reseller_id)
            )
        ).scalar_one()
        lowest = (
            await conn.execute(
                select(func.min(coin_ledger.c.balance_after)).where(
                    coin_ledger.c.reseller_id == reseller_id
                )
            )
        ).scalar_one()
    assert lowest >= 0
    return int(total), int(balance)


async def test_concurrent_debits_never_go_negative(team: Team) -> None:
    seller, _ = await team.reseller(None, coins=25)

    async def debit() -> str:
        try:
            await admin_resellers.adjust_coins(team.rt, team.owner_id, seller.public_id, -3, "x")
        except AdminError as exc:
            return exc.code
        return "ok"

    results = await asyncio.gather(*(debit() for _ in range(20)))
    assert results.count("ok") == 8
    assert results.count("INSUFFICIENT_BALANCE") == 12
    assert await _sum_ledger(team, seller.id) == (1, 1)


async def test_concurrent_generations_pay_for_every_key(team: Team) -> None:
    plan = await team.plan(price=3)
    seller, _ = await team.reseller(plan.id, coins=10)
    product = plan.prices[0].id

    async def generate() -> str:
        try:
            await admin_resellers.generate_for_reseller(team.rt, seller.id, product, 1)
        except AdminError as exc:
            return exc.code
        return "ok"

    results = await asyncio.gather(*(generate() for _ in range(6)))
    assert results.count("ok") == 3 and results.count("INSUFFICIENT_BALANCE") == 3
    assert await _sum_ledger(team, seller.id) == (1, 1)
    async with team.rt.db.read() as conn:
        made = (
            await conn.execute(
                select(func.count())
                .select_from(licenses)
                .where(licenses.c.created_by == f"reseller:{seller.id}")
            )
        ).scalar_one()
    assert made == 3


async def test_coin_and_plan_errors(team: Team) -> None:
    seller, _ = await team.reseller(None)
    for amount, code in ((0, "INVALID_INPUT"), (-1, "INSUFFICIENT_BALANCE")):
        with pytest.raises(AdminError) as refused:
            await admin_resellers.adjust_coins(team.rt, team.owner_id, seller.username, amount)
        assert refused.value.code == code
    with pytest.raises(AdminError) as missing:
        await admin_resellers.adjust_coins(team.rt, team.owner_id, "nobody-here", 5)
    assert missing.value.code == "RESELLER_NOT_FOUND"
    with pytest.raises(AdminError) as no_plan:
        await admin_resellers.edit_reseller(
            team.rt, team.owner_id, seller.username, rate_plan_id="nope"
        )
    assert no_plan.value.code == "RATE_PLAN_NOT_FOUND"
    with pytest.raises(AdminError) as no_role:
        await admin_staff.delete_role(team.rt, team.owner_id, "nope")
    assert no_role.value.code == "ROLE_NOT_FOUND"
    plan = await team.plan()
    with pytest.raises(AdminError) as bad_term:
        await admin_resellers.set_price(
            team.rt,
            team.owner_id,
            plan.id,
            app_id=team.app_id,
            subscription="Premium",
            term_kind="weekly",
            price=1,
        )
    assert bad_term.value.code == "INVALID_INPUT"
    with pytest.raises(AdminError) as no_sub:
        await admin_resellers.set_price(
            team.rt,
            team.owner_id,
            plan.id,
            app_id=team.app_id,
            subscription="Gold",
            term_kind="lifetime",
            price=1,
        )
    assert no_sub.value.code == "SUBSCRIPTION_NOT_FOUND"
    # A reseller without a plan has nothing to generate.
    assert await admin_resellers.my_products(team.rt, seller.id) == []
    with pytest.raises(AdminError) as unpriced:
        await admin_resellers.generate_for_reseller(team.rt, seller.id, plan.prices[0].id, 1)
    assert unpriced.value.code == "PRICE_NOT_FOUND"
