"""Rate plans, resellers, coins (management B.19), and what a reseller does itself.

The balance never goes below zero, even under concurrent requests: every change is one
conditional UPDATE (`points_balance + amount >= 0`, checked by its row count) plus a
`coin_ledger` row in the same transaction; a change that would go negative raises
`INSUFFICIENT_BALANCE` and writes nothing. A reseller's generation debits, writes the ledger
row and creates the keys in ONE transaction (the license service joins it), so not enough
coins means no keys, and a failed generation costs nothing.

Owner actions name the owner by its 8-digit `owner_id` and a reseller by `identifier`
(username or public id); reseller actions by the reseller's id (`Rights.reseller`).
Changes are audited like `admin_staff` (actor `None`: the caller records the entry).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, and_, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from licentia.domain.timeutil import iso_z
from licentia.services import admin_licenses, events, grants, paging
from licentia.services.admin_common import (
    MAX_DAYS,
    AdminError,
    check_note,
    check_stored_content,
    exists,
    invalid,
    norm,
    parse_bool,
    parse_int,
    require_subscription,
    trim,
)
from licentia.services.admin_staff import (
    _UNSET,
    _name_free,
    account_by_public_id,
    check_name,
    identifier_clause,
    insert_account,
    load_owner,
    make_page,
    owner_app_ids,
    page_query,
    prepare_account,
    record,
    set_active,
)
from licentia.services.audit import CLI_ACTOR, Actor
from licentia.services.grants import Grantor
from licentia.services.principals import created_by_reseller
from licentia.services.runtime import Runtime
from licentia.store.tables import (
    accounts,
    apps,
    coin_ledger,
    licenses,
    rate_plan_prices,
    rate_plans,
    resellers,
    subscriptions,
)
from licentia.store.types import new_id

TERM_KINDS = ("duration", "fixed", "lifetime")
#: Most coins one change may move, and most keys one reseller generation may make.
MAX_COINS = 1_000_000_000
MAX_RESELLER_AMOUNT = 10_000
EXPORT_FORMATS = ("csv", "json")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
EXPORT_COLUMNS = (
    "key",
    "app_id",
    "app_name",
    "subscription",
    "status",
    "banned",
    "paused",
    "duration_days",
    "expiry_date",
    "note",
    "created_at",
)


# -- rate plans ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Price:
    """One priced product: a subscription of an app with a term, at `price` coins a key."""

    id: str
    app_id: str
    app_name: str
    subscription: str
    term_kind: str  # duration | fixed | lifetime
    term_days: int
    price: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "app_id": self.app_id,
            "app_name": self.app_name,
            "subscription": self.subscription,
            "term_kind": self.term_kind,
            "term_days": self.term_days,
            "price": self.price,
        }


@dataclass(frozen=True)
class RatePlan:
    id: str
    name: str
    allow_ban: bool
    allow_reset_hwid: bool
    prices: list[Price]
    resellers: int
    created_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "allow_ban": self.allow_ban,
            "allow_reset_hwid": self.allow_reset_hwid,
            "prices": [p.as_dict() for p in self.prices],
            "resellers": self.resellers,
            "created_at": self.created_at,
        }


_PRICE_QUERY = (
    select(
        rate_plan_prices,
        apps.c.name.label("app_name"),
        subscriptions.c.name.label("subscription_name"),
    )
    .join(apps, apps.c.id == rate_plan_prices.c.app_id)
    .join(subscriptions, subscriptions.c.id == rate_plan_prices.c.subscription_id)
)
_ASSIGNED = (
    select(func.count())
    .select_from(resellers)
    .where(resellers.c.rate_plan_id == rate_plans.c.id)
    .scalar_subquery()
)


def _price(row: Row[Any]) -> Price:
    return Price(
        id=row.id,
        app_id=row.app_id,
        app_name=row.app_name,
        subscription=row.subscription_name,
        term_kind=row.term_kind,
        term_days=int(row.term_days),
        price=int(row.price),
    )


async def _prices(conn: AsyncConnection, plan_ids: Sequence[str]) -> dict[str, list[Price]]:
    out: dict[str, list[Price]] = {plan_id: [] for plan_id in plan_ids}
    if not plan_ids:
        return out
    rows = await conn.execute(
        _PRICE_QUERY.where(rate_plan_prices.c.rate_plan_id.in_(list(plan_ids))).order_by(
            apps.c.name,
            subscriptions.c.name,
            rate_plan_prices.c.term_kind,
            rate_plan_prices.c.term_days,
        )
    )
    for row in rows:
        out[row.rate_plan_id].append(_price(row))
    return out


async def _plan_row(conn: AsyncConnection, owner_account_id: str, plan_id: str) -> Row[Any]:
    row = (
        await conn.execute(
            select(rate_plans, _ASSIGNED.label("assigned")).where(
                and_(
                    rate_plans.c.id == trim(str(plan_id)),
                    rate_plans.c.owner_account_id == owner_account_id,
                )
            )
        )
    ).first()
    if row is None:
        raise AdminError(
            "RATE_PLAN_NOT_FOUND", f"no rate plan with id {plan_id!r}", ["rate_plan_id"]
        )
    return row


async def _plan(conn: AsyncConnection, owner_account_id: str, plan_id: str) -> RatePlan:
    row = await _plan_row(conn, owner_account_id, plan_id)
    return _plan_of(row, (await _prices(conn, [row.id]))[row.id])


def _plan_of(row: Row[Any], prices: list[Price]) -> RatePlan:
    return RatePlan(
        id=row.id,
        name=row.name,
        allow_ban=bool(row.allow_ban),
        allow_reset_hwid=bool(row.allow_reset_hwid),
        prices=prices,
        resellers=int(row.assigned),
        created_at=row.created_at,
    )


async def create_rate_plan(
    rt: Runtime,
    owner_id: str,
    name: str,
    *,
    allow_ban: bool = False,
    allow_reset_hwid: bool = False,
    actor: Actor | None = CLI_ACTOR,
    by: Grantor | None = None,
) -> RatePlan:
    """A new rate plan without prices (add them with `set_price`); `by` may grant its
    flags (`services.grants`: nobody grants what they do not hold)."""
    plan_name = check_name(name)
    ban = parse_bool(allow_ban, "allow_ban")
    reset = parse_bool(allow_reset_hwid, "allow_reset_hwid")
    async with rt.db.write() as conn:
        owner = await load_owner(conn, owner_id)
        await grants.plan_within(
            conn, by, owner.id, allow_ban=ban, allow_reset_hwid=reset, field="allow_ban"
        )
        await _name_free(conn, rate_plans, owner.id, plan_name)
        plan_id = new_id()
        await conn.execute(
            rate_plans.insert().values(
                id=plan_id,
                owner_account_id=owner.id,
                name=plan_name,
                name_norm=norm(plan_name),
                allow_ban=ban,
                allow_reset_hwid=reset,
                created_at=rt.clock(),
            )
        )
        changes = {
            "name": [None, plan_name],
            "allow_ban": [None, ban],
            "allow_reset_hwid": [None, reset],
        }
        await record(conn, rt, actor, owner.id, "rate-plan.create", "rate-plan", plan_id, changes)
        return await _plan(conn, owner.id, plan_id)


async def edit_rate_plan(
    rt: Runtime,
    owner_id: str,
    plan_id: str,
    *,
    name: str | None = None,
    allow_ban: bool | None = None,
    allow_reset_hwid: bool | None = None,
    actor: Actor | None = CLI_ACTOR,
    by: Grantor | None = None,
) -> RatePlan:
    """Rename, or switch the flags; a flag switched on is a grant `by` must be able to make
    on every app the plan prices."""
    plan_name = None if name is None else check_name(name)
    async with rt.db.write() as conn:
        owner = await load_owner(conn, owner_id)
        row = await _plan_row(conn, owner.id, plan_id)
        values: dict[str, Any] = {}
        changes: dict[str, Any] = {}
        if plan_name is not None and plan_name != row.name:
            await _name_free(conn, rate_plans, owner.id, plan_name, but=row.id)
            values.update(name=plan_name, name_norm=norm(plan_name))
            changes["name"] = [row.name, plan_name]
        for field, value in (("allow_ban", allow_ban), ("allow_reset_hwid", allow_reset_hwid)):
            if value is not None:
                flag = parse_bool(value, field)
                if flag != bool(getattr(row, field)):
                    values[field] = flag
                    changes[field] = [not flag, flag]
        if values.get("allow_ban") or values.get("allow_reset_hwid"):
            await grants.plan_within(
                conn,
                by,
                owner.id,
                allow_ban=bool(values.get("allow_ban")),
                allow_reset_hwid=bool(values.get("allow_reset_hwid")),
                app_ids=await grants.plan_apps(conn, row.id),
                field="allow_ban" if values.get("allow_ban") else "allow_reset_hwid",
            )
        if values:
            await conn.execute(update(rate_plans).where(rate_plans.c.id == row.id).values(values))
            await record(conn, rt, actor, owner.id, "rate-plan.edit", "rate-plan", row.id, changes)
        return await _plan(conn, owner.id, row.id)


async def delete_rate_plan(
    rt: Runtime, owner_id: str, plan_id: str, *, actor: Actor | None = CLI_ACTOR
) -> RatePlan:
    """Delete a plan and its prices; IN_USE while a reseller has it."""
    async with rt.db.write() as conn:
        owner = await load_owner(conn, owner_id)
        plan = await _plan(conn, owner.id, plan_id)
        if plan.resellers:
            raise AdminError(
                "IN_USE",
                f"the rate plan {plan.name!r} is assigned to {plan.resellers} reseller(s)",
                ["rate_plan_id"],
            )
        await conn.execute(
            delete(rate_plan_prices).where(rate_plan_prices.c.rate_plan_id == plan.id)
        )
        await conn.execute(delete(rate_plans).where(rate_plans.c.id == plan.id))
        await record(
            conn,
            rt,
            actor,
            owner.id,
            "rate-plan.delete",
            "rate-plan",
            plan.id,
            {"name": [plan.name, None]},
        )
        return plan


async def list_rate_plans(
    rt: Runtime, owner_id: str, *, cursor: str | None = None, limit: int | None = None
) -> paging.Page[RatePlan]:
    size = paging.check_limit(limit)
    async with rt.db.read() as conn:
        owner = await load_owner(conn, owner_id)
        query = select(rate_plans, _ASSIGNED.label("assigned")).where(
            rate_plans.c.owner_account_id == owner.id
        )
        rows = (await conn.execute(page_query(query, rate_plans, "rate-plan", cursor, size))).all()
        page = make_page("rate-plan", list(rows), size)
        prices = await _prices(conn, [r.id for r in page.items])
    return paging.Page([_plan_of(r, prices[r.id]) for r in page.items], page.next_cursor)


def _term(term_kind: str, term_days: int | None) -> tuple[str, int]:
    kind = trim(str(term_kind)).lower()
    if kind not in TERM_KINDS:
        raise invalid("term_kind", "term_kind must be duration, fixed or lifetime")
    if kind == "lifetime":
        if term_days not in (None, 0):
            raise invalid("term_days", "a lifetime term has no days")
        return kind, 0
    if term_days is None:
        raise AdminError(
            "MISSING_FIELDS", f"term_days is required for a {kind} term", ["term_days"]
        )
    return kind, parse_int(term_days, "term_days", low=1, high=MAX_DAYS)


async def set_price(
    rt: Runtime,
    owner_id: str,
    plan_id: str,
    *,
    app_id: str,
    subscription: str,
    term_kind: str,
    term_days: int | None = None,
    price: int,
    actor: Actor | None = CLI_ACTOR,
    by: Grantor | None = None,
) -> RatePlan:
    """Price a product (subscription + term) of one of the owner's apps; setting the same
    product again changes its price. The plan's resellers then generate keys of that app
    with the plan's flags there: `by` must hold those rights on it."""
    kind, days = _term(term_kind, term_days)
    coins = parse_int(price, "price", low=0, high=MAX_COINS)
    async with rt.db.write() as conn:
        owner = await load_owner(conn, owner_id)
        plan = await _plan_row(conn, owner.id, plan_id)
        await owner_app_ids(conn, owner.id, [app_id], "app_id")
        await grants.plan_within(
            conn,
            by,
            owner.id,
            allow_ban=bool(plan.allow_ban),
            allow_reset_hwid=bool(plan.allow_reset_hwid),
            app_ids=[app_id],
            field="app_id",
        )
        sub = await require_subscription(conn, app_id, subscription)
        current = (
            await conn.execute(
                select(rate_plan_prices).where(
                    and_(
                        rate_plan_prices.c.rate_plan_id == plan.id,
                        rate_plan_prices.c.subscription_id == sub.id,
                        rate_plan_prices.c.term_kind == kind,
                        rate_plan_prices.c.term_days == days,
                    )
                )
            )
        ).first()
        product = f"{sub.name}/{kind}/{days}"
        if current is None:
            await conn.execute(
                rate_plan_prices.insert().values(
                    id=new_id(),
                    rate_plan_id=plan.id,
                    app_id=app_id,
                    subscription_id=sub.id,
                    term_kind=kind,
                    term_days=days,
                    price=coins,
                )
            )
            changes = {f"price {product}": [None, coins]}
        elif int(current.price) != coins:
            await conn.execute(
                update(rate_plan_prices)
                .where(rate_plan_prices.c.id == current.id)
                .values(price=coins)
            )
            changes = {f"price {product}": [int(current.price), coins]}
        else:
            changes = {}
        if changes:
            await record(
                conn, rt, actor, owner.id, "rate-plan.edit", "rate-plan", plan.id, changes, app_id
            )
        return await _plan(conn, owner.id, plan.id)


