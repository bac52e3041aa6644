"""Management credentials: API tokens (management B.1) and the Elite Key (A.2, A.4, B.2).

Secrets leave once. A token or Elite Key is shown when it is created; the server keeps only
`HMAC-SHA256(lookup_key, secret)` in hex, where the lookup key is an HKDF subkey of the master
key (`lookup_key`). Authentication recomputes the digest and finds the row by an exact,
indexed match; the digests are then compared again in constant time.

Terms:

* **capability**: `name.action` (`license.ban`), `name` one of `RESOURCES` (B.0).
* **scope** of an API token: a capability, or a shorthand `name:read` / `name:write` covering
  every reading / every changing action of that resource (`READ_ACTIONS` decides which is
  which). `name:write` does not imply `name:read`.
* **app limit** of a token: `None` (every app of the owner) or a list of app ids. An
  app-limited token may still use account-level reading actions (the face filters the result
  to its apps) but no account-level changing action.
* **Elite Key settings**: one row per owner holding the key digest (absent until the first
  `rotate`, and again after `delete`), the disabled capabilities and four IP/domain lists.

Every change writes an audit entry (`services.audit`) in its own transaction; a refused call
changes nothing and returns an `AdminError`. Idempotent repeats (revoking a revoked token,
adding a present rule) succeed without a change and without an entry.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import re
import secrets
import string
import weakref
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from licentia.crypto.secretbox import SecretBox
from licentia.services import audit
from licentia.services.admin_common import (
    AdminError,
    as_utc,
    check_length,
    check_stored_content,
    invalid,
    not_found,
    trim,
)
from licentia.services.audit import CLI_ACTOR, Actor
from licentia.services.runtime import Runtime
from licentia.store.tables import accounts, api_tokens, apps, elite_keys
from licentia.store.types import new_id

LOOKUP_INFO = b"licentia token lookup"
TOKEN_PREFIX = "lic_"  # noqa: S105 - the public format marker, not a secret
TOKEN_BODY = 40
ELITE_PREFIX = "ek_"
ELITE_BODY = 43  # 32 random bytes as base64url without padding
DISPLAY_PREFIX = 8
_ALNUM = string.ascii_letters + string.digits
_TOKEN_FORMAT = re.compile(rf"{TOKEN_PREFIX}[A-Za-z0-9]{{{TOKEN_BODY}}}")
_ELITE_FORMAT = re.compile(rf"{ELITE_PREFIX}[A-Za-z0-9_-]{{{ELITE_BODY}}}")
#: last_used_at / last_used_ip are written at most this often per credential.
TOUCH_INTERVAL = timedelta(seconds=60)

#: Resource names of management B.0: capability prefixes and CLI command groups.
RESOURCES = frozenset(
    {
        "owner",
        "token",
        "elite-key",
        "signing-key",
        "app",
        "subscription",
        "license",
        "user",
        "binding",
        "device",
        "variable",
        "channel",
        "log",
        "session",
        "version",
        "hash",
        "rule",
        "response",
        "role",
        "staff",
        "rate-plan",
        "reseller",
        "audit",
        "portal",
        "webhook",
    }
)

#: Actions that only read. Every other action of a resource is a changing one (`:write`).
READ_ACTIONS = frozenset(
    {
        "list",
        "info",
        "get",
        "show",
        "view",
        "export",
        "usage",
        "check",
        "test",
        "search",
        "stats",
        "messages",
        "mutes",
        "list_sessions",
        "roles",
        "rate_plans",
        "list_resets",
        "verify_password",
        "balance",
        "ledger",
        "products",
    }
)

#: Elite Key functions and actions (management A.7): what `disabled_capabilities` may hold.
#: `ping` is missing on purpose: it cannot be disabled (A.4 step 6).
ELITE_CAPABILITIES = frozenset(
    f"{function}.{action}"
    for function, actions in {
        "app": "list info usage edit",
        "subscription": "list create edit delete",
        "license": "add generate info edit delete ban unban pause unpause extend shorten "
        "reset_hwid",
        "user": "generate info edit delete ban unban pause unpause extend shorten "
        "reset_password verify_password reset_hwid",
        "device": "create list info edit delete reset ban pause unban unpause extend shorten",
        "variable": "list get set delete",
        "version": "add edit remove list settings",
        "response": "set reset list",
        "hash": "register list remove",
        "staff": "roles add edit ban unban list remove",
        "reseller": "rate_plans add edit ban unban coins list",
        "webhook": "list add remove test",
    }.items()
    for action in actions.split()
)

RULE_LISTS = ("ip_allow", "ip_deny", "domain_allow", "domain_deny")
MAX_RULES = 500
MAX_SCOPES = 200
_ACTION = re.compile(r"[a-z][a-z0-9_]{0,47}")
_HOST_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")


# -- keyed digests -----------------------------------------------------------------------

_lookup_keys: weakref.WeakKeyDictionary[SecretBox, bytes] = weakref.WeakKeyDictionary()


def lookup_key(box: SecretBox) -> bytes:
    """The HMAC key for credential digests: HKDF-SHA256(master key, info=LOOKUP_INFO)."""
    key = _lookup_keys.get(box)
    if key is None:
        key = box.derive(LOOKUP_INFO)
        _lookup_keys[box] = key
    return key


def secret_digest(box: SecretBox, plaintext: str) -> str:
    """HMAC-SHA256 hex of a token or Elite Key: the only form the database holds."""
    return hmac.new(lookup_key(box), plaintext.encode("utf-8"), hashlib.sha256).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + "".join(secrets.choice(_ALNUM) for _ in range(TOKEN_BODY))


def new_elite_key() -> str:
    return ELITE_PREFIX + secrets.token_urlsafe(32)


# -- capabilities and scopes -------------------------------------------------------------


def is_read_action(action: str) -> bool:
    return action in READ_ACTIONS


def split_capability(capability: str) -> tuple[str, str] | None:
    """(resource, action) of a well-formed capability name, else None."""
    resource, dot, action = capability.partition(".")
    if not dot or resource not in RESOURCES or not _ACTION.fullmatch(action):
        return None
    return resource, action


def normalize_scope(scope: str) -> str:
    """A scope in canonical (lower-case) form; INVALID_INPUT when it is not one."""
    text = trim(str(scope)).lower()
    resource, colon, kind = text.partition(":")
    if colon:
        if resource in RESOURCES and kind in ("read", "write"):
            return text
    elif split_capability(text) is not None:
        return text
    raise invalid(
        "scopes",
        f"unknown scope {scope!r}: use name.action or name:read / name:write with a "
        "resource name of the management API (license, user, app, ...)",
    )


def _normalize_scopes(scopes: Iterable[str]) -> list[str]:
    if isinstance(scopes, str):
        raise invalid("scopes", "scopes must be a list")
    out: list[str] = []
    for scope in scopes:
        name = normalize_scope(scope)
        if name not in out:
            out.append(name)
    if not out:
        raise invalid("scopes", "give at least one scope")
    if len(out) > MAX_SCOPES:
        raise invalid("scopes", f"at most {MAX_SCOPES} scopes")
    return out


# -- owners ------------------------------------------------------------------------------


async def _owner_row(conn: AsyncConnection, owner_id: str, *, lock: bool = False) -> Row[Any]:
    query = select(accounts).where(accounts.c.owner_id == trim(str(owner_id)))
    if lock:  # serializes first-time inserts of an owner's Elite Key row (PostgreSQL)
        query = query.with_for_update()
    row = (await conn.execute(query)).first()
    if row is None:
        raise not_found("owner", f"no owner with owner id {owner_id!r}")
    return row


# -- API tokens --------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenInfo:
    """An API token as listed: everything but the secret."""

    id: str
    owner_id: str
    name: str
    prefix: str
    scopes: list[str]
    app_ids: list[str] | None  # None = every app
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None
    #: The account the token belongs to: the owner's, or a staff member's / reseller's.
    account_id: str = ""

    def status(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "prefix": self.prefix,
            "scopes": list(self.scopes),
            "apps": None if self.app_ids is None else list(self.app_ids),
            "created_at": self.created_at,
            "last_used_at": self.last_used_at,
            "expires_at": self.expires_at,
            "revoked_at": self.revoked_at,
        }


@dataclass(frozen=True)
class TokenPrincipal:
    """Who a valid API token speaks for. `account_id` is the account it belongs to;
    `owner_account_id` owns the objects it reaches (the same account for an owner's token, the
    owner a staff member or reseller works for otherwise: `api_tokens.owner_account_id`).
    What it may do is its scopes intersected with that account's rights for the owner
    (`services.principals`), which the faces check on every call."""

    token_id: str
    name: str
    account_id: str
    owner_account_id: str
    owner_id: str
    owner_status: str
    scopes: frozenset[str]
    app_ids: frozenset[str] | None  # None = every app
    account_status: str = "active"

    @property
    def is_owner_token(self) -> bool:
        return self.account_id == self.owner_account_id

    def actor(self, *, ip: str = "", request_id: str = "") -> Actor:
        return Actor(kind="token", name=self.token_id, face="rest", ip=ip, request_id=request_id)


def _token_info(row: Row[Any], owner_id: str) -> TokenInfo:
    return TokenInfo(
        id=row.id,
        owner_id=owner_id,
        name=row.name,
        prefix=row.prefix,
        scopes=list(json.loads(row.scopes)),
        app_ids=None if row.app_ids is None else list(json.loads(row.app_ids)),
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        account_id=row.account_id,
    )


def _check_token_name(name: str) -> str:
    text = trim(str(name))
    check_length(text, "name", low=1, high=64)
    check_stored_content(text, "name")
    return text


async def _owned_app_ids(
    conn: AsyncConnection, account_id: str, app_ids: Sequence[str]
) -> list[str]:
    if isinstance(app_ids, str):
        raise invalid("apps", "apps must be a list of app ids")
    wanted: list[str] = []
    for app_id in app_ids:
        text = trim(str(app_id))
        if text and text not in wanted:
            wanted.append(text)
    if not wanted:
        raise invalid("apps", "give at least one app id, or none to allow every app")
    found = {
        r.id
        for r in (
            await conn.execute(
                select(apps.c.id).where(
                    and_(apps.c.owner_account_id == account_id, apps.c.id.in_(wanted))
                )
            )
        ).all()
    }
    missing = [a for a in wanted if a not in found]
    if missing:
        # Another owner's app looks exactly like one that does not exist (B.0 isolation).
        raise AdminError("APP_NOT_FOUND", f"no app with id {missing[0]!r}", ["apps"])
    return wanted


async def _member_for_token(
    conn: AsyncConnection,
    owner_account_id: str,
    account: str,
    scopes: Sequence[str],
    app_ids: Sequence[str] | None,
) -> str:
    """The id of the staff member's or reseller's account a token is made for, after checking
    that its scopes and apps stay within that account's rights (B.1)."""
    from licentia.services import principals  # principals reads this module's scope rules

    text = trim(str(account))
    row = (
        await conn.execute(
            select(accounts.c.id).where(
                or_(accounts.c.public_id == text, accounts.c.username_norm == text.casefold())
            )
        )
    ).first()
    if row is None:
        raise AdminError("ACCOUNT_NOT_FOUND", f"no account {account!r}", ["account"])
    rights = await principals.rights_in(conn, row.id, owner_account_id)
    if not rights.has_any:
        raise AdminError(
            "PERMISSION_DENIED",
            f"{account!r} is not an active staff member or reseller of this owner",
            ["account"],
        )
    for scope in scopes:
        if not rights.grants_scope(scope):
            raise AdminError(
                "PERMISSION_DENIED", f"the scope {scope!r} exceeds the rights of {account!r}"
            )
    if app_ids is not None and not rights.is_owner:
        for app_id in app_ids:
            aid = trim(str(app_id))
            reseller = rights.active_reseller
            in_reseller = reseller is not None and aid in reseller.app_ids
            if not rights.app_visible(aid) and not in_reseller:
                raise AdminError("APP_NOT_FOUND", f"no app with id {aid!r}", ["apps"])
    return str(row.id)


