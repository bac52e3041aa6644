"""Staff roles and staff members (management B.18), and the accounts that staff members and
resellers sign in with (A.7 initial-password rule).

Every change runs in one write transaction with its audit entry (`actor`; `None` when the
caller records the entry itself, as the Elite Key router does). A refused call changes
nothing. Owners are named by their 8-digit `owner_id`; a member by `identifier`, its
username (case-insensitive) or its account's public id.
"""

from __future__ import annotations

import json
import secrets
import string
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, and_, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from licentia.services import audit, paging
from licentia.services.admin_apps import _new_public_id, _unused
from licentia.services.admin_common import (
    AdminError,
    check_email,
    check_identity_text,
    check_length,
    check_norm_length,
    check_stored_content,
    exists,
    invalid,
    norm,
    not_found,
    trim,
)
from licentia.services.audit import CLI_ACTOR, Actor
from licentia.services.credentials import normalize_scope
from licentia.services.grants import Grantor, check_for, member_within
from licentia.services.runtime import Runtime
from licentia.store.tables import accounts, apps, staff_members, staff_roles
from licentia.store.types import new_id

#: A new staff or reseller account's temporary password stops working after this long unused.
TEMPORARY_PASSWORD_TTL = timedelta(hours=72)
TEMPORARY_PASSWORD_LENGTH = 16
#: AuthlyX's initial password, used when the owner turned `compat_initial_password` on.
COMPAT_INITIAL_PASSWORD = "1"  # noqa: S105 - AuthlyX's documented initial password
MAX_PERMISSIONS = 200
_PASSWORD_ALPHABET = string.ascii_letters + string.digits


# -- shared: owners, accounts, audit -------------------------------------------------------


async def load_owner(conn: AsyncConnection, owner_id: str) -> Row[Any]:
    row = (
        await conn.execute(select(accounts).where(accounts.c.owner_id == trim(str(owner_id))))
    ).first()
    if row is None:
        raise not_found("owner", f"no owner with owner id {owner_id!r}")
    return row


async def record(
    conn: AsyncConnection,
    rt: Runtime,
    actor: Actor | None,
    owner_account_id: str,
    capability: str,
    target_type: str,
    target: str,
    changes: dict[str, Any] | None,
    app_id: str | None = None,
) -> None:
    """The audit entry of a change, in its transaction (none when the caller records it)."""
    if actor is None:
        return
    await audit.record_as(
        conn,
        actor,
        now=rt.clock(),
        owner_account_id=owner_account_id,
        capability=capability,
        target_type=target_type,
        target=target,
        changes=changes,
        app_id=app_id,
    )


def check_name(value: str, field: str = "name") -> str:
    text = trim(str(value))
    check_length(text, field, low=1, high=64)
    check_stored_content(text, field)
    check_norm_length(text, field, 64)
    return text


def _check_username(value: str) -> str:
    name = trim(str(value))
    check_length(name, "username", low=1, high=64)
    check_identity_text(name, "username")
    check_norm_length(name, "username", 64)
    return name


def temporary_password(compat: bool) -> str:
    if compat:
        return COMPAT_INITIAL_PASSWORD
    return "".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(TEMPORARY_PASSWORD_LENGTH))


@dataclass(frozen=True)
class NewAccount:
    """What an `add` of type `new` needs: validated name and email, the password and its
    argon2id hash (hashed before the transaction opens)."""

    username: str
    email: str
    password: str
    password_hash: str


async def prepare_account(
    rt: Runtime, owner_id: str, username: str | None, email: str | None
) -> NewAccount:
    """Validate a new member account and hash its temporary password (outside any
    transaction: argon2 is slow)."""
    if username is None or not trim(str(username)):
        raise AdminError("MISSING_FIELDS", "username is required for type new", ["username"])
    if email is None or not trim(str(email)):
        raise AdminError("MISSING_FIELDS", "email is required for type new", ["email"])
    name = _check_username(username)
    mail = check_email(str(email))
    async with rt.db.read() as conn:
        owner = await load_owner(conn, owner_id)
    password = temporary_password(bool(owner.compat_initial_password))
    return NewAccount(name, mail, password, await rt.passwords.hash(password))


