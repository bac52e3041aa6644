"""Owner account actions (management B.1): info, edit, list, password reset and change,
delete, suspend and unsuspend.

Every change writes its audit entry in the same transaction (the caller passes its `Actor`;
the CLI's is `CLI_ACTOR`). Passwords are hashed before the transaction opens, so no write lock
is held during argon2id.
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from licentia.services import audit
from licentia.services.admin_apps import set_owner_status
from licentia.services.admin_common import (
    AdminError,
    check_email,
    check_length,
    check_stored_content,
    invalid,
    not_found,
    parse_bool,
    trim,
)
from licentia.services.audit import CLI_ACTOR, Actor
from licentia.services.runtime import Runtime
from licentia.store.tables import accounts, apps, audit_log, dashboard_sessions

MAX_PASSWORD = 256
GENERATED_PASSWORD_LENGTH = 20
_PASSWORD_ALPHABET = string.ascii_letters + string.digits
#: Fields `edit` accepts.
EDITABLE = ("email", "plan_label", "compat_initial_password")


@dataclass(frozen=True)
class AccountInfo:
    id: str
    owner_id: str
    public_id: str
    username: str
    email: str
    status: str
    plan_label: str
    compat_initial_password: bool
    two_factor: bool
    is_operator: bool
    created_at: datetime
    last_login_at: datetime | None
    last_login_ip: str | None
    apps: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "owner_id": self.owner_id,
            "public_id": self.public_id,
            "username": self.username,
            "email": self.email,
            "status": self.status,
            "plan_label": self.plan_label,
            "compat_initial_password": self.compat_initial_password,
            "two_factor": self.two_factor,
            "is_operator": self.is_operator,
            "created_at": self.created_at,
            "last_login_at": self.last_login_at,
            "last_login_ip": self.last_login_ip,
            "apps": self.apps,
        }


def _info(row: Row[Any], app_count: int) -> AccountInfo:
    return AccountInfo(
        id=row.id,
        owner_id=row.owner_id,
        public_id=row.public_id,
        username=row.username,
        email=row.email,
        status=row.status,
        plan_label=row.plan_label,
        compat_initial_password=bool(row.compat_initial_password),
        two_factor=row.totp_secret_enc is not None,
        is_operator=bool(row.is_operator),
        created_at=row.created_at,
        last_login_at=row.last_login_at,
        last_login_ip=row.last_login_ip,
        apps=app_count,
    )


async def _owner(conn: AsyncConnection, owner_id: str) -> Row[Any]:
    text = trim(str(owner_id))
    row = (
        await conn.execute(
            select(accounts).where(accounts.c.owner_id == text, accounts.c.owner_id.is_not(None))
        )
    ).first()
    if row is None:
        raise not_found("owner", f"no owner with owner id {owner_id!r}")
    return row


async def _app_count(conn: AsyncConnection, account_id: str) -> int:
    return int(
        (
            await conn.execute(
                select(func.count()).select_from(apps).where(apps.c.owner_account_id == account_id)
            )
        ).scalar_one()
    )


async def account_info(rt: Runtime, owner_id: str) -> AccountInfo:
    """The owner's account (no password hash, no TOTP secret)."""
    async with rt.db.read() as conn:
        row = await _owner(conn, owner_id)
        return _info(row, await _app_count(conn, row.id))


async def list_owners(
    rt: Runtime, *, search: str | None = None, status: str | None = None
) -> list[AccountInfo]:
    """Every owner account, by username (operator). `search` matches username or email."""
    query = select(accounts).where(accounts.c.owner_id.is_not(None))
    if status:
        wanted = status.strip().lower()
        if wanted not in ("active", "suspended"):
            raise invalid("status", "status must be active or suspended")
        query = query.where(accounts.c.status == wanted)
    if search:
        needle = search.strip().lower()
        query = query.where(
            accounts.c.username_norm.contains(needle, autoescape=True)
            | func.lower(accounts.c.email).contains(needle, autoescape=True)
        )
    async with rt.db.read() as conn:
        rows = (await conn.execute(query.order_by(accounts.c.username_norm))).all()
        counts = {
            r.owner_account_id: int(r.n)
            for r in (
                await conn.execute(
                    select(apps.c.owner_account_id, func.count().label("n")).group_by(
                        apps.c.owner_account_id
                    )
                )
            ).all()
        }
    return [_info(row, counts.get(row.id, 0)) for row in rows]