async def create_token(
    rt: Runtime,
    owner_id: str,
    name: str,
    scopes: Sequence[str],
    app_ids: Sequence[str] | None = None,
    expires_at: datetime | None = None,
    *,
    actor: Actor = CLI_ACTOR,
    account: str | None = None,
) -> tuple[TokenInfo, str]:
    """Create an API token for the owner; returns its info and the plaintext (shown once).

    `account` (a username or public id) makes it the token of a staff member or reseller of
    this owner instead: it reaches the owner's objects, and no scope or app may exceed that
    account's rights (PERMISSION_DENIED; an app outside its scope is APP_NOT_FOUND). The
    rights are checked again on every call, so a later role change or ban narrows the token.
    """
    token_name = _check_token_name(name)
    scope_list = _normalize_scopes(scopes)
    now = rt.clock()
    expiry = as_utc(expires_at) if expires_at is not None else None
    if expiry is not None and expiry <= now:
        raise invalid("expires_at", "expires_at must be in the future")
    plaintext = new_token()
    async with rt.db.write() as conn:
        owner = await _owner_row(conn, owner_id)
        holder_id = owner.id
        if account is not None:
            holder_id = await _member_for_token(conn, owner.id, account, scope_list, app_ids)
        app_list = None if app_ids is None else await _owned_app_ids(conn, owner.id, app_ids)
        token_id = new_id()
        await conn.execute(
            api_tokens.insert().values(
                id=token_id,
                account_id=holder_id,
                owner_account_id=None if holder_id == owner.id else owner.id,
                name=token_name,
                prefix=plaintext[:DISPLAY_PREFIX],
                digest=secret_digest(rt.box, plaintext),
                scopes=json.dumps(scope_list),
                app_ids=None if app_list is None else json.dumps(app_list),
                created_at=now,
                expires_at=expiry,
            )
        )
        await audit.record_as(
            conn,
            actor,
            now=now,
            owner_account_id=owner.id,
            capability="token.create",
            target_type="token",
            target=token_id,
            changes={
                "name": [None, token_name],
                "account": [None, holder_id],
                "scopes": [None, scope_list],
                "apps": [None, app_list],
                "expires_at": [None, expiry],
            },
        )
    info = TokenInfo(
        id=token_id,
        owner_id=owner.owner_id,
        name=token_name,
        prefix=plaintext[:DISPLAY_PREFIX],
        scopes=scope_list,
        app_ids=app_list,
        created_at=now,
        last_used_at=None,
        expires_at=expiry,
        revoked_at=None,
    )
    return info, plaintext