async def remove_price(
    rt: Runtime, owner_id: str, plan_id: str, price_id: str, *, actor: Actor | None = CLI_ACTOR
) -> RatePlan:
    async with rt.db.write() as conn:
        owner = await load_owner(conn, owner_id)
        plan = await _plan(conn, owner.id, plan_id)
        match = [p for p in plan.prices if p.id == trim(str(price_id))]
        if not match:
            raise AdminError("PRICE_NOT_FOUND", f"no price with id {price_id!r}", ["price_id"])
        item = match[0]
        await conn.execute(delete(rate_plan_prices).where(rate_plan_prices.c.id == item.id))
        product = f"{item.subscription}/{item.term_kind}/{item.term_days}"
        await record(
            conn,
            rt,
            actor,
            owner.id,
            "rate-plan.edit",
            "rate-plan",
            plan.id,
            {f"price {product}": [item.price, None]},
            item.app_id,
        )
        return await _plan(conn, owner.id, plan.id)


# -- resellers -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Reseller:
    id: str
    account_id: str
    username: str
    public_id: str
    email: str
    rate_plan_id: str | None
    rate_plan_name: str | None
    points_balance: int
    is_active: bool
    app_ids: list[str] | None  # None = every app its rate plan prices
    created_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "username": self.username,
            "public_id": self.public_id,
            "email": self.email,
            "rate_plan_id": self.rate_plan_id,
            "rate_plan_name": self.rate_plan_name,
            "points_balance": self.points_balance,
            "is_active": self.is_active,
            "apps": None if self.app_ids is None else list(self.app_ids),
            "created_at": self.created_at,
        }