async def insert_account(conn: AsyncConnection, rt: Runtime, new: NewAccount) -> Row[Any]:
    """Create the member account (no owner id: it is not an owner)."""
    taken = (
        await conn.execute(
            select(accounts.c.id).where(accounts.c.username_norm == norm(new.username))
        )
    ).first()
    if taken is not None:
        raise exists(f"an account named {new.username!r} already exists")
    account_id = new_id()
    now = rt.clock()
    await conn.execute(
        accounts.insert().values(
            id=account_id,
            public_id=await _unused(conn, accounts.c.public_id, _new_public_id),
            owner_id=None,
            username=new.username,
            username_norm=norm(new.username),
            email=new.email,
            password_hash=new.password_hash,
            status="active",
            created_at=now,
            must_change_password=True,
            temporary_password_expires_at=now + TEMPORARY_PASSWORD_TTL,
        )
    )
    row = (await conn.execute(select(accounts).where(accounts.c.id == account_id))).first()
    assert row is not None
    return row


async def account_by_public_id(
    conn: AsyncConnection, public_id: str | None, field: str
) -> Row[Any]:
    text = trim(str(public_id or ""))
    if not text:
        raise AdminError("MISSING_FIELDS", f"{field} is required for type existing", [field])
    row = (await conn.execute(select(accounts).where(accounts.c.public_id == text))).first()
    if row is None:
        raise AdminError("ACCOUNT_NOT_FOUND", f"no account with public id {text!r}", [field])
    return row


def identifier_clause(identifier: str) -> Any:
    """Matches an account by username (case-insensitive) or public id."""
    text = trim(str(identifier))
    if not text:
        raise AdminError("MISSING_FIELDS", "identifier is required", ["identifier"])
    return or_(accounts.c.username_norm == norm(text), accounts.c.public_id == text)


async def owner_app_ids(
    conn: AsyncConnection, owner_account_id: str, app_ids: Sequence[str] | None, field: str
) -> list[str] | None:
    """Validated app ids of the owner (None = every app); another owner's app is
    APP_NOT_FOUND, as if it did not exist."""
    if app_ids is None:
        return None
    if isinstance(app_ids, str):
        raise invalid(field, f"{field} must be a list of app ids")
    wanted: list[str] = []
    for app_id in app_ids:
        text = trim(str(app_id))
        if text and text not in wanted:
            wanted.append(text)
    if not wanted:
        raise invalid(field, f"give at least one app id in {field}, or none for every app")
    found = set(
        (
            await conn.execute(
                select(apps.c.id).where(
                    and_(apps.c.owner_account_id == owner_account_id, apps.c.id.in_(wanted))
                )
            )
        ).scalars()
    )
    for app_id in wanted:
        if app_id not in found:
            raise AdminError("APP_NOT_FOUND", f"no app with id {app_id!r}", [field])
    return wanted


def page_query(query: Any, table: Any, kind: str, cursor: str | None, limit: int | None) -> Any:
    position = paging.decode_cursor(kind, cursor)
    clause = paging.after(position, table.c.created_at, table.c.id)
    if clause is not None:
        query = query.where(clause)
    query = query.order_by(table.c.created_at.desc(), table.c.id.desc())
    return query if limit is None else query.limit(limit + 1)


def make_page(kind: str, items: list[Any], limit: int | None) -> paging.Page[Any]:
    if limit is None or len(items) <= limit:
        return paging.Page(items=items, next_cursor=None)
    items = items[:limit]
    return paging.Page(
        items=items, next_cursor=paging.encode_cursor(kind, items[-1].created_at, items[-1].id)
    )


# -- roles -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Role:
    id: str
    name: str
    permissions: list[str]
    app_ids: list[str] | None  # None = every app
    members: int
    created_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "permissions": list(self.permissions),
            "apps": None if self.app_ids is None else list(self.app_ids),
            "members": self.members,
            "created_at": self.created_at,
        }