def _of_owner(owner_account_id: str) -> Any:
    """The owner's own tokens and those of its staff members and resellers."""
    return or_(
        and_(
            api_tokens.c.account_id == owner_account_id,
            api_tokens.c.owner_account_id.is_(None),
        ),
        api_tokens.c.owner_account_id == owner_account_id,
    )


async def list_tokens(
    rt: Runtime, owner_id: str, *, holder_account_id: str | None = None
) -> list[TokenInfo]:
    """The owner's tokens (revoked and expired ones included), newest first. No secrets.
    `holder_account_id`: only that account's tokens (a staff member or reseller sees its own)."""
    async with rt.db.read() as conn:
        owner = await _owner_row(conn, owner_id)
        clause = _of_owner(owner.id)
        if holder_account_id is not None:
            clause = and_(clause, api_tokens.c.account_id == holder_account_id)
        rows = (
            await conn.execute(
                select(api_tokens)
                .where(clause)
                .order_by(api_tokens.c.created_at.desc(), api_tokens.c.id)
            )
        ).all()
    return [_token_info(r, owner.owner_id) for r in rows]


async def revoke_token(
    rt: Runtime,
    owner_id: str,
    token_id: str,
    *,
    actor: Actor = CLI_ACTOR,
    holder_account_id: str | None = None,
) -> TokenInfo:
    """Revoke one of the owner's tokens at once; revoking a revoked token changes nothing.
    Another owner's token answers TOKEN_NOT_FOUND, as if it did not exist; so does, with
    `holder_account_id` (a staff member or reseller revoking), a token not of that account."""
    now = rt.clock()
    async with rt.db.write() as conn:
        owner = await _owner_row(conn, owner_id)
        clause = and_(api_tokens.c.id == trim(str(token_id)), _of_owner(owner.id))
        if holder_account_id is not None:
            clause = and_(clause, api_tokens.c.account_id == holder_account_id)
        row = (await conn.execute(select(api_tokens).where(clause))).first()
        if row is None:
            raise not_found("token", f"no token with id {token_id!r}")
        info = _token_info(row, owner.owner_id)
        if row.revoked_at is not None:
            return info
        await conn.execute(
            update(api_tokens).where(api_tokens.c.id == row.id).values(revoked_at=now)
        )
        await audit.record_as(
            conn,
            actor,
            now=now,
            owner_account_id=owner.id,
            capability="token.revoke",
            target_type="token",
            target=row.id,
            changes={"revoked_at": [None, now]},
        )
    return replace(info, revoked_at=now)