@dataclass(frozen=True)
class AddedReseller:
    reseller: Reseller
    temporary_password: str | None


def _reseller_query() -> Any:
    return (
        select(
            resellers,
            accounts.c.username,
            accounts.c.public_id,
            accounts.c.email,
            rate_plans.c.name.label("rate_plan_name"),
        )
        .join(accounts, accounts.c.id == resellers.c.account_id)
        .outerjoin(rate_plans, rate_plans.c.id == resellers.c.rate_plan_id)
    )


def _reseller(row: Row[Any]) -> Reseller:
    return Reseller(
        id=row.id,
        account_id=row.account_id,
        username=row.username,
        public_id=row.public_id,
        email=row.email,
        rate_plan_id=row.rate_plan_id,
        rate_plan_name=row.rate_plan_name,
        points_balance=int(row.points_balance),
        is_active=bool(row.is_active),
        app_ids=None if row.app_ids is None else list(json.loads(row.app_ids)),
        created_at=row.created_at,
    )


async def _reseller_row(conn: AsyncConnection, owner_account_id: str, identifier: str) -> Row[Any]:
    row = (
        await conn.execute(
            _reseller_query().where(
                and_(
                    resellers.c.owner_account_id == owner_account_id,
                    identifier_clause(identifier),
                )
            )
        )
    ).first()
    if row is None:
        raise AdminError("RESELLER_NOT_FOUND", f"no reseller {identifier!r}", ["identifier"])
    return row