def _permissions(values: Sequence[str]) -> list[str]:
    """Capability names or resource shorthands, canonical, without repeats (may be empty:
    a role that grants nothing yet)."""
    if isinstance(values, str):
        raise invalid("permissions", "permissions must be a list")
    out: list[str] = []
    for value in values:
        try:
            name = normalize_scope(value)
        except AdminError:
            raise invalid(
                "permissions",
                f"unknown permission {value!r}: use name.action (license.ban) or name:read / "
                "name:write",
            ) from None
        if name not in out:
            out.append(name)
    if len(out) > MAX_PERMISSIONS:
        raise invalid("permissions", f"at most {MAX_PERMISSIONS} permissions")
    return sorted(out)


_MEMBERS = (
    select(func.count())
    .select_from(staff_members)
    .where(staff_members.c.role_id == staff_roles.c.id)
    .scalar_subquery()
)


def _role(row: Row[Any]) -> Role:
    return Role(
        id=row.id,
        name=row.name,
        permissions=list(json.loads(row.permissions)),
        app_ids=None if row.app_ids is None else list(json.loads(row.app_ids)),
        members=int(row.members),
        created_at=row.created_at,
    )


async def _role_row(conn: AsyncConnection, owner_account_id: str, role_id: str) -> Row[Any]:
    row = (
        await conn.execute(
            select(staff_roles, _MEMBERS.label("members")).where(
                and_(
                    staff_roles.c.id == trim(str(role_id)),
                    staff_roles.c.owner_account_id == owner_account_id,
                )
            )
        )
    ).first()
    if row is None:
        raise AdminError("ROLE_NOT_FOUND", f"no role with id {role_id!r}", ["role_id"])
    return row


async def _name_free(
    conn: AsyncConnection, table: Any, owner_account_id: str, name: str, but: str | None = None
) -> None:
    query = select(table.c.id).where(
        and_(table.c.owner_account_id == owner_account_id, table.c.name_norm == norm(name))
    )
    if but is not None:
        query = query.where(table.c.id != but)
    if (await conn.execute(query)).first() is not None:
        raise exists(f"{name!r} already exists")


async def create_role(
    rt: Runtime,
    owner_id: str,
    name: str,
    permissions: Sequence[str] = (),
    app_ids: Sequence[str] | None = None,
    *,
    actor: Actor | None = CLI_ACTOR,
    by: Grantor | None = None,
) -> Role:
    """A new role: capabilities within an app scope (None = every app). `by` (None: the
    owner) may grant only what it holds (`services.grants`)."""
    role_name = check_name(name)
    perms = _permissions(permissions)
    async with rt.db.write() as conn:
        owner = await load_owner(conn, owner_id)
        scope = await owner_app_ids(conn, owner.id, app_ids, "apps")
        grant = await check_for(conn, by, owner.id)
        if grant is not None:
            grant.require(perms, scope, "permissions")
        await _name_free(conn, staff_roles, owner.id, role_name)
        role_id = new_id()
        await conn.execute(
            staff_roles.insert().values(
                id=role_id,
                owner_account_id=owner.id,
                name=role_name,
                name_norm=norm(role_name),
                permissions=json.dumps(perms),
                app_ids=None if scope is None else json.dumps(scope),
                created_at=rt.clock(),
            )
        )
        changes = {"name": [None, role_name], "permissions": [None, perms], "apps": [None, scope]}
        await record(conn, rt, actor, owner.id, "role.create", "role", role_id, changes)
        return _role(await _role_row(conn, owner.id, role_id))


_UNSET: Any = object()