async def authenticate_token(rt: Runtime, plaintext: str) -> TokenPrincipal | None:
    """The principal of a valid token; None when it is malformed, unknown, revoked or
    expired. Marks the token used (at most once per TOUCH_INTERVAL)."""
    if not isinstance(plaintext, str) or not _TOKEN_FORMAT.fullmatch(plaintext):
        return None
    digest = secret_digest(rt.box, plaintext)
    now = rt.clock()
    owner = accounts.alias("owner")
    member = accounts.alias("member")
    owner_col = func.coalesce(api_tokens.c.owner_account_id, api_tokens.c.account_id)
    async with rt.db.read() as conn:
        row = (
            await conn.execute(
                select(
                    api_tokens,
                    owner_col.label("owner_of"),
                    owner.c.owner_id,
                    owner.c.status,
                    member.c.status.label("account_status"),
                )
                .join(owner, owner.c.id == owner_col)
                .join(member, member.c.id == api_tokens.c.account_id)
                .where(api_tokens.c.digest == digest)
            )
        ).first()
    if row is None or not hmac.compare_digest(row.digest, digest):
        return None
    if row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= now):
        return None
    if row.last_used_at is None or now - row.last_used_at >= TOUCH_INTERVAL:
        async with rt.db.write() as conn:
            await conn.execute(
                update(api_tokens).where(api_tokens.c.id == row.id).values(last_used_at=now)
            )
    return TokenPrincipal(
        token_id=row.id,
        name=row.name,
        account_id=row.account_id,
        owner_account_id=row.owner_of,
        owner_id=row.owner_id,
        owner_status=row.status,
        scopes=frozenset(json.loads(row.scopes)),
        app_ids=None if row.app_ids is None else frozenset(json.loads(row.app_ids)),
        account_status=row.account_status,
    )


