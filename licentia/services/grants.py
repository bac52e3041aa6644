"""Who may hand out which rights (management B.18): the grant rule every face obeys.

A staff member who manages roles and staff could otherwise widen its own role, or create a
role with more than it holds and take it, and so climb to the owner's powers. The rule:

* **Nobody grants what they do not hold.** Every permission of a role that someone creates,
  edits or assigns must be held by them: a capability (`license.ban`) through one of their own
  permissions; a resource shorthand (`license:write`, which also covers actions added later)
  only when they hold that shorthand itself. The role's app scope must lie within theirs.
* **Owner-level rights come from the owner only.** `owner.*` and `elite-key.*` (the Elite Key
  acts with all of the owner's rights) are granted by the owner alone, never by staff.
* **Nobody changes their own role**, nor a role or member with rights beyond their own (a
  staff member cannot edit, reassign, ban or remove someone above it).
* For an API token the grantor's rights are its scopes intersected with its account's rights,
  as on every call (`services.principals`).

* **Rate plans and resellers grant too.** A rate plan with `allow_ban` gives its resellers
  `license.ban`/`license.unban`, `allow_reset_hwid` gives `license.reset_hwid`, and a priced
  product lets them generate keys of that app (`license.generate`): switching a flag on,
  pricing a product, or giving a reseller a plan needs those rights on those apps
  (`plan_within`).

The services (`services.admin_staff`, `services.admin_resellers`) take a `Grantor` and check
it inside their write transaction, with the rights read there; `None` is the owner acting
itself (the CLI, the owner's Elite Key). Refusals are `PERMISSION_DENIED`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from licentia.services.admin_common import AdminError
from licentia.services.credentials import scope_allows
from licentia.services.principals import (
    RESELLER_BAN,
    RESELLER_RESET_HWID,
    Rights,
    rights_in,
)
from licentia.store.tables import rate_plan_prices, staff_roles

#: Resources whose rights only the owner grants.
OWNER_LEVEL = frozenset({"owner", "elite-key"})


@dataclass(frozen=True)
class Grantor:
    """The account that grants, and (for an API token) the token's scopes and app limit."""

    account_id: str
    scopes: frozenset[str] | None = None  # None: the account's own rights (the dashboard)
    app_ids: frozenset[str] | None = None  # an API token's app limit; None: no limit


def denied(message: str, fields: list[str] | None = None) -> AdminError:
    return AdminError("PERMISSION_DENIED", message, fields)


def _holds(granted: Iterable[str], permission: str) -> bool:
    """A capability through a name or shorthand; a shorthand only as itself."""
    names = frozenset(granted)
    if ":" in permission:
        return permission in names
    return scope_allows(names, permission)


@dataclass(frozen=True)
class GrantCheck:
    """The grantor's rights for one owner, read in the caller's transaction."""

    grantor: Grantor
    rights: Rights

    @property
    def role_id(self) -> str | None:
        staff = self.rights.active_staff
        return None if staff is None else staff.role_id

    def holds(self, permission: str) -> bool:
        if self.grantor.scopes is not None and not _holds(self.grantor.scopes, permission):
            return False
        if permission.replace(":", ".").partition(".")[0] in OWNER_LEVEL:
            return self.rights.is_owner
        if self.rights.is_owner:
            return True
        staff = self.rights.active_staff
        return staff is not None and _holds(staff.permissions, permission)

    def app_limit(self) -> frozenset[str] | None:
        """The apps the grantor reaches (None: every app)."""
        scope = self.rights.app_scope()
        limit = self.grantor.app_ids
        if scope is None:
            return limit
        return scope if limit is None else scope & limit

    def covers(self, permissions: Sequence[str], app_ids: Sequence[str] | None) -> str | None:
        """None when a role with these rights lies within the grantor's; else why not."""
        for permission in permissions:
            if not self.holds(permission):
                resource = permission.replace(":", ".").partition(".")[0]
                if resource in OWNER_LEVEL and not self.rights.is_owner:
                    return f"only the owner grants {permission}"
                return f"you cannot grant {permission}: you do not hold it"
        limit = self.app_limit()
        if limit is not None and (app_ids is None or not set(app_ids) <= limit):
            return "you cannot grant rights on apps outside your own app scope"
        return None

    def require(
        self, permissions: Sequence[str], app_ids: Sequence[str] | None, field: str
    ) -> None:
        why = self.covers(permissions, app_ids)
        if why is not None:
            raise denied(why, [field])

    def not_own_role(self, role_id: str) -> None:
        if self.role_id is not None and self.role_id == role_id:
            raise denied("nobody may change their own role", ["role_id"])

    def not_self(self, account_id: str) -> None:
        if account_id == self.grantor.account_id:
            raise denied("nobody may change their own role or membership", ["identifier"])

    async def role_within(self, conn: AsyncConnection, role_id: str) -> None:
        """A member's current role `role_id` lies within the grantor's rights."""
        row = (
            await conn.execute(
                select(staff_roles.c.permissions, staff_roles.c.app_ids).where(
                    staff_roles.c.id == role_id
                )
            )
        ).one()
        apps = None if row.app_ids is None else list(json.loads(row.app_ids))
        if self.covers(list(json.loads(row.permissions)), apps) is not None:
            raise denied("this staff member's role has rights beyond yours", ["identifier"])