async def edit_role(
    rt: Runtime,
    owner_id: str,
    role_id: str,
    *,
    name: str | None = None,
    permissions: Sequence[str] | None = None,
    app_ids: Sequence[str] | None = _UNSET,
    actor: Actor | None = CLI_ACTOR,
    by: Grantor | None = None,
) -> Role:
    """Rename, replace the permissions or the app scope (`app_ids=None`: every app). The
    staff members holding the role get the new rights at their next call. `by` (None: the
    owner) may not edit its own role nor a role beyond its rights, and grants only what it
    holds (`services.grants`)."""
    role_name = None if name is None else check_name(name)
    perms = None if permissions is None else _permissions(permissions)
    async with rt.db.write() as conn:
        owner = await load_owner(conn, owner_id)
        row = await _role_row(conn, owner.id, role_id)
        before = _role(row)
        grant = await check_for(conn, by, owner.id)
        if grant is not None:
            grant.not_own_role(row.id)
            grant.require(before.permissions, before.app_ids, "role_id")
        values: dict[str, Any] = {}
        changes: dict[str, Any] = {}
        if role_name is not None and role_name != before.name:
            await _name_free(conn, staff_roles, owner.id, role_name, but=row.id)
            values.update(name=role_name, name_norm=norm(role_name))
            changes["name"] = [before.name, role_name]
        if perms is not None and perms != before.permissions:
            values["permissions"] = json.dumps(perms)
            changes["permissions"] = [before.permissions, perms]
        scope = before.app_ids
        if app_ids is not _UNSET:
            scope = await owner_app_ids(conn, owner.id, app_ids, "apps")
            if scope != before.app_ids:
                values["app_ids"] = None if scope is None else json.dumps(scope)
                changes["apps"] = [before.app_ids, scope]
        if grant is not None:
            grant.require(before.permissions if perms is None else perms, scope, "permissions")
        if values:
            await conn.execute(update(staff_roles).where(staff_roles.c.id == row.id).values(values))
            await record(conn, rt, actor, owner.id, "role.edit", "role", row.id, changes)
        return _role(await _role_row(conn, owner.id, row.id))


async def delete_role(
    rt: Runtime,
    owner_id: str,
    role_id: str,
    *,
    actor: Actor | None = CLI_ACTOR,
    by: Grantor | None = None,
) -> Role:
    """Delete a role; IN_USE while a staff member holds it. `by` may delete only a role
    within its own rights."""
    async with rt.db.write() as conn:
        owner = await load_owner(conn, owner_id)
        role = _role(await _role_row(conn, owner.id, role_id))
        grant = await check_for(conn, by, owner.id)
        if grant is not None:
            grant.not_own_role(role.id)
            grant.require(role.permissions, role.app_ids, "role_id")
        if role.members:
            raise AdminError(
                "IN_USE",
                f"the role {role.name!r} is assigned to {role.members} staff member(s): "
                "give them another role first",
                ["role_id"],
            )
        await conn.execute(delete(staff_roles).where(staff_roles.c.id == role.id))
        await record(
            conn, rt, actor, owner.id, "role.delete", "role", role.id, {"name": [role.name, None]}
        )
        return role


async def list_roles(
    rt: Runtime, owner_id: str, *, cursor: str | None = None, limit: int | None = None
) -> paging.Page[Role]:
    """The owner's roles, newest first."""
    size = paging.check_limit(limit)
    async with rt.db.read() as conn:
        owner = await load_owner(conn, owner_id)
        query = select(staff_roles, _MEMBERS.label("members")).where(
            staff_roles.c.owner_account_id == owner.id
        )
        rows = (await conn.execute(page_query(query, staff_roles, "role", cursor, size))).all()
    return make_page("role", [_role(r) for r in rows], size)


# -- staff members -----------------------------------------------------------------------


@dataclass(frozen=True)
class StaffMember:
    id: str
    account_id: str
    username: str
    public_id: str
    email: str
    role_id: str
    role_name: str
    is_active: bool
    created_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "username": self.username,
            "public_id": self.public_id,
            "email": self.email,
            "role_id": self.role_id,
            "role_name": self.role_name,
            "is_active": self.is_active,
            "created_at": self.created_at,
        }


@dataclass(frozen=True)
class AddedStaff:
    staff: StaffMember
    temporary_password: str | None  # type new only; shown once


def _staff_query() -> Any:
    return (
        select(
            staff_members,
            accounts.c.username,
            accounts.c.public_id,
            accounts.c.email,
            staff_roles.c.name.label("role_name"),
        )
        .join(accounts, accounts.c.id == staff_members.c.account_id)
        .join(staff_roles, staff_roles.c.id == staff_members.c.role_id)
    )


def _staff(row: Row[Any]) -> StaffMember:
    return StaffMember(
        id=row.id,
        account_id=row.account_id,
        username=row.username,
        public_id=row.public_id,
        email=row.email,
        role_id=row.role_id,
        role_name=row.role_name,
        is_active=bool(row.is_active),
        created_at=row.created_at,
    )