async def _by_id(conn: AsyncConnection, reseller_id: str) -> Reseller:
    row = (await conn.execute(_reseller_query().where(resellers.c.id == reseller_id))).first()
    if row is None:
        raise AdminError("RESELLER_NOT_FOUND", "no such reseller")
    return _reseller(row)


async def add_reseller(
    rt: Runtime,
    owner_id: str,
    *,
    type: str,
    username: str | None = None,
    email: str | None = None,
    public_id: str | None = None,
    rate_plan_id: str | None = None,
    app_ids: Sequence[str] | None = None,
    actor: Actor | None = CLI_ACTOR,
    by: Grantor | None = None,
) -> AddedReseller:
    """Add a reseller: a new account (`type="new"`, temporary password returned once) or an
    existing one by public id; optionally with a rate plan and a list of allowed apps."""
    kind = trim(str(type)).lower()
    if kind not in ("new", "existing"):
        raise invalid("type", "type must be new or existing")
    new = await prepare_account(rt, owner_id, username, email) if kind == "new" else None
    async with rt.db.write() as conn:
        owner = await load_owner(conn, owner_id)
        plan = None
        if rate_plan_id is not None and trim(str(rate_plan_id)):
            plan = await _plan_row(conn, owner.id, rate_plan_id)
        await grants.assigned_plan_within(conn, by, owner.id, plan)
        allowed = await owner_app_ids(conn, owner.id, app_ids, "apps")
        if new is not None:
            account = await insert_account(conn, rt, new)
        else:
            account = await account_by_public_id(conn, public_id, "public_id")
            if account.id == owner.id:
                raise invalid("public_id", "the owner cannot be its own reseller")
            taken = (
                await conn.execute(
                    select(resellers.c.id).where(
                        and_(
                            resellers.c.owner_account_id == owner.id,
                            resellers.c.account_id == account.id,
                        )
                    )
                )
            ).first()
            if taken is not None:
                raise exists(f"{account.username!r} is already a reseller of this owner")
        reseller_id = new_id()
        await conn.execute(
            resellers.insert().values(
                id=reseller_id,
                owner_account_id=owner.id,
                account_id=account.id,
                rate_plan_id=None if plan is None else plan.id,
                points_balance=0,
                is_active=True,
                app_ids=None if allowed is None else json.dumps(allowed),
                created_at=rt.clock(),
            )
        )
        changes: dict[str, Any] = {
            "type": [None, kind],
            "username": [None, account.username],
            "rate_plan": [None, None if plan is None else plan.name],
            "apps": [None, allowed],
        }
        if new is not None:
            changes["temporary_password"] = [None, "set"]
        await record(
            conn, rt, actor, owner.id, "reseller.add", "reseller", account.public_id, changes
        )
        reseller = await _by_id(conn, reseller_id)
    return AddedReseller(reseller, None if new is None else new.password)