async def check_for(
    conn: AsyncConnection, grantor: Grantor | None, owner_account_id: str
) -> GrantCheck | None:
    """The grant check of `grantor` for the owner (None: the owner acting itself)."""
    if grantor is None:
        return None
    rights = await rights_in(conn, grantor.account_id, owner_account_id)
    if not rights.is_owner and rights.active_staff is None:
        raise denied("only the owner or an active staff member manages staff and roles")
    return GrantCheck(grantor, rights)


async def member_within(
    conn: AsyncConnection, grantor: Grantor | None, owner_account_id: str, member: Any
) -> None:
    """`grantor` may act on the staff member row `member` (`account_id`, `role_id`): not
    itself, and not a member whose role is beyond its rights."""
    grant = await check_for(conn, grantor, owner_account_id)
    if grant is not None:
        grant.not_self(member.account_id)
        await grant.role_within(conn, member.role_id)


def plan_permissions(*, allow_ban: bool, allow_reset_hwid: bool, priced: bool) -> list[str]:
    """What a rate plan gives its resellers beyond the reseller basics."""
    found = set(RESELLER_BAN if allow_ban else ()) | set(
        RESELLER_RESET_HWID if allow_reset_hwid else ()
    )
    if priced:
        found.add("license.generate")
    return sorted(found)


async def plan_within(
    conn: AsyncConnection,
    grantor: Grantor | None,
    owner_account_id: str,
    *,
    allow_ban: bool = False,
    allow_reset_hwid: bool = False,
    app_ids: Sequence[str] = (),
    field: str = "rate_plan_id",
) -> None:
    """`grantor` may hand resellers these rate-plan rights on these apps (priced products
    mean `license.generate` there); `PERMISSION_DENIED` naming `field` when not."""
    grant = await check_for(conn, grantor, owner_account_id)
    if grant is None:
        return
    wanted = plan_permissions(
        allow_ban=allow_ban, allow_reset_hwid=allow_reset_hwid, priced=bool(app_ids)
    )
    grant.require(wanted, sorted(set(app_ids)), field)


async def plan_apps(conn: AsyncConnection, plan_id: str) -> list[str]:
    """The apps a rate plan prices (what its resellers may generate keys of)."""
    rows = await conn.execute(
        select(rate_plan_prices.c.app_id).where(rate_plan_prices.c.rate_plan_id == plan_id)
    )
    return sorted({r.app_id for r in rows})


async def assigned_plan_within(
    conn: AsyncConnection, grantor: Grantor | None, owner_account_id: str, plan: Any
) -> None:
    """Giving a reseller the rate plan row `plan` grants what the plan grants."""
    if grantor is None or plan is None:
        return
    await plan_within(
        conn,
        grantor,
        owner_account_id,
        allow_ban=bool(plan.allow_ban),
        allow_reset_hwid=bool(plan.allow_reset_hwid),
        app_ids=await plan_apps(conn, plan.id),
    )