def scope_allows(scopes: Iterable[str], capability: str) -> bool:
    """Whether a set of scopes grants a capability (exact name, or the resource shorthand)."""
    parts = split_capability(capability)
    if parts is None:
        return False
    resource, action = parts
    granted = set(scopes)
    shorthand = f"{resource}:read" if is_read_action(action) else f"{resource}:write"
    return capability in granted or shorthand in granted


def token_allows(principal: TokenPrincipal, capability: str, app_id: str | None) -> bool:
    """Whether the token may perform `capability` on `app_id` (None: an account-level call).

    Both must hold: a scope grants the capability, and the app is within the token's app
    limit. An app-limited token may make account-level reading calls only.
    """
    if not scope_allows(principal.scopes, capability):
        return False
    if principal.app_ids is None:
        return True
    if app_id is None:
        return is_read_action(capability.partition(".")[2])
    return app_id in principal.app_ids


# -- the Elite Key -----------------------------------------------------------------------


@dataclass(frozen=True)
class EliteSettings:
    """An owner's Elite Key settings; never the key (only whether there is one)."""

    owner_id: str
    has_key: bool
    prefix: str | None
    created_at: datetime | None
    last_used_at: datetime | None
    last_used_ip: str | None
    disabled_capabilities: list[str]
    ip_allow: list[str]
    ip_deny: list[str]
    domain_allow: list[str]
    domain_deny: list[str]

    def rules(self, list_name: str) -> list[str]:
        return list(getattr(self, list_name))

    def as_dict(self) -> dict[str, Any]:
        return {
            "owner_id": self.owner_id,
            "has_key": self.has_key,
            "prefix": self.prefix,
            "created_at": self.created_at,
            "last_used_at": self.last_used_at,
            "last_used_ip": self.last_used_ip,
            "disabled_capabilities": list(self.disabled_capabilities),
            "ip_allow": list(self.ip_allow),
            "ip_deny": list(self.ip_deny),
            "domain_allow": list(self.domain_allow),
            "domain_deny": list(self.domain_deny),
        }