async def edit_reseller(
    rt: Runtime,
    owner_id: str,
    identifier: str,
    *,
    rate_plan_id: str | None = _UNSET,
    app_ids: Sequence[str] | None = _UNSET,
    actor: Actor | None = CLI_ACTOR,
    by: Grantor | None = None,
) -> Reseller:
    """Change the rate plan (`None` clears it) and/or the allowed apps (`None`: every app
    the plan prices). Arguments left out stay as they are."""
    async with rt.db.write() as conn:
        owner = await load_owner(conn, owner_id)
        row = await _reseller_row(conn, owner.id, identifier)
        before = _reseller(row)
        values: dict[str, Any] = {}
        changes: dict[str, Any] = {}
        if rate_plan_id is not _UNSET:
            plan = None
            if rate_plan_id is not None and trim(str(rate_plan_id)):
                plan = await _plan_row(conn, owner.id, rate_plan_id)
            new_plan = None if plan is None else plan.id
            if new_plan != before.rate_plan_id:
                await grants.assigned_plan_within(conn, by, owner.id, plan)
                values["rate_plan_id"] = new_plan
                changes["rate_plan"] = [before.rate_plan_name, None if plan is None else plan.name]
        if app_ids is not _UNSET:
            allowed = await owner_app_ids(conn, owner.id, app_ids, "apps")
            if allowed != before.app_ids:
                if "rate_plan_id" not in values and before.rate_plan_id is not None:
                    current = await _plan_row(conn, owner.id, before.rate_plan_id)
                    await grants.assigned_plan_within(conn, by, owner.id, current)
                values["app_ids"] = None if allowed is None else json.dumps(allowed)
                changes["apps"] = [before.app_ids, allowed]
        if values:
            await conn.execute(update(resellers).where(resellers.c.id == row.id).values(values))
            await record(
                conn, rt, actor, owner.id, "reseller.edit", "reseller", row.public_id, changes
            )
        return await _by_id(conn, row.id)


async def set_reseller_active(
    rt: Runtime, owner_id: str, identifier: str, active: bool, *, actor: Actor | None = CLI_ACTOR
) -> Reseller:
    """Ban (no rights at all until unbanned; its keys keep working) or unban; idempotent."""
    async with rt.db.write() as conn:
        owner = await load_owner(conn, owner_id)
        row = await _reseller_row(conn, owner.id, identifier)
        await set_active(conn, rt, actor, owner.id, resellers, "reseller", row, active)
        return await _by_id(conn, row.id)


async def ban_reseller(
    rt: Runtime, owner_id: str, identifier: str, *, actor: Actor | None = CLI_ACTOR
) -> Reseller:
    return await set_reseller_active(rt, owner_id, identifier, False, actor=actor)


async def unban_reseller(
    rt: Runtime, owner_id: str, identifier: str, *, actor: Actor | None = CLI_ACTOR
) -> Reseller:
    return await set_reseller_active(rt, owner_id, identifier, True, actor=actor)


async def get_reseller(rt: Runtime, owner_id: str, identifier: str) -> Reseller:
    async with rt.db.read() as conn:
        owner = await load_owner(conn, owner_id)
        return _reseller(await _reseller_row(conn, owner.id, identifier))


async def list_resellers(
    rt: Runtime,
    owner_id: str,
    *,
    rate_plan_id: str | None = None,
    active: bool | None = None,
    cursor: str | None = None,
    limit: int | None = None,
) -> paging.Page[Reseller]:
    size = paging.check_limit(limit)
    async with rt.db.read() as conn:
        owner = await load_owner(conn, owner_id)
        query = _reseller_query().where(resellers.c.owner_account_id == owner.id)
        if rate_plan_id is not None:
            query = query.where(resellers.c.rate_plan_id == rate_plan_id)
        if active is not None:
            query = query.where(resellers.c.is_active.is_(active))
        rows = (await conn.execute(page_query(query, resellers, "reseller", cursor, size))).all()
    return make_page("reseller", [_reseller(r) for r in rows], size)


# -- coins ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class LedgerEntry:
    id: int
    amount: int
    balance_after: int
    description: str
    actor: str
    batch_id: str | None
    created_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "amount": self.amount,
            "balance_after": self.balance_after,
            "description": self.description,
            "actor": self.actor,
            "batch_id": self.batch_id,
            "created_at": self.created_at,
        }


def _actor_name(actor: Actor | None, fallback: str) -> str:
    if actor is None:
        return fallback
    return f"{actor.kind}:{actor.name}" if actor.name else actor.kind


async def move_coins(
    conn: AsyncConnection,
    rt: Runtime,
    reseller_id: str,
    amount: int,
    description: str,
    actor_name: str,
    batch_id: str | None = None,
) -> int:
    """Add `amount` (signed) to the balance and write its ledger row, in the caller's
    transaction; returns the balance after. One conditional UPDATE, so concurrent debits
    can never take the balance below zero: INSUFFICIENT_BALANCE, nothing written."""
    after = await _apply(conn, reseller_id, amount)
    await _ledger_row(conn, rt, reseller_id, amount, after, description, actor_name, batch_id)
    return after


async def _apply(conn: AsyncConnection, reseller_id: str, amount: int) -> int:
    """The conditional balance UPDATE (it also locks the row until the transaction ends)."""
    result = await conn.execute(
        update(resellers)
        .where(and_(resellers.c.id == reseller_id, resellers.c.points_balance + amount >= 0))
        .values(points_balance=resellers.c.points_balance + amount)
    )
    if not result.rowcount:
        balance = (
            await conn.execute(
                select(resellers.c.points_balance).where(resellers.c.id == reseller_id)
            )
        ).scalar_one()
        raise AdminError(
            "INSUFFICIENT_BALANCE",
            f"not enough coins: the balance is {int(balance)}, the change is {amount}",
            ["amount"],
        )
    after = int(
        (
            await conn.execute(
                select(resellers.c.points_balance).where(resellers.c.id == reseller_id)
            )
        ).scalar_one()
    )
    return after