async def _staff_row(conn: AsyncConnection, owner_account_id: str, identifier: str) -> Row[Any]:
    row = (
        await conn.execute(
            _staff_query().where(
                and_(
                    staff_members.c.owner_account_id == owner_account_id,
                    identifier_clause(identifier),
                )
            )
        )
    ).first()
    if row is None:
        raise AdminError("STAFF_NOT_FOUND", f"no staff member {identifier!r}", ["identifier"])
    return row


async def _by_member_id(conn: AsyncConnection, member_id: str) -> StaffMember:
    row = (await conn.execute(_staff_query().where(staff_members.c.id == member_id))).first()
    assert row is not None
    return _staff(row)


async def add_staff(
    rt: Runtime,
    owner_id: str,
    *,
    type: str,
    role_id: str,
    username: str | None = None,
    email: str | None = None,
    public_id: str | None = None,
    actor: Actor | None = CLI_ACTOR,
    by: Grantor | None = None,
) -> AddedStaff:
    """Add a staff member: `type="new"` creates an account (username, email; a temporary
    password returned once, to be changed at first sign-in, expiring after 72 h unused);
    `type="existing"` adds an account by its public id. `by` (None: the owner) may assign
    only a role within its own rights."""
    kind = trim(str(type)).lower()
    if kind not in ("new", "existing"):
        raise invalid("type", "type must be new or existing")
    if not trim(str(role_id or "")):
        raise AdminError("MISSING_FIELDS", "role_id is required", ["role_id"])
    new = await prepare_account(rt, owner_id, username, email) if kind == "new" else None
    async with rt.db.write() as conn:
        owner = await load_owner(conn, owner_id)
        role = await _role_row(conn, owner.id, role_id)
        grant = await check_for(conn, by, owner.id)
        if grant is not None:
            assigned = _role(role)
            grant.require(assigned.permissions, assigned.app_ids, "role_id")
        if new is not None:
            account = await insert_account(conn, rt, new)
        else:
            account = await account_by_public_id(conn, public_id, "public_id")
            if account.id == owner.id:
                raise invalid("public_id", "the owner cannot be its own staff member")
            if grant is not None:
                grant.not_self(account.id)
            taken = (
                await conn.execute(
                    select(staff_members.c.id).where(
                        and_(
                            staff_members.c.owner_account_id == owner.id,
                            staff_members.c.account_id == account.id,
                        )
                    )
                )
            ).first()
            if taken is not None:
                raise exists(f"{account.username!r} is already a staff member of this owner")
        member_id = new_id()
        await conn.execute(
            staff_members.insert().values(
                id=member_id,
                owner_account_id=owner.id,
                account_id=account.id,
                role_id=role.id,
                is_active=True,
                created_at=rt.clock(),
            )
        )
        changes: dict[str, Any] = {
            "type": [None, kind],
            "username": [None, account.username],
            "role": [None, role.name],
        }
        if new is not None:
            changes["temporary_password"] = [None, "set"]
        await record(conn, rt, actor, owner.id, "staff.add", "staff", account.public_id, changes)
        member = await _by_member_id(conn, member_id)
    return AddedStaff(member, None if new is None else new.password)


async def edit_staff(
    rt: Runtime,
    owner_id: str,
    identifier: str,
    *,
    role_id: str,
    actor: Actor | None = CLI_ACTOR,
    by: Grantor | None = None,
) -> StaffMember:
    """Give a staff member another role (the same role: no change). `by` (None: the owner)
    may not change its own role, and both roles must lie within its rights."""
    async with rt.db.write() as conn:
        owner = await load_owner(conn, owner_id)
        row = await _staff_row(conn, owner.id, identifier)
        role = await _role_row(conn, owner.id, role_id)
        grant = await check_for(conn, by, owner.id)
        if grant is not None:
            grant.not_self(row.account_id)
            await grant.role_within(conn, row.role_id)
            assigned = _role(role)
            grant.require(assigned.permissions, assigned.app_ids, "role_id")
        if role.id != row.role_id:
            await conn.execute(
                update(staff_members).where(staff_members.c.id == row.id).values(role_id=role.id)
            )
            await record(
                conn,
                rt,
                actor,
                owner.id,
                "staff.edit",
                "staff",
                row.public_id,
                {"role": [row.role_name, role.name]},
            )
        return await _by_member_id(conn, row.id)