@dataclass(frozen=True)
class ElitePrincipal:
    """The owner a valid Elite Key belongs to, with its settings (for A.4 steps 2 to 6)."""

    account_id: str
    owner_id: str
    owner_status: str
    settings: EliteSettings

    @property
    def suspended(self) -> bool:
        return self.owner_status == "suspended"


def _elite_settings(owner_id: str, row: Row[Any] | None) -> EliteSettings:
    if row is None:
        return EliteSettings(owner_id, False, None, None, None, None, [], [], [], [], [])
    return EliteSettings(
        owner_id=owner_id,
        has_key=row.digest is not None,
        prefix=row.prefix,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        last_used_ip=row.last_used_ip,
        disabled_capabilities=list(json.loads(row.disabled_capabilities)),
        ip_allow=list(json.loads(row.ip_allow)),
        ip_deny=list(json.loads(row.ip_deny)),
        domain_allow=list(json.loads(row.domain_allow)),
        domain_deny=list(json.loads(row.domain_deny)),
    )


async def _elite_row(conn: AsyncConnection, account_id: str) -> Row[Any] | None:
    return (
        await conn.execute(select(elite_keys).where(elite_keys.c.owner_account_id == account_id))
    ).first()


async def _ensure_elite_row(conn: AsyncConnection, account_id: str) -> Row[Any]:
    row = await _elite_row(conn, account_id)
    if row is None:
        await conn.execute(elite_keys.insert().values(owner_account_id=account_id))
        row = await _elite_row(conn, account_id)
        assert row is not None
    return row


async def _audit_elite(
    conn: AsyncConnection,
    rt: Runtime,
    actor: Actor,
    owner: Row[Any],
    action: str,
    changes: dict[str, Any],
) -> None:
    await audit.record_as(
        conn,
        actor,
        now=rt.clock(),
        owner_account_id=owner.id,
        capability=f"elite-key.{action}",
        target_type="elite-key",
        target=owner.owner_id,
        changes=changes,
    )


async def get_elite_settings(rt: Runtime, owner_id: str) -> EliteSettings:
    async with rt.db.read() as conn:
        owner = await _owner_row(conn, owner_id)
        return _elite_settings(owner.owner_id, await _elite_row(conn, owner.id))


async def rotate_elite_key(rt: Runtime, owner_id: str, *, actor: Actor = CLI_ACTOR) -> str:
    """Create the owner's Elite Key, or replace it (the old one stops working at once).
    Returns the plaintext, shown once."""
    plaintext = new_elite_key()
    now = rt.clock()
    async with rt.db.write() as conn:
        owner = await _owner_row(conn, owner_id, lock=True)
        row = await _ensure_elite_row(conn, owner.id)
        await conn.execute(
            update(elite_keys)
            .where(elite_keys.c.owner_account_id == owner.id)
            .values(
                digest=secret_digest(rt.box, plaintext),
                prefix=plaintext[:DISPLAY_PREFIX],
                created_at=now,
                last_used_at=None,
                last_used_ip=None,
            )
        )
        await _audit_elite(
            conn, rt, actor, owner, "rotate", {"elite_key": [row.digest is not None, True]}
        )
    return plaintext


