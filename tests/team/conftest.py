"""Team fixtures: an owner (the `world`'s) with an all-team-scopes token, and helpers that
create staff members and resellers with their own API tokens."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Any

import pytest

from licentia.services import admin_resellers, admin_staff, credentials
from tests.cli.conftest import install  # noqa: F401 - the CLI tests' fixture
from tests.conftest import World
from tests.elite.conftest import bot, elite_key  # noqa: F401 - the Elite Key tests' fixtures
from tests.manage.conftest import ALL_SCOPES, Manage

TEAM_SCOPES = (
    *ALL_SCOPES,
    "role:read",
    "role:write",
    "staff:read",
    "staff:write",
    "rate-plan:read",
    "rate-plan:write",
    "reseller:read",
    "reseller:write",
)
RESELLER_SCOPES = ("license:read", "license:write", "reseller:read")


def uniq(prefix: str) -> str:
    return f"{prefix}{secrets.token_hex(4)}"


class Team(Manage):
    """An owner's view of the team routes, plus member helpers."""

    async def setup(self) -> Team:
        await super().setup()
        self.token = await self.make_token(TEAM_SCOPES)
        return self

    @property
    def owner_id(self) -> str:
        return self.world.owner_id

    async def role(
        self, permissions: Sequence[str], app_ids: Sequence[str] | None = None
    ) -> admin_staff.Role:
        return await admin_staff.create_role(
            self.rt, self.owner_id, uniq("role"), permissions, app_ids
        )

    async def staff(
        self, permissions: Sequence[str], app_ids: Sequence[str] | None = None
    ) -> tuple[admin_staff.StaffMember, str]:
        """A new staff member with the given role rights and an API token of its own (with
        broad scopes: its role is what limits it)."""
        role = await self.role(permissions, app_ids)
        added = await admin_staff.add_staff(
            self.rt,
            self.owner_id,
            type="new",
            role_id=role.id,
            username=uniq("st"),
            email="staff@example.com",
        )
        scopes = [s for s in permissions if s] or ["license:read"]
        _info, token = await credentials.create_token(
            self.rt, self.owner_id, "staff", scopes, account=added.staff.public_id
        )
        return added.staff, token

    async def plan(
        self, price: int = 3, *, allow_ban: bool = True, allow_reset_hwid: bool = True
    ) -> admin_resellers.RatePlan:
        plan = await admin_resellers.create_rate_plan(
            self.rt,
            self.owner_id,
            uniq("plan"),
            allow_ban=allow_ban,
            allow_reset_hwid=allow_reset_hwid,
        )
        return await admin_resellers.set_price(
            self.rt,
            self.owner_id,
            plan.id,
            app_id=self.app_id,
            subscription="Premium",
            term_kind="duration",
            term_days=30,
            price=price,
        )

    async def reseller(
        self, plan_id: str | None, coins: int = 0, **kw: Any
    ) -> tuple[admin_resellers.Reseller, str]:
        added = await admin_resellers.add_reseller(
            self.rt,
            self.owner_id,
            type="new",
            username=uniq("rs"),
            email="reseller@example.com",
            rate_plan_id=plan_id,
            **kw,
        )
        if coins:
            await admin_resellers.adjust_coins(
                self.rt, self.owner_id, added.reseller.public_id, coins
            )
        _info, token = await credentials.create_token(
            self.rt,
            self.owner_id,
            "reseller",
            list(RESELLER_SCOPES),
            account=added.reseller.public_id,
        )
        got = await admin_resellers.get_reseller(self.rt, self.owner_id, added.reseller.public_id)
        return got, token


@pytest.fixture
async def team(world: World) -> Team:
    return await Team(world).setup()


@pytest.fixture
async def other_team(app: Any, client: Any, clock: Any, public_pem: str) -> Team:
    """A second owner with its own app and an all-scopes token."""
    return await Team(await World(app, client, clock, public_pem).setup()).setup()
