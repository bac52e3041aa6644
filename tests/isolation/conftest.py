"""A victim owner with something in every table, and the credentials that attack it: another
owner's token and Elite Key, and the victim's own under-scoped and app-limited credentials."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from licentia.services import (
    admin,
    admin_content,
    admin_identities,
    admin_licenses,
    admin_resellers,
    admin_rules,
    admin_staff,
    credentials,
    webhooks,
)
from licentia.store.tables import licenses, staff_members
from tests.conftest import FakeClock, World, fresh_database
from tests.isolation import state
from tests.manage.conftest import ALL_SCOPES


@pytest.fixture(scope="module")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh migrated database per isolation module, instead of the worker's shared one.

    A victim dump reads every row of every table and walks the ids from the owner's account:
    on the shared database it would read what every earlier test on that worker left there
    (thousands of rows), once per attacking call. Alone, the dump reads this module's rows.
    """
    with fresh_database("licentia_iso", tmp_path_factory.mktemp("isolation")) as url:
        yield url


#: Every scope there is: the attackers' tokens are not limited by their scopes.
EVERY_SCOPE = tuple(f"{r}:{k}" for r in sorted(credentials.RESOURCES) for k in ("read", "write"))


@dataclass
class Victim:
    """Owner A: one app full of objects (app1), a second app, and the ids the routes take."""

    world: World
    account_id: str = ""
    second_app_id: str = ""
    names: dict[str, Any] = field(default_factory=dict)

    @property
    def rt(self) -> Any:
        return self.world.rt

    async def dump(self) -> dict[str, list[Any]]:
        async with self.rt.db.read() as conn:
            return await state.owner_rows(conn, self.account_id)

    async def applied(self) -> int:
        async with self.rt.db.read() as conn:
            return await state.audit_ok_count(conn, self.account_id)


async def _seed_licenses(victim: Victim, clock: FakeClock) -> dict[str, str]:
    rt, app_id = victim.rt, victim.world.app_id
    keys = {
        "unused": "A-UNUSED-1",
        "fixed": "A-FIXED-1",
        "lifetime": "A-LIFE-1",
        "active": "A-ACTIVE-1",
        "paused": "A-PAUSED-1",
        "banned": "A-BANNED-1",
    }
    await admin_licenses.add_license(rt, app_id, keys["unused"], "Premium", days=30)
    await admin_licenses.add_license(
        rt, app_id, keys["fixed"], "Premium", expires=clock.now + timedelta(days=40)
    )
    await admin_licenses.add_license(rt, app_id, keys["lifetime"], "Premium", lifetime=True)
    for name in ("active", "paused", "banned"):
        await admin_licenses.add_license(rt, app_id, keys[name], "Premium", days=30)
    async with rt.db.write() as conn:
        await conn.execute(
            update(licenses)
            .where(
                licenses.c.app_id == app_id,
                licenses.c.key.in_([keys["active"], keys["paused"], keys["banned"]]),
            )
            .values(status="active", activated_at=clock.now, expires_at=clock.now + timedelta(30))
        )
    await admin_licenses.pause_license(rt, app_id, keys["paused"])
    await admin_licenses.ban_license(rt, app_id, keys["banned"], "chargeback")
    await admin_licenses.generate_licenses(rt, app_id, "Premium", count=3, days=7)
    return keys


