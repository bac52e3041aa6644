"""Choices for the license and user lists' "created by" filter (#13 item 3).

A license or user records who created it in `created_by`: `account:<id>` (the owner or a
staff member, from the dashboard), `reseller:<id>` (a reseller's keys), `token:<id>` (an
API token), `cli`, or `register` (a client registration). The filter offers the owner's own
account, its staff and its resellers by name, plus the fixed sources; the list query matches
the stored value exactly (`LicenseFilter.created_by`, `UserFilter.created_by`).
"""

from __future__ import annotations

from sqlalchemy import select

from licentia.services.principals import created_by_reseller
from licentia.services.runtime import Runtime
from licentia.store.tables import accounts, resellers, staff_members

FIXED = (("cli", "the command line"), ("register", "client registration"))


async def creator_choices(rt: Runtime, owner_account_id: str) -> list[tuple[str, str]]:
    """`(created_by value, label)` pairs: the owner, its staff, its resellers, fixed sources."""
    async with rt.db.read() as conn:
        owner = (
            await conn.execute(select(accounts.c.username).where(accounts.c.id == owner_account_id))
        ).scalar_one_or_none()
        staff = (
            await conn.execute(
                select(accounts.c.id, accounts.c.username)
                .join(staff_members, staff_members.c.account_id == accounts.c.id)
                .where(staff_members.c.owner_account_id == owner_account_id)
                .order_by(accounts.c.username_norm)
            )
        ).all()
        sellers = (
            await conn.execute(
                select(resellers.c.id, accounts.c.username)
                .join(accounts, accounts.c.id == resellers.c.account_id)
                .where(resellers.c.owner_account_id == owner_account_id)
                .order_by(accounts.c.username_norm)
            )
        ).all()
    choices: list[tuple[str, str]] = []
    if owner is not None:
        choices.append((f"account:{owner_account_id}", f"{owner} (owner)"))
    choices += [(f"account:{r.id}", f"{r.username} (staff)") for r in staff]
    choices += [(created_by_reseller(r.id), f"{r.username} (reseller)") for r in sellers]
    return choices + list(FIXED)