async def delete_elite_key(rt: Runtime, owner_id: str, *, actor: Actor = CLI_ACTOR) -> bool:
    """Remove the owner's key (calls then fail with 401); the settings stay. Returns whether
    there was a key."""
    async with rt.db.write() as conn:
        owner = await _owner_row(conn, owner_id, lock=True)
        row = await _elite_row(conn, owner.id)
        if row is None or row.digest is None:
            return False
        await conn.execute(
            update(elite_keys)
            .where(elite_keys.c.owner_account_id == owner.id)
            .values(digest=None, prefix=None, created_at=None)
        )
        await _audit_elite(conn, rt, actor, owner, "delete", {"elite_key": [True, False]})
    return True


def _normalize_capabilities(capabilities: Iterable[str]) -> list[str]:
    if isinstance(capabilities, str):
        raise invalid("capabilities", "capabilities must be a list")
    out: list[str] = []
    for cap in capabilities:
        name = trim(str(cap)).lower()
        if name.startswith("ping"):
            raise invalid("capabilities", "ping cannot be disabled")
        if name not in ELITE_CAPABILITIES:
            raise invalid(
                "capabilities",
                f"unknown Elite Key capability {cap!r}: use function.action (license.ban, ...)",
            )
        if name not in out:
            out.append(name)
    return sorted(out)


async def _write_capabilities(
    rt: Runtime, owner_id: str, actor: Actor, compute: Callable[[list[str]], Iterable[str]]
) -> EliteSettings:
    async with rt.db.write() as conn:
        owner = await _owner_row(conn, owner_id, lock=True)
        row = await _ensure_elite_row(conn, owner.id)
        before = sorted(json.loads(row.disabled_capabilities))
        after = sorted(compute(before))
        if after != before:
            await conn.execute(
                update(elite_keys)
                .where(elite_keys.c.owner_account_id == owner.id)
                .values(disabled_capabilities=json.dumps(after))
            )
            await _audit_elite(
                conn,
                rt,
                actor,
                owner,
                "set_capabilities",
                {"disabled_capabilities": [before, after]},
            )
        return _elite_settings(owner.owner_id, await _elite_row(conn, owner.id))


async def set_elite_capabilities(
    rt: Runtime, owner_id: str, disabled: Sequence[str], *, actor: Actor = CLI_ACTOR
) -> EliteSettings:
    """Replace the list of disabled Elite Key capabilities (`function.action` of A.7)."""
    wanted = _normalize_capabilities(disabled)
    return await _write_capabilities(rt, owner_id, actor, lambda _before: wanted)


async def update_elite_capabilities(
    rt: Runtime,
    owner_id: str,
    *,
    disable: Sequence[str] = (),
    enable: Sequence[str] = (),
    actor: Actor = CLI_ACTOR,
) -> EliteSettings:
    """Disable some capabilities and enable others, keeping the rest as they are."""
    off = set(_normalize_capabilities(disable))
    on = set(_normalize_capabilities(enable))
    if off & on:
        raise AdminError(
            "INVALID_INPUT", "a capability cannot be enabled and disabled at once", ["enable"]
        )
    return await _write_capabilities(rt, owner_id, actor, lambda before: (set(before) | off) - on)


def normalize_ip_rule(value: str) -> str:
    """A single IP or a CIDR range in canonical form (host bits of a range are cleared)."""
    text = trim(str(value))
    try:
        if "/" in text:
            return str(ipaddress.ip_network(text, strict=False))
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise invalid("value", f"{value!r} is not an IP address or CIDR range") from None


def normalize_domain_rule(value: str) -> str:
    """A host name, lower-case (IDNs as punycode), optionally `*.`-prefixed for subdomains."""
    text = trim(str(value)).lower().rstrip(".")
    wildcard = text.startswith("*.")
    host = text[2:] if wildcard else text
    try:
        ascii_host = host.encode("idna").decode("ascii") if host else ""
    except UnicodeError:
        ascii_host = ""
    labels = ascii_host.split(".")
    if (
        not ascii_host
        or len(ascii_host) > 253
        or not all(_HOST_LABEL.fullmatch(label) for label in labels)
    ):
        raise invalid("value", f"{value!r} is not a host name (optionally starting with *.)")
    return ("*." if wildcard else "") + ascii_host


