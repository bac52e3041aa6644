"""Who may do what for an owner (management B.0, B.1, B.18, B.19).

An account acts for an owner in one of three ways, and `Rights` says what that allows:

* **owner**: the owner account itself; every capability on every app.
* **staff member**: exactly its role's capabilities (names like `license.ban`, or the
  `name:read` / `name:write` shorthands of API token scopes), within the role's app scope. A
  banned (inactive) staff member has no rights at all.
* **reseller**: the reseller actions (`RESELLER_BASE`, plus `license.ban`/`license.unban` and
  `license.reset_hwid` when its rate plan allows them), on the apps its rate plan prices
  (narrowed by the reseller's own allowed apps), and only on the keys it generated. A banned
  reseller has no rights.

Managing staff, resellers, the Elite Key, API tokens and app deletion are capabilities like
any other: a role grants them only when it names them. Every face asks this module; an API
token's effective rights are its scopes intersected with these rights (`Rights.allows`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from licentia.services.credentials import is_read_action, scope_allows
from licentia.services.runtime import Runtime
from licentia.store.tables import (
    rate_plan_prices,
    rate_plans,
    resellers,
    staff_members,
    staff_roles,
)

#: What every active reseller may do (on its own keys, within its apps).
RESELLER_BASE = frozenset(
    {
        "license.generate",
        "license.list",
        "license.export",
        "reseller.products",
        "reseller.balance",
        "reseller.ledger",
    }
)
#: Granted to a reseller only when its rate plan says so.
RESELLER_BAN = frozenset({"license.ban", "license.unban"})
RESELLER_RESET_HWID = frozenset({"license.reset_hwid"})


def created_by_reseller(reseller_id: str) -> str:
    """The `created_by` value of keys a reseller generated: what makes them its own."""
    return f"reseller:{reseller_id}"


@dataclass(frozen=True)
class StaffRights:
    member_id: str
    role_id: str
    role_name: str
    active: bool
    permissions: frozenset[str]  # capability names and resource shorthands
    app_ids: frozenset[str] | None  # None = every app of the owner


@dataclass(frozen=True)
class ResellerRights:
    reseller_id: str
    active: bool
    rate_plan_id: str | None
    capabilities: frozenset[str]
    app_ids: frozenset[str]  # the priced apps it may use (empty without a plan)


@dataclass(frozen=True)
class Rights:
    """The rights of `account_id` acting for the owner `owner_account_id`."""

    account_id: str
    owner_account_id: str
    is_owner: bool
    staff: StaffRights | None = None
    reseller: ResellerRights | None = None

    @property
    def active_staff(self) -> StaffRights | None:
        return self.staff if self.staff is not None and self.staff.active else None

    @property
    def active_reseller(self) -> ResellerRights | None:
        return self.reseller if self.reseller is not None and self.reseller.active else None

    @property
    def has_any(self) -> bool:
        """False for an account with no membership, or only banned ones."""
        return self.is_owner or self.active_staff is not None or self.active_reseller is not None

    @property
    def is_member(self) -> bool:
        """Any membership, banned or not (a banned one answers PERMISSION_DENIED, not 401)."""
        return self.is_owner or self.staff is not None or self.reseller is not None

    @property
    def may_use_owner_routes(self) -> bool:
        """The owner-side faces (REST `/apps/...`, the owner's dashboard): owner or staff."""
        return self.is_owner or self.active_staff is not None

    def app_visible(self, app_id: str) -> bool:
        """Whether the owner-side app `app_id` (already known to be the owner's) is in scope."""
        if self.is_owner:
            return True
        staff = self.active_staff
        return staff is not None and (staff.app_ids is None or app_id in staff.app_ids)

    def app_scope(self) -> frozenset[str] | None:
        """The owner-side app scope: None = every app; empty = none."""
        if self.is_owner:
            return None
        staff = self.active_staff
        if staff is None:
            return frozenset()
        return staff.app_ids

    def allows(self, capability: str, app_id: str | None = None) -> bool:
        """Owner-side check: may this account perform `capability` (on `app_id`; None for an
        account-level call)? An app-limited role makes account-level reading calls only."""
        if self.is_owner:
            return True
        staff = self.active_staff
        if staff is None or not scope_allows(staff.permissions, capability):
            return False
        if staff.app_ids is None:
            return True
        if app_id is None:
            return is_read_action(capability.partition(".")[2])
        return app_id in staff.app_ids

    def reseller_allows(self, capability: str, app_id: str | None = None) -> bool:
        """Reseller-side check: a reseller action, on one of its apps."""
        reseller = self.active_reseller
        if reseller is None or capability not in reseller.capabilities:
            return False
        return app_id is None or app_id in reseller.app_ids

    def grants_scope(self, scope: str) -> bool:
        """Whether a token scope stays within these rights: a capability this account has
        (owner side or reseller side), or a shorthand of which it has at least one action."""
        if self.is_owner:
            return True
        resource, colon, kind = scope.partition(":")
        if not colon:
            return self.allows(scope) or self._grants_any_app(scope) or self.reseller_allows(scope)
        granted: set[str] = set()
        staff = self.active_staff
        if staff is not None:
            granted |= set(staff.permissions)
        reseller = self.active_reseller
        if reseller is not None:
            granted |= set(reseller.capabilities)
        for name in granted:
            if name == scope:
                return True
            res, dot, action = name.partition(".")
            if dot and res == resource and is_read_action(action) == (kind == "read"):
                return True
        return False

    def _grants_any_app(self, capability: str) -> bool:
        staff = self.active_staff
        return staff is not None and scope_allows(staff.permissions, capability)


def owner_rights(owner_account_id: str) -> Rights:
    return Rights(account_id=owner_account_id, owner_account_id=owner_account_id, is_owner=True)


def _json_set(value: str | None) -> frozenset[str] | None:
    return None if value is None else frozenset(str(v) for v in json.loads(value))


async def rights_in(conn: AsyncConnection, account_id: str, owner_account_id: str) -> Rights:
    """The rights of `account_id` for `owner_account_id`, read through `conn`."""
    if account_id == owner_account_id:
        return owner_rights(owner_account_id)
    staff_row = (
        await conn.execute(
            select(
                staff_members.c.id,
                staff_members.c.is_active,
                staff_roles.c.id.label("role_id"),
                staff_roles.c.name,
                staff_roles.c.permissions,
                staff_roles.c.app_ids,
            )
            .join(staff_roles, staff_roles.c.id == staff_members.c.role_id)
            .where(
                and_(
                    staff_members.c.owner_account_id == owner_account_id,
                    staff_members.c.account_id == account_id,
                )
            )
        )
    ).first()
    staff = None
    if staff_row is not None:
        staff = StaffRights(
            member_id=staff_row.id,
            role_id=staff_row.role_id,
            role_name=staff_row.name,
            active=bool(staff_row.is_active),
            permissions=frozenset(json.loads(staff_row.permissions)),
            app_ids=_json_set(staff_row.app_ids),
        )
    reseller = await _reseller_rights(conn, account_id, owner_account_id)
    return Rights(
        account_id=account_id,
        owner_account_id=owner_account_id,
        is_owner=False,
        staff=staff,
        reseller=reseller,
    )


async def _reseller_rights(
    conn: AsyncConnection, account_id: str, owner_account_id: str
) -> ResellerRights | None:
    row = (
        await conn.execute(
            select(resellers).where(
                and_(
                    resellers.c.owner_account_id == owner_account_id,
                    resellers.c.account_id == account_id,
                )
            )
        )
    ).first()
    if row is None:
        return None
    capabilities = set(RESELLER_BASE)
    priced: set[str] = set()
    if row.rate_plan_id is not None:
        plan = (
            await conn.execute(select(rate_plans).where(rate_plans.c.id == row.rate_plan_id))
        ).first()
        if plan is not None:
            if plan.allow_ban:
                capabilities |= RESELLER_BAN
            if plan.allow_reset_hwid:
                capabilities |= RESELLER_RESET_HWID
            priced = set(
                (
                    await conn.execute(
                        select(rate_plan_prices.c.app_id)
                        .where(rate_plan_prices.c.rate_plan_id == plan.id)
                        .distinct()
                    )
                ).scalars()
            )
    allowed = _json_set(row.app_ids)
    if allowed is not None:
        priced &= allowed
    return ResellerRights(
        reseller_id=row.id,
        active=bool(row.is_active),
        rate_plan_id=row.rate_plan_id,
        capabilities=frozenset(capabilities),
        app_ids=frozenset(priced),
    )


async def rights_for(rt: Runtime, account_id: str, owner_account_id: str) -> Rights:
    """The rights of `account_id` for `owner_account_id` (one read transaction)."""
    async with rt.db.read() as conn:
        return await rights_in(conn, account_id, owner_account_id)


def describe(rights: Rights) -> dict[str, Any]:
    """A JSON-friendly summary (for `whoami`-style answers and the dashboard)."""
    out: dict[str, Any] = {"owner": rights.is_owner, "staff": None, "reseller": None}
    if rights.staff is not None:
        out["staff"] = {
            "role_id": rights.staff.role_id,
            "role_name": rights.staff.role_name,
            "is_active": rights.staff.active,
            "permissions": sorted(rights.staff.permissions),
            "apps": None if rights.staff.app_ids is None else sorted(rights.staff.app_ids),
        }
    if rights.reseller is not None:
        out["reseller"] = {
            "reseller_id": rights.reseller.reseller_id,
            "is_active": rights.reseller.active,
            "capabilities": sorted(rights.reseller.capabilities),
            "apps": sorted(rights.reseller.app_ids),
        }
    return out