async def _ledger_row(
    conn: AsyncConnection,
    rt: Runtime,
    reseller_id: str,
    amount: int,
    after: int,
    description: str,
    actor_name: str,
    batch_id: str | None,
) -> None:
    await conn.execute(
        coin_ledger.insert().values(
            reseller_id=reseller_id,
            amount=amount,
            balance_after=after,
            description=description,
            actor=actor_name[:128],
            batch_id=batch_id,
            created_at=rt.clock(),
        )
    )


def _description(value: str | None) -> str:
    text = trim(str(value or ""))
    if len(text) > 200:
        raise invalid("description", "description must be at most 200 characters")
    check_stored_content(text, "description")
    return text


async def adjust_coins(
    rt: Runtime,
    owner_id: str,
    identifier: str,
    amount: int,
    description: str | None = "",
    *,
    actor: Actor | None = CLI_ACTOR,
) -> Reseller:
    """Give (positive) or take (negative) coins; 0 is INVALID_INPUT; a result below zero is
    INSUFFICIENT_BALANCE and changes nothing."""
    coins = parse_int(amount, "amount", low=-MAX_COINS, high=MAX_COINS)
    if coins == 0:
        raise invalid("amount", "amount must not be 0")
    text = _description(description)
    async with rt.db.write() as conn:
        owner = await load_owner(conn, owner_id)
        row = await _reseller_row(conn, owner.id, identifier)
        after = await move_coins(conn, rt, row.id, coins, text, _actor_name(actor, "elite-key"))
        await record(
            conn,
            rt,
            actor,
            owner.id,
            "reseller.coins",
            "reseller",
            row.public_id,
            {"points_balance": [after - coins, after]},
        )
        return await _by_id(conn, row.id)


def _entry(row: Row[Any]) -> LedgerEntry:
    return LedgerEntry(
        id=int(row.id),
        amount=int(row.amount),
        balance_after=int(row.balance_after),
        description=row.description,
        actor=row.actor,
        batch_id=row.batch_id,
        created_at=row.created_at,
    )


async def _ledger(
    conn: AsyncConnection, reseller_id: str, cursor: str | None, limit: int | None
) -> paging.Page[LedgerEntry]:
    size = paging.check_limit(limit)
    query = select(coin_ledger).where(coin_ledger.c.reseller_id == reseller_id)
    if cursor:
        if not cursor.isdigit() or len(cursor) > 19:
            raise AdminError(
                "INVALID_INPUT", "cursor must be a value returned as next_cursor", ["cursor"]
            )
        query = query.where(coin_ledger.c.id < int(cursor))
    query = query.order_by(coin_ledger.c.id.desc())
    if size is not None:
        query = query.limit(size + 1)
    items = [_entry(r) for r in (await conn.execute(query)).all()]
    if size is None or len(items) <= size:
        return paging.Page(items, None)
    items = items[:size]
    return paging.Page(items, str(items[-1].id))


async def reseller_ledger(
    rt: Runtime,
    owner_id: str,
    identifier: str,
    *,
    cursor: str | None = None,
    limit: int | None = None,
) -> paging.Page[LedgerEntry]:
    """A reseller's coin ledger, newest first (owner side)."""
    async with rt.db.read() as conn:
        owner = await load_owner(conn, owner_id)
        row = await _reseller_row(conn, owner.id, identifier)
        return await _ledger(conn, row.id, cursor, limit)


# -- what a reseller does itself ---------------------------------------------------------


async def _active_reseller(conn: AsyncConnection, reseller_id: str) -> Row[Any]:
    row = (await conn.execute(select(resellers).where(resellers.c.id == reseller_id))).first()
    if row is None:
        raise AdminError("RESELLER_NOT_FOUND", "no such reseller")
    if not row.is_active:
        raise AdminError("PERMISSION_DENIED", "this reseller is banned")
    return row


async def _products(conn: AsyncConnection, row: Row[Any]) -> list[Price]:
    if row.rate_plan_id is None:
        return []
    prices = (await _prices(conn, [row.rate_plan_id]))[row.rate_plan_id]
    if row.app_ids is not None:
        allowed = set(json.loads(row.app_ids))
        prices = [p for p in prices if p.app_id in allowed]
    return prices


async def my_products(rt: Runtime, reseller_id: str) -> list[Price]:
    """What the reseller may generate: its plan's priced products on its allowed apps."""
    async with rt.db.read() as conn:
        return await _products(conn, await _active_reseller(conn, reseller_id))


async def my_balance(rt: Runtime, reseller_id: str) -> Reseller:
    async with rt.db.read() as conn:
        await _active_reseller(conn, reseller_id)
        return await _by_id(conn, reseller_id)


