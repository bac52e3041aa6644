"""Bulk user actions (#13 item 5): extend, reset HWIDs, ban, unban or delete many users of one
app, each run as ONE write transaction with one audit entry per changed user.

A bulk action names its users either explicitly (a ticked selection, at most
`MAX_SELECTION`) or by the user list's filters (`matching_users`, at most `MAX_MATCHING`:
a broader filter is refused rather than holding the write lock for minutes). `preview`
answers how many users an action would touch before anything changes, so every face can
show the count and ask for confirmation first. Every user is changed through the same
single-user service the REST API calls (`admin_identities`, `admin_sessions`), so a bulk
ban is exactly N single bans; the first refusal rolls the whole action back.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, select

from licentia.services import admin_identities, admin_sessions, audit, views_users
from licentia.services.admin_common import invalid, norm
from licentia.services.audit import Actor
from licentia.services.runtime import Runtime
from licentia.store.tables import users

ACTIONS = ("extend", "reset_hwid", "ban", "unban", "delete")
#: The capability each action needs (the single-user one).
CAPABILITIES = {action: f"user.{action}" for action in ACTIONS}
MAX_SELECTION = 500
MAX_MATCHING = 5000
MAX_DAYS = 36_500


@dataclass(frozen=True)
class UserQuery:
    """Which users a filtered bulk action names (the user list's filters)."""

    state: str | None = None
    subscription: str | None = None
    search: str | None = None
    more: views_users.UserFilter | None = None


@dataclass(frozen=True)
class Outcome:
    """What a bulk action did: the users it changed and how many it left as they were
    (a ban of a banned user, an extension of a lifetime user, a reset without bindings)."""

    action: str
    changed: list[str]
    unchanged: int


def check_action(action: str, days: int | None) -> None:
    if action not in ACTIONS:
        raise invalid("action", "action must be one of " + ", ".join(ACTIONS))
    if action == "extend" and (days is None or not 1 <= days <= MAX_DAYS):
        raise invalid("days", f"days must be 1 to {MAX_DAYS}")


async def matching_users(rt: Runtime, app_id: str, query: UserQuery) -> list[str]:
    """The usernames the filters match (the list's own clauses), oldest first; more than
    `MAX_MATCHING` is INVALID_INPUT (narrow the filter)."""
    page = await views_users.list_users(
        rt,
        app_id,
        state=query.state,
        subscription=query.subscription,
        search=query.search,
        more=query.more,
        limit=None,
    )
    if len(page.items) > MAX_MATCHING:
        raise invalid(
            "filter", f"the filter matches more than {MAX_MATCHING:,} users: narrow it first"
        )
    return [u.username for u in reversed(page.items)]


async def preview(rt: Runtime, app_id: str, action: str, names: list[str]) -> int:
    """How many of `names` the action would change (existing users; extend: not lifetime)."""
    if not names:
        return 0
    clauses = [users.c.app_id == app_id, users.c.username_norm.in_({norm(n) for n in names})]
    if action == "extend":
        clauses.append(users.c.expires_at.is_not(None))
    elif action == "ban":
        clauses.append(users.c.banned.is_(False))
    elif action == "unban":
        clauses.append(users.c.banned.is_(True))
    async with rt.db.read() as conn:
        count = (await conn.execute(select(func.count()).where(and_(*clauses)))).scalar_one()
    return int(count)


Step = Callable[[views_users.UserView], Awaitable[dict[str, Any] | None]]


def _step(rt: Runtime, app_id: str, action: str, days: int | None, reason: str) -> Step:
    """The single-user change of `action`, returning its audit changes (None: unchanged)."""

    async def changed(name: str, before: views_users.UserView) -> dict[str, Any] | None:
        after = await views_users.get_user(rt, app_id, name)
        diff = views_users.changes_between(before.as_dict(), after.as_dict())
        return diff or None

    async def run(before: views_users.UserView) -> dict[str, Any] | None:
        name = before.username
        if action == "delete":
            await admin_identities.delete_user(rt, app_id, name)
            return {"state": [before.state, None]}
        if action == "extend":
            if before.expiry_date is None:
                return None  # lifetime: nothing to extend
            await admin_identities.extend_user(rt, app_id, name, days=days)
            return await changed(name, before)
        if action == "reset_hwid":
            removed = await admin_sessions.reset_bindings(rt, app_id, "user", name)
            if not removed and not before.current_devices:
                return None
            return {"bound_devices": [before.current_devices, 0]}
        service = admin_identities.ban_user if action == "ban" else admin_identities.unban_user
        await service(rt, app_id, name, reason)
        return await changed(name, before)

    return run


async def run_bulk(
    rt: Runtime,
    who: Actor,
    *,
    owner_account_id: str,
    app_id: str,
    action: str,
    names: list[str],
    days: int | None = None,
    reason: str = "",
) -> Outcome:
    """Apply `action` to every named user in one write transaction, with one audit entry per
    changed user (capability `user.<action>`, a `bulk` marker in its changes). An unknown
    user or any refusal rolls everything back."""
    check_action(action, days)
    wanted = sorted(set(names))
    if not wanted:
        raise invalid("names", "name at least one user")
    if len(wanted) > MAX_MATCHING:
        raise invalid("names", f"at most {MAX_MATCHING:,} users at once")
    step = _step(rt, app_id, action, days, reason[:200])
    changed: list[str] = []
    async with rt.db.write() as conn:
        for name in wanted:
            before = await views_users.get_user(rt, app_id, name)
            changes = await step(before)
            if changes is None:
                continue
            changed.append(before.username)
            await audit.record_as(
                conn,
                who,
                now=rt.clock(),
                owner_account_id=owner_account_id,
                capability=CAPABILITIES[action],
                target_type="user",
                target=before.username,
                app_id=app_id,
                changes={**changes, "bulk": [None, len(wanted)]},
            )
    return Outcome(action=action, changed=changed, unchanged=len(wanted) - len(changed))