def _edit_values(changes: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise invalid(unknown[0], f"{unknown[0]} cannot be edited; editable: {', '.join(EDITABLE)}")
    if not changes:
        raise AdminError(
            "MISSING_FIELDS", f"give at least one of {', '.join(EDITABLE)}", list(EDITABLE)
        )
    values: dict[str, Any] = {}
    if "email" in changes:
        values["email"] = check_email(str(changes["email"] or ""))
    if "plan_label" in changes:
        label = trim(str(changes["plan_label"] or ""))
        check_length(label, "plan_label", low=1, high=64)
        check_stored_content(label, "plan_label")
        values["plan_label"] = label
    if "compat_initial_password" in changes:
        values["compat_initial_password"] = parse_bool(
            changes["compat_initial_password"], "compat_initial_password"
        )
    return values


async def edit_account(
    rt: Runtime, owner_id: str, changes: dict[str, Any], *, actor: Actor = CLI_ACTOR
) -> AccountInfo:
    """Change email, plan label or the compat initial-password rule; unchanged values are
    not written (and an edit that changes nothing writes no audit entry)."""
    values = _edit_values(dict(changes))
    async with rt.db.write() as conn:
        row = await _owner(conn, owner_id)
        diff = {k: [getattr(row, k), v] for k, v in values.items() if getattr(row, k) != v}
        if diff:
            await conn.execute(
                update(accounts)
                .where(accounts.c.id == row.id)
                .values({k: v[1] for k, v in diff.items()})
            )
            await audit.record_as(
                conn,
                actor,
                now=rt.clock(),
                owner_account_id=row.id,
                capability="owner.edit",
                target_type="owner",
                target=row.owner_id,
                changes=diff,
            )
            row = await _owner(conn, owner_id)
        return _info(row, await _app_count(conn, row.id))


def _check_password(password: str, field: str) -> str:
    if not isinstance(password, str) or not 1 <= len(password) <= MAX_PASSWORD:
        raise invalid(field, f"{field} must be 1 to {MAX_PASSWORD} characters")
    return password


async def _store_password(
    rt: Runtime,
    conn: AsyncConnection,
    row: Row[Any],
    password_hash: str,
    capability: str,
    actor: Actor,
) -> None:
    await conn.execute(
        update(accounts)
        .where(accounts.c.id == row.id)
        .values(
            password_hash=password_hash,
            must_change_password=False,
            temporary_password_expires_at=None,
        )
    )
    # Dashboard sign-ins made with the old password end with it.
    await conn.execute(delete(dashboard_sessions).where(dashboard_sessions.c.account_id == row.id))
    await audit.record_as(
        conn,
        actor,
        now=rt.clock(),
        owner_account_id=row.id,
        capability=capability,
        target_type="owner",
        target=row.owner_id,
        changes={"password": ["", "changed"]},
    )


async def reset_password(
    rt: Runtime, owner_id: str, new_password: str | None = None, *, actor: Actor = CLI_ACTOR
) -> str | None:
    """Set a new password (operator / CLI); without one a random password is drawn and
    returned (shown once). Ends the owner's dashboard sessions."""
    generated = None
    if new_password is None:
        generated = "".join(
            secrets.choice(_PASSWORD_ALPHABET) for _ in range(GENERATED_PASSWORD_LENGTH)
        )
    password = _check_password(generated or str(new_password), "password")
    async with rt.db.read() as conn:
        await _owner(conn, owner_id)  # unknown owner: refuse before hashing
    password_hash = await rt.passwords.hash(password)
    async with rt.db.write() as conn:
        row = await _owner(conn, owner_id)
        await _store_password(rt, conn, row, password_hash, "owner.reset_password", actor)
    return generated


async def change_password(
    rt: Runtime,
    owner_id: str,
    current_password: str,
    new_password: str,
    *,
    actor: Actor = CLI_ACTOR,
) -> None:
    """The owner's own change: the current password must match (422 INVALID_PASSWORD)."""
    _check_password(new_password, "new_password")
    if not isinstance(current_password, str) or len(current_password) > MAX_PASSWORD:
        raise invalid("current_password", "current_password is invalid")
    async with rt.db.read() as conn:
        row = await _owner(conn, owner_id)
    if not await rt.passwords.verify(row.password_hash, current_password):
        raise AdminError("INVALID_PASSWORD", "the current password is wrong", ["current_password"])
    password_hash = await rt.passwords.hash(new_password)
    async with rt.db.write() as conn:
        fresh = await _owner(conn, owner_id)
        if fresh.password_hash != row.password_hash:  # changed meanwhile: check again
            raise AdminError(
                "INVALID_PASSWORD", "the current password is wrong", ["current_password"]
            )
        await _store_password(rt, conn, fresh, password_hash, "owner.change_password", actor)


async def set_status(
    rt: Runtime, owner_id: str, status: str, *, actor: Actor = CLI_ACTOR
) -> AccountInfo:
    """Suspend (`suspended`) or reactivate (`active`); idempotent, audited when it changes."""
    async with rt.db.write() as conn:
        before = await _owner(conn, owner_id)
        owner = await set_owner_status(rt, owner_id, status)
        if owner.status != before.status:
            await audit.record_as(
                conn,
                actor,
                now=rt.clock(),
                owner_account_id=before.id,
                capability="owner.suspend" if owner.status == "suspended" else "owner.unsuspend",
                target_type="owner",
                target=before.owner_id,
                changes={"status": [before.status, owner.status]},
            )
        row = await _owner(conn, owner_id)
        return _info(row, await _app_count(conn, row.id))


async def delete_owner(
    rt: Runtime, owner_id: str, *, confirm: str, actor: Actor = CLI_ACTOR
) -> AccountInfo:
    """Delete the owner and, with it, every app (and everything in them), token and Elite Key.

    `confirm` must repeat the owner id: a mistyped id never deletes another account.
    """
    if trim(str(confirm)) != trim(str(owner_id)):
        raise invalid("confirm", "to delete an owner, repeat its owner id as confirmation")
    async with rt.db.write() as conn:
        row = await _owner(conn, owner_id)
        info = _info(row, await _app_count(conn, row.id))
        # Apps first: their rows cascade to everything that hangs off them.
        await conn.execute(delete(apps).where(apps.c.owner_account_id == row.id))
        await conn.execute(delete(accounts).where(accounts.c.id == row.id))
        await audit.record_as(
            conn,
            actor,
            now=rt.clock(),
            owner_account_id=row.id,
            capability="owner.delete",
            target_type="owner",
            target=row.owner_id,
            changes={"username": [row.username, None], "apps": [info.apps, 0]},
        )
    return info


async def elite_calls(
    rt: Runtime, owner_id: str, *, cursor: str | None = None, limit: int = 50
) -> tuple[list[audit.AuditEntry], str | None]:
    """Recent Elite Key calls of the owner (B.2 "view recent calls"), refused ones included,
    newest first, from the audit log; the cursor is the last entry's id."""
    if isinstance(limit, bool) or not 1 <= limit <= audit.MAX_LIMIT:
        raise invalid("limit", f"limit must be between 1 and {audit.MAX_LIMIT}")
    after: int | None = None
    if cursor:
        text = cursor.strip()
        if not text.isdigit() or len(text) > 18:
            raise invalid("cursor", "cursor must be a value returned as next_cursor")
        after = int(text)
    async with rt.db.read() as conn:
        row = await _owner(conn, owner_id)
        query = select(audit_log).where(
            audit_log.c.owner_account_id == row.id, audit_log.c.face == "elite-key"
        )
        if after is not None:
            query = query.where(audit_log.c.id < after)
        rows = (await conn.execute(query.order_by(audit_log.c.id.desc()).limit(limit + 1))).all()
    entries = [audit._entry(r) for r in rows[:limit]]
    return entries, (str(entries[-1].id) if len(rows) > limit else None)