async def my_ledger(
    rt: Runtime, reseller_id: str, *, cursor: str | None = None, limit: int | None = None
) -> paging.Page[LedgerEntry]:
    async with rt.db.read() as conn:
        await _active_reseller(conn, reseller_id)
        return await _ledger(conn, reseller_id, cursor, limit)


@dataclass(frozen=True)
class Generated:
    keys: list[str]
    batch_id: str
    cost: int
    points_balance: int
    product: Price


async def generate_for_reseller(
    rt: Runtime,
    reseller_id: str,
    product_id: str,
    amount: int,
    *,
    app_id: str | None = None,
    note: str = "",
    actor: Actor | None = None,
) -> Generated:
    """Generate `amount` keys of a priced product: the debit (price x amount), its ledger row
    and the keys in one transaction. A product its plan does not price (or on another app
    than `app_id`) is PRICE_NOT_FOUND; not enough coins is INSUFFICIENT_BALANCE; either way
    nothing is created or debited."""
    count = parse_int(amount, "amount", low=1, high=MAX_RESELLER_AMOUNT)
    text_note = check_note(note)
    async with rt.db.write() as conn:
        row = await _active_reseller(conn, reseller_id)
        products = {p.id: p for p in await _products(conn, row)}
        product = products.get(trim(str(product_id)))
        if product is None or (app_id is not None and product.app_id != app_id):
            raise AdminError(
                "PRICE_NOT_FOUND",
                f"no priced product {product_id!r} in this reseller's rate plan",
                ["product_id"],
            )
        cost = product.price * count
        # Debit first: the conditional UPDATE locks the reseller's row, so concurrent
        # generations queue here instead of generating keys they cannot pay for.
        balance = await _apply(conn, reseller_id, -cost) if cost else int(row.points_balance)
        term: dict[str, Any]
        if product.term_kind == "duration":
            term = {"days": product.term_days}
        elif product.term_kind == "fixed":
            term = {"expires": rt.clock() + timedelta(days=product.term_days)}
        else:
            term = {"lifetime": True}
        keys = await admin_licenses.generate_licenses(
            rt,
            product.app_id,
            product.subscription,
            count=count,
            note=text_note,
            created_by=created_by_reseller(reseller_id),
            **term,
        )
        batch_id = (
            await conn.execute(
                select(licenses.c.batch_id).where(
                    and_(licenses.c.app_id == product.app_id, licenses.c.key == keys[0])
                )
            )
        ).scalar_one()
        description = f"{count} x {product.app_name} {product.subscription} ({product.term_kind})"
        if cost:
            await _ledger_row(
                conn,
                rt,
                reseller_id,
                -cost,
                balance,
                description[:200],
                _actor_name(actor, f"reseller:{reseller_id}"),
                batch_id,
            )
        await record(
            conn,
            rt,
            actor,
            row.owner_account_id,
            "license.generate",
            "license-batch",
            str(batch_id or ""),
            {
                "count": [None, count],
                "cost": [None, cost],
                "points_balance": [balance + cost, balance],
            },
            product.app_id,
        )
        await events.emit(
            conn,
            product.app_id,
            "reseller.purchase",
            {
                "reseller_id": reseller_id,
                "product_id": product.id,
                "count": count,
                "cost": cost,
                "balance": balance,
                "batch_id": str(batch_id or ""),
                "keys": keys[:100],
            },
            now=rt.clock(),
        )
    return Generated(keys, str(batch_id or ""), cost, balance, product)


@dataclass(frozen=True)
class OwnKey:
    key: str
    app_id: str
    app_name: str
    subscription: str
    status: str
    banned: bool
    paused: bool
    duration_days: int | None
    expires_at: datetime | None
    note: str
    created_at: datetime
    id: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "app_id": self.app_id,
            "app_name": self.app_name,
            "subscription": self.subscription,
            "status": self.status,
            "banned": self.banned,
            "paused": self.paused,
            "duration_days": self.duration_days,
            "expiry_date": self.expires_at,
            "note": self.note,
            "created_at": self.created_at,
        }


def _own_query(reseller_id: str, owner_account_id: str) -> Any:
    return (
        select(
            licenses,
            apps.c.name.label("app_name"),
            subscriptions.c.name.label("subscription_name"),
        )
        .join(apps, apps.c.id == licenses.c.app_id)
        .join(subscriptions, subscriptions.c.id == licenses.c.subscription_id)
        .where(
            and_(
                apps.c.owner_account_id == owner_account_id,
                licenses.c.created_by == created_by_reseller(reseller_id),
            )
        )
    )


def _own(row: Row[Any]) -> OwnKey:
    expires = row.expires_at if row.status != "unused" else row.fixed_expiry
    return OwnKey(
        key=row.key,
        app_id=row.app_id,
        app_name=row.app_name,
        subscription=row.subscription_name,
        status=row.status,
        banned=bool(row.banned),
        paused=bool(row.paused),
        duration_days=row.duration_days if row.fixed_expiry is None else None,
        expires_at=expires,
        note=row.note,
        created_at=row.created_at,
        id=row.id,
    )