async def seed_victim(world: World, clock: FakeClock) -> Victim:
    victim = Victim(world)
    rt, app_id, owner_id = world.rt, world.app_id, world.owner_id
    victim.account_id = (await admin.get_owner(rt, owner_id)).id
    victim.second_app_id = (await admin.create_app(rt, owner_id, "Second")).app_id
    keys = await _seed_licenses(victim, clock)
    await admin_identities.create_user(rt, app_id, "mara", "secret-pw", "Premium", days=30)
    await admin_identities.create_device(
        rt, app_id, "processor", "BFEBFBFF000906EA", "Premium", days=30
    )
    await admin_content.set_variable(rt, app_id, "motd", "hello")
    await admin_content.create_channel(rt, app_id, "general")
    await admin_rules.add_version_rule(rt, app_id, "1.0.0")
    await admin_rules.add_allowed_hash(rt, app_id, "a" * 64)
    await admin_rules.add_ip_rule(rt, app_id, "198.51.100.7", "deny")
    await admin_rules.set_custom_message(rt, app_id, "LICENSE_BANNED", "Banned, sorry")
    role = await admin_staff.create_role(rt, owner_id, "Support", ["license:read"])
    staff = await admin_staff.add_staff(
        rt, owner_id, type="new", role_id=role.id, username=f"st{owner_id}", email="s@x.io"
    )
    plan = await admin_resellers.create_rate_plan(rt, owner_id, "Basic", allow_ban=True)
    plan = await admin_resellers.set_price(
        rt,
        owner_id,
        plan.id,
        app_id=app_id,
        subscription="Premium",
        term_kind="duration",
        term_days=30,
        price=5,
    )
    reseller = await admin_resellers.add_reseller(
        rt, owner_id, type="new", username=f"rs{owner_id}", email="r@x.io", rate_plan_id=plan.id
    )
    token, _plain = await credentials.create_token(rt, owner_id, "victim", list(ALL_SCOPES))
    await credentials.rotate_elite_key(rt, owner_id)
    # Disabled: nothing is queued for it (its test event below is never claimed either).
    hook = await webhooks.create_endpoint(rt, app_id, "https://hooks.example.com/x", enabled=False)
    await webhooks.send_test(rt, app_id, hook.id)
    [delivery] = await webhooks.list_deliveries(rt, app_id, hook.id)
    victim.names = {
        "app_id": app_id,
        "key": keys["active"],
        "keys": keys,
        "username": "mara",
        "device_type": "processor",
        "device_id": "BFEBFBFF000906EA",
        "var_key": "motd",
        "channel": "general",
        "name": "Premium",
        "version": "1.0.0",
        "value": "a" * 64,
        "code": "LICENSE_BANNED",
        "list_name": "ip_deny",
        "role_id": role.id,
        "staff": staff.staff.public_id,
        "reseller": reseller.reseller.public_id,
        "plan_id": plan.id,
        "price_id": plan.prices[0].id if getattr(plan, "prices", None) else "x",
        "token_id": token.id,
        "session": "00000000-0000-0000-0000-000000000000",
        "sid": "SID-A-1",
        "message_id": "1",
        "app_name": world.app_name,
        "webhook_id": hook.id,
        "delivery_id": delivery.id,
    }
    return victim


@dataclass
class Attacker:
    """One credential that must not change the victim: an API token or an Elite Key."""

    label: str
    token: str = ""
    elite_key: str = ""
    #: The victim's own credential (a refused write must be refused, not succeed elsewhere).
    victims_own: bool = False


async def _staff_token(
    victim: Victim, permissions: list[str], apps: list[str] | None, label: str
) -> Attacker:
    rt, owner_id = victim.rt, victim.world.owner_id
    role = await admin_staff.create_role(rt, owner_id, label, permissions, apps)
    added = await admin_staff.add_staff(
        rt, owner_id, type="new", role_id=role.id, username=f"{label}{owner_id}", email="a@x.io"
    )
    _info, token = await credentials.create_token(
        rt, owner_id, label, permissions, account=added.staff.public_id
    )
    return Attacker(label, token=token, victims_own=True)


async def attackers(victim: Victim, foreign: World) -> list[Attacker]:
    rt, owner_id = victim.rt, victim.world.owner_id
    out: list[Attacker] = []
    _i, token = await credentials.create_token(rt, foreign.owner_id, "b", list(EVERY_SCOPE))
    out.append(Attacker("foreign-owner-token", token=token))
    out.append(
        Attacker(
            "foreign-elite-key", elite_key=await credentials.rotate_elite_key(rt, foreign.owner_id)
        )
    )
    _i, token = await credentials.create_token(
        rt, owner_id, "limited", list(EVERY_SCOPE), [victim.second_app_id]
    )
    out.append(Attacker("app-limited-token", token=token, victims_own=True))
    _i, token = await credentials.create_token(rt, owner_id, "low", ["hash:read", "license:read"])
    out.append(Attacker("low-scope-token", token=token, victims_own=True))
    out.append(
        await _staff_token(
            victim, ["app:write", "license:write", "user:write"], [victim.second_app_id], "stapp"
        )
    )
    out.append(await _staff_token(victim, ["license:read", "user:read"], None, "stlow"))
    reseller = victim.names["reseller"]
    _i, token = await credentials.create_token(
        rt, owner_id, "rs", ["license:read", "license:write", "reseller:read"], account=reseller
    )
    out.append(Attacker("reseller-token", token=token, victims_own=True))
    return out


@pytest.fixture
async def victim(world: World, clock: FakeClock) -> Victim:
    return await seed_victim(world, clock)


@pytest.fixture
async def foreign(app: Any, client: httpx.AsyncClient, clock: FakeClock, public_pem: str) -> World:
    """Owner B, whose app has the victim's app name too (name lookups stay per owner)."""
    world = await World(app, client, clock, public_pem).setup()
    return world


async def staff_account_ids(victim: Victim) -> list[str]:
    async with victim.rt.db.read() as conn:
        rows = await conn.execute(
            select(staff_members.c.account_id).where(
                staff_members.c.owner_account_id == victim.account_id
            )
        )
        return [r.account_id for r in rows]