def _normalize_rule(list_name: str, value: str) -> str:
    if list_name not in RULE_LISTS:
        raise invalid("list", f"list must be one of {', '.join(RULE_LISTS)}")
    if list_name.startswith("ip_"):
        return normalize_ip_rule(value)
    return normalize_domain_rule(value)


async def add_elite_rule(
    rt: Runtime, owner_id: str, list_name: str, value: str, *, actor: Actor = CLI_ACTOR
) -> EliteSettings:
    """Add an entry to `ip_allow`, `ip_deny`, `domain_allow` or `domain_deny`."""
    entry = _normalize_rule(list_name, value)
    async with rt.db.write() as conn:
        owner = await _owner_row(conn, owner_id, lock=True)
        row = await _ensure_elite_row(conn, owner.id)
        current: list[str] = list(json.loads(getattr(row, list_name)))
        if entry not in current:
            if len(current) >= MAX_RULES:
                raise invalid("value", f"{list_name} holds at most {MAX_RULES} entries")
            current.append(entry)
            await conn.execute(
                update(elite_keys)
                .where(elite_keys.c.owner_account_id == owner.id)
                .values({list_name: json.dumps(current)})
            )
            await _audit_elite(conn, rt, actor, owner, "add_rule", {list_name: [None, entry]})
        return _elite_settings(owner.owner_id, await _elite_row(conn, owner.id))


async def remove_elite_rule(
    rt: Runtime, owner_id: str, list_name: str, value: str, *, actor: Actor = CLI_ACTOR
) -> EliteSettings:
    """Remove an entry (given in any form that normalizes to it); RULE_NOT_FOUND if absent."""
    entry = _normalize_rule(list_name, value)
    async with rt.db.write() as conn:
        owner = await _owner_row(conn, owner_id, lock=True)
        row = await _elite_row(conn, owner.id)
        current: list[str] = [] if row is None else list(json.loads(getattr(row, list_name)))
        if entry not in current:
            raise not_found("rule", f"{entry!r} is not in {list_name}")
        current.remove(entry)
        await conn.execute(
            update(elite_keys)
            .where(elite_keys.c.owner_account_id == owner.id)
            .values({list_name: json.dumps(current)})
        )
        await _audit_elite(conn, rt, actor, owner, "remove_rule", {list_name: [entry, None]})
        return _elite_settings(owner.owner_id, await _elite_row(conn, owner.id))


async def authenticate_elite_key(
    rt: Runtime, plaintext: str, *, ip: str = ""
) -> ElitePrincipal | None:
    """The owner of a valid Elite Key (suspended owners too: the face answers 403
    ACCOUNT_SUSPENDED); None for a malformed, unknown or deleted key. Records the use (at
    most once per TOUCH_INTERVAL unless the IP changed)."""
    if not isinstance(plaintext, str) or not _ELITE_FORMAT.fullmatch(plaintext):
        return None
    digest = secret_digest(rt.box, plaintext)
    now = rt.clock()
    async with rt.db.read() as conn:
        row = (
            await conn.execute(
                select(elite_keys, accounts.c.owner_id, accounts.c.status)
                .join(accounts, accounts.c.id == elite_keys.c.owner_account_id)
                .where(elite_keys.c.digest == digest)
            )
        ).first()
    if row is None or row.digest is None or not hmac.compare_digest(row.digest, digest):
        return None
    settings = _elite_settings(row.owner_id, row)
    ip_text = ip[:64]
    stale = row.last_used_at is None or now - row.last_used_at >= TOUCH_INTERVAL
    if stale or (ip_text and ip_text != row.last_used_ip):
        async with rt.db.write() as conn:
            await conn.execute(
                update(elite_keys)
                .where(elite_keys.c.owner_account_id == row.owner_account_id)
                .where(elite_keys.c.digest == digest)  # not if rotated meanwhile
                .values(last_used_at=now, last_used_ip=ip_text or row.last_used_ip)
            )
        settings = replace(settings, last_used_at=now, last_used_ip=ip_text or row.last_used_ip)
    return ElitePrincipal(
        account_id=row.owner_account_id,
        owner_id=row.owner_id,
        owner_status=row.status,
        settings=settings,
    )