async def my_licenses(
    rt: Runtime,
    reseller_id: str,
    *,
    app_id: str | None = None,
    status: str | None = None,
    cursor: str | None = None,
    limit: int | None = None,
) -> paging.Page[OwnKey]:
    """The keys this reseller generated (no one else's), newest first."""
    size = paging.check_limit(limit)
    async with rt.db.read() as conn:
        row = await _active_reseller(conn, reseller_id)
        query = _own_query(reseller_id, row.owner_account_id)
        if app_id is not None:
            query = query.where(licenses.c.app_id == app_id)
        if status is not None:
            if status not in ("unused", "active", "used"):
                raise invalid("status", "status must be unused, active or used")
            query = query.where(licenses.c.status == status)
        rows = (
            await conn.execute(page_query(query, licenses, "reseller-license", cursor, size))
        ).all()
    return make_page("reseller-license", [_own(r) for r in rows], size)


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return iso_z(value) or ""
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


async def export_my_licenses(
    rt: Runtime, reseller_id: str, fmt: str = "csv", *, app_id: str | None = None
) -> str:
    """The reseller's keys as CSV (formula-safe cells) or JSON."""
    if fmt not in EXPORT_FORMATS:
        raise invalid("format", "format must be csv or json")
    page = await my_licenses(rt, reseller_id, app_id=app_id)
    rows = [k.as_dict() for k in page.items]
    if fmt == "json":
        plain = [
            {k: iso_z(v) if isinstance(v, datetime) else v for k, v in item.items()}
            for item in rows
        ]
        return json.dumps({"licenses": plain}, ensure_ascii=False)
    out = io.StringIO()
    columns = list(EXPORT_COLUMNS)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for item in rows:
        writer.writerow([_csv_cell(item[c]) for c in columns])
    return out.getvalue()


async def own_key(rt: Runtime, reseller_id: str, app_id: str, key: str) -> OwnKey:
    """One of the reseller's own keys; anyone else's is LICENSE_NOT_FOUND."""
    async with rt.db.read() as conn:
        row = await _active_reseller(conn, reseller_id)
        found = (
            await conn.execute(
                _own_query(reseller_id, row.owner_account_id).where(
                    and_(licenses.c.app_id == app_id, licenses.c.key == trim(str(key)))
                )
            )
        ).first()
    if found is None:
        raise AdminError("LICENSE_NOT_FOUND", f"no license {key!r} of this reseller", ["key"])
    return _own(found)


async def act_on_own_key(
    rt: Runtime,
    reseller_id: str,
    app_id: str,
    key: str,
    action: str,
    *,
    actor: Actor | None = None,
) -> OwnKey:
    """Ban, unban or reset the HWID of one of the reseller's own keys, when its rate plan
    allows it (else PERMISSION_DENIED)."""
    if action not in ("ban", "unban", "reset_hwid"):
        raise invalid("action", "action must be ban, unban or reset_hwid")
    async with rt.db.write() as conn:
        row = await _active_reseller(conn, reseller_id)
        plan = None
        if row.rate_plan_id is not None:
            plan = (
                await conn.execute(select(rate_plans).where(rate_plans.c.id == row.rate_plan_id))
            ).first()
        allowed = plan is not None and bool(
            plan.allow_reset_hwid if action == "reset_hwid" else plan.allow_ban
        )
        if not allowed:
            raise AdminError(
                "PERMISSION_DENIED", f"this reseller's rate plan does not allow {action}"
            )
        before = await own_key(rt, reseller_id, app_id, key)
        if action == "ban":
            await admin_licenses.ban_license(rt, app_id, before.key, "banned by reseller")
        elif action == "unban":
            await admin_licenses.unban_license(rt, app_id, before.key)
        else:
            await _reset_hwid(rt, app_id, before.key)
        after = await own_key(rt, reseller_id, app_id, key)
        changes = (
            {"banned": [before.banned, after.banned]}
            if action != "reset_hwid"
            else {"hwid": ["set", None]}
        )
        if action == "reset_hwid" or before.banned != after.banned:
            await record(
                conn,
                rt,
                actor,
                row.owner_account_id,
                f"license.{action}",
                "license",
                before.key,
                changes,
                app_id,
            )
        return after


async def _reset_hwid(rt: Runtime, app_id: str, key: str) -> None:
    await admin_licenses.reset_license_hwid(rt, app_id, key)


__all__ = [
    "EXPORT_FORMATS",
    "TERM_KINDS",
    "AddedReseller",
    "Generated",
    "LedgerEntry",
    "OwnKey",
    "Price",
    "RatePlan",
    "Reseller",
    "act_on_own_key",
    "add_reseller",
    "adjust_coins",
    "ban_reseller",
    "create_rate_plan",
    "delete_rate_plan",
    "edit_rate_plan",
    "edit_reseller",
    "export_my_licenses",
    "generate_for_reseller",
    "get_reseller",
    "list_rate_plans",
    "list_resellers",
    "move_coins",
    "my_balance",
    "my_ledger",
    "my_licenses",
    "my_products",
    "own_key",
    "remove_price",
    "reseller_ledger",
    "set_price",
    "set_reseller_active",
    "unban_reseller",
]