async def set_active(
    conn: AsyncConnection,
    rt: Runtime,
    actor: Actor | None,
    owner_account_id: str,
    table: Any,
    resource: str,
    row: Row[Any],
    active: bool,
) -> None:
    """Ban (`active=False`) or unban a staff member or reseller row, with its audit entry
    (`<resource>.ban` / `.unban`); idempotent: no change, no entry."""
    if bool(row.is_active) == active:
        return
    await conn.execute(update(table).where(table.c.id == row.id).values(is_active=active))
    await record(
        conn,
        rt,
        actor,
        owner_account_id,
        f"{resource}.unban" if active else f"{resource}.ban",
        resource,
        row.public_id,
        {"is_active": [not active, active]},
    )


async def set_staff_active(
    rt: Runtime,
    owner_id: str,
    identifier: str,
    active: bool,
    *,
    actor: Actor | None = CLI_ACTOR,
    by: Grantor | None = None,
) -> StaffMember:
    """Ban (`active=False`: the member and its tokens lose every right at once) or unban;
    idempotent. `by` may not ban or unban itself nor a member above it."""
    async with rt.db.write() as conn:
        owner = await load_owner(conn, owner_id)
        row = await _staff_row(conn, owner.id, identifier)
        await member_within(conn, by, owner.id, row)
        await set_active(conn, rt, actor, owner.id, staff_members, "staff", row, active)
        return await _by_member_id(conn, row.id)


async def ban_staff(
    rt: Runtime,
    owner_id: str,
    identifier: str,
    *,
    actor: Actor | None = CLI_ACTOR,
    by: Grantor | None = None,
) -> StaffMember:
    return await set_staff_active(rt, owner_id, identifier, False, actor=actor, by=by)


async def unban_staff(
    rt: Runtime,
    owner_id: str,
    identifier: str,
    *,
    actor: Actor | None = CLI_ACTOR,
    by: Grantor | None = None,
) -> StaffMember:
    return await set_staff_active(rt, owner_id, identifier, True, actor=actor, by=by)


async def remove_staff(
    rt: Runtime,
    owner_id: str,
    identifier: str,
    *,
    actor: Actor | None = CLI_ACTOR,
    by: Grantor | None = None,
) -> StaffMember:
    """End the membership (the account stays; its tokens for this owner stop working).
    `by` may not remove itself nor a member above it."""
    async with rt.db.write() as conn:
        owner = await load_owner(conn, owner_id)
        row = await _staff_row(conn, owner.id, identifier)
        await member_within(conn, by, owner.id, row)
        member = _staff(row)
        await conn.execute(delete(staff_members).where(staff_members.c.id == member.id))
        await record(
            conn,
            rt,
            actor,
            owner.id,
            "staff.remove",
            "staff",
            member.public_id,
            {"role": [member.role_name, None]},
        )
        return member


async def get_staff(rt: Runtime, owner_id: str, identifier: str) -> StaffMember:
    async with rt.db.read() as conn:
        owner = await load_owner(conn, owner_id)
        return _staff(await _staff_row(conn, owner.id, identifier))


async def list_staff(
    rt: Runtime,
    owner_id: str,
    *,
    role_id: str | None = None,
    active: bool | None = None,
    cursor: str | None = None,
    limit: int | None = None,
) -> paging.Page[StaffMember]:
    """The owner's staff members, newest first (filters: role, active)."""
    size = paging.check_limit(limit)
    async with rt.db.read() as conn:
        owner = await load_owner(conn, owner_id)
        query = _staff_query().where(staff_members.c.owner_account_id == owner.id)
        if role_id is not None:
            query = query.where(staff_members.c.role_id == role_id)
        if active is not None:
            query = query.where(staff_members.c.is_active.is_(active))
        rows = (await conn.execute(page_query(query, staff_members, "staff", cursor, size))).all()
    return make_page("staff", [_staff(r) for r in rows], size)
