"""Sales and usage numbers (issue 13, item 6): per app and across the owner's apps, with the
CSV of each chart's table."""

from __future__ import annotations

import secrets
import uuid
from datetime import timedelta

from sqlalchemy import update

from licentia.services import admin, admin_apps, admin_licenses, sales
from licentia.store.tables import coin_ledger, license_batches, licenses, resellers, users
from tests.web.conftest import Dash
from tests.web.test_overview_pages import _staff


async def _shop(dash: Dash, name: str) -> str:
    assert dash.owner is not None
    created = await admin.create_app(dash.rt, dash.owner.owner_id, name)
    await admin_apps.create_subscription(dash.rt, created.app_id, "Premium", 1)
    return created.app_id


async def _seed(dash: Dash, app_id: str, other_app: str) -> None:
    assert dash.owner is not None
    rt, now = dash.rt, dash.rt.clock()
    keys = await admin_licenses.generate_licenses(rt, app_id, "Premium", days=30, count=4)
    await admin_licenses.generate_licenses(rt, other_app, "Premium", days=30, count=2)
    for name, days in (("ann", 5), ("ben", 20), ("cid", 90)):
        await admin.create_user(rt, app_id, name, "pw-secret-1", "Premium", days=days)
    await admin.create_user(rt, app_id, "old", "pw-secret-1", "Premium", days=1)
    await admin.create_user(rt, app_id, "bad", "pw-secret-1", "Premium", days=1)
    await admin.ban_user(rt, app_id, "bad", "fraud")
    await admin.ban_license(rt, app_id, keys[3], "leaked")
    reseller_account = await dash.new_owner("reseller")
    batch, reseller = str(uuid.uuid4()), str(uuid.uuid4())
    async with rt.db.write() as conn:
        # Two keys redeemed: one today, one two days ago; their terms end in 3 and 25 days.
        for key, ago, left in ((keys[0], 0, 3), (keys[1], 2, 25)):
            await conn.execute(
                update(licenses)
                .where(licenses.c.key == key)
                .values(status="active", activated_at=now - timedelta(days=ago),
                        expires_at=now + timedelta(days=left))
            )  # fmt: skip
        await conn.execute(
            update(users).where(users.c.app_id == app_id, users.c.username_norm == "old")
            .values(expires_at=now - timedelta(days=1))
        )  # fmt: skip
        await conn.execute(
            resellers.insert().values(
                id=reseller, owner_account_id=dash.owner.id, account_id=reseller_account.id,
                points_balance=0, created_at=now,
            )
        )  # fmt: skip
        await conn.execute(
            license_batches.insert().values(
                id=batch, app_id=app_id, owner_account_id=dash.owner.id, count=1,
                request_digest=secrets.token_hex(8), created_at=now,
            )
        )  # fmt: skip
        for amount, batch_id in ((-50, batch), (-20, None), (100, None)):
            await conn.execute(
                coin_ledger.insert().values(
                    reseller_id=reseller, amount=amount, balance_after=0, batch_id=batch_id,
                    created_at=now,
                )
            )  # fmt: skip


async def test_sales_numbers_per_app_and_owner(dash: Dash) -> None:
    app_id = await _shop(dash, "Shop")
    other = await _shop(dash, "Other")
    await _seed(dash, app_id, other)
    numbers = await sales.sales_numbers(dash.rt, [app_id], 7)
    today = dash.rt.clock().date().isoformat()
    assert numbers.series["generated"][-1].count == 4
    assert sum(p.count for p in numbers.series["redeemed"]) == 2
    assert numbers.series["redeemed"][-1].count == 1
    assert numbers.series["coins"][-1].count == 50  # the app's batch only
    assert (numbers.keys_expiring_7, numbers.keys_expiring_30) == (1, 2)
    assert (numbers.users_expiring_7, numbers.users_expiring_30) == (1, 2)
    assert (numbers.users_active, numbers.users_expired, numbers.users_banned) == (3, 1, 1)
    assert (numbers.keys_banned, numbers.devices_banned) == (1, 0)

    browser = await dash.signed_in()
    page = await browser.get(f"/apps/{app_id}/sales?days=7")
    assert page.status_code == 200
    assert 'id="n-users-active">3<' in page.text and 'id="n-keys-30">2<' in page.text
    assert f"{today}: 4 keys" in page.text and 'id="export-coins"' in page.text
    csv = await browser.get(f"/apps/{app_id}/sales/export?chart=generated&days=7")
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    lines = csv.text.splitlines()
    assert lines[0] == "day,generated" and len(lines) == 8 and lines[-1] == f"{today},4"
    assert (await browser.get(f"/apps/{app_id}/sales/export?chart=nope")).status_code == 404
    # Odd ranges are the default, never an error.
    assert "Last 30 days" in (await browser.get(f"/apps/{app_id}/sales?days=abc")).text

    # Across apps: both apps' keys, and every debit of the owner's resellers.
    owner = await browser.get("/sales?days=7")
    assert owner.status_code == 200 and f"{today}: 6 keys" in owner.text
    assert f"{today}: 70 coins" in owner.text
    all_csv = await browser.get("/sales/export?chart=coins&days=7")
    assert all_csv.text.splitlines()[-1] == f"{today},70"


async def test_sales_rights(dash: Dash) -> None:
    app_id = await _shop(dash, "Guarded")
    other = await dash.new_owner("other")
    foreign = await admin.create_app(dash.rt, other.owner_id, "Foreign")
    browser = await dash.signed_in()
    assert (await browser.get(f"/apps/{foreign.app_id}/sales")).status_code == 404
    info = await _staff(dash, ["app.info"], [app_id])
    assert (await info.get(f"/apps/{app_id}/sales")).status_code == 403
    assert (await info.get("/sales")).status_code == 403
    usage = await _staff(dash, ["app.info", "app.usage"], [app_id])
    assert (await usage.get(f"/apps/{app_id}/sales")).status_code == 200
    scoped = await usage.get("/sales")
    assert scoped.status_code == 200 and "Guarded" in scoped.text
