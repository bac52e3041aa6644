"""Per-app rules: IP and SID lists (B.16), version rules (B.14), hashes (B.15), custom
messages (B.17). Every change bumps the app's `config_rev` in the same transaction.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, select
from sqlalchemy.exc import IntegrityError

from licentia.domain.codes import SUCCESS_MESSAGES, Code, default_message
from licentia.domain.versions import version_key
from licentia.services.admin_common import (
    AdminError,
    as_utc,
    bump_config_rev,
    check_identity_text,
    check_length,
    check_norm_length,
    check_note,
    check_sdk_safe,
    exists,
    invalid,
    load_app,
    norm,
    trim,
)
from licentia.services.runtime import Runtime
from licentia.store.tables import (
    allowed_hashes,
    custom_messages,
    ip_rules,
    sid_rules,
    version_rules,
)
from licentia.store.types import new_id

LISTS = ("allow", "deny")
VERSION_MODES = ("allow", "reminder", "grace", "block")
_MODE_SYNONYMS = {"temporary": "grace"}
_HASH = re.compile(r"[0-9a-fA-F]{64}")
_NOT_CUSTOMIZABLE = frozenset({Code.OK, Code.OWNER_NOT_FOUND, Code.INTERNAL})


def _check_list(list_: str) -> str:
    name = list_.strip().lower()
    if name not in LISTS:
        raise invalid("list", "list must be allow or deny")
    return name


@dataclass(frozen=True)
class Rule:
    id: str
    app_id: str
    value: str
    list: str
    created: bool


# -- IP rules ----------------------------------------------------------------------------


def normalize_ip_rule(value: str) -> str:
    """An address or CIDR range in canonical text; a single address keeps no prefix."""
    text = value.strip()
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise invalid("value", f"{text!r} is not an IP address or CIDR range") from None
    if network.num_addresses == 1:
        return str(network.network_address)
    return str(network)


async def _add_rule(
    rt: Runtime,
    app_id: str,
    table: Any,
    match: Any,
    key: str,
    row: dict[str, str],
    which: str,
    note: str,
) -> Rule:
    """Insert one allow/deny entry unless `match == key` already names it (idempotent)."""
    async with rt.db.write() as conn:
        await load_app(conn, app_id)
        shown = row.get("value") or row["sid"]
        existing = (
            await conn.execute(
                select(table.c.id).where(
                    and_(table.c.app_id == app_id, table.c.list == which, match == key)
                )
            )
        ).first()
        if existing is not None:
            return Rule(id=existing.id, app_id=app_id, value=shown, list=which, created=False)
        rule_id = new_id()
        await conn.execute(
            table.insert().values(
                id=rule_id, app_id=app_id, list=which, note=note, created_at=rt.clock(), **row
            )
        )
        await bump_config_rev(conn, app_id)
    return Rule(id=rule_id, app_id=app_id, value=shown, list=which, created=True)


async def _remove_rule(
    rt: Runtime, app_id: str, table: Any, match: Any, key: str, which: str, what: str, field: str
) -> None:
    async with rt.db.write() as conn:
        await load_app(conn, app_id)
        result = await conn.execute(
            delete(table).where(and_(table.c.app_id == app_id, table.c.list == which, match == key))
        )
        if not result.rowcount:
            raise AdminError("RULE_NOT_FOUND", f"no such {what} rule in this app", [field])
        await bump_config_rev(conn, app_id)


async def add_ip_rule(
    rt: Runtime, app_id: str, value: str, list_: str = "deny", note: str = ""
) -> Rule:
    """Add an address or range to the app's allow or deny list (adding it twice is a no-op)."""
    text = normalize_ip_rule(value)
    which = _check_list(list_)
    text_note = check_note(note)
    return await _add_rule(
        rt, app_id, ip_rules, ip_rules.c.value, text, {"value": text}, which, text_note
    )


async def remove_ip_rule(rt: Runtime, app_id: str, value: str, list_: str = "deny") -> None:
    text = normalize_ip_rule(value)
    which = _check_list(list_)
    await _remove_rule(rt, app_id, ip_rules, ip_rules.c.value, text, which, "IP", "value")


# -- SID rules ---------------------------------------------------------------------------


def _check_sid(sid: str) -> str:
    text = trim(sid)
    check_length(text, "sid", low=1, high=128)
    check_identity_text(text, "sid")
    check_norm_length(text, "sid", 128)
    return text


async def add_sid_rule(
    rt: Runtime, app_id: str, sid: str, list_: str = "deny", note: str = ""
) -> Rule:
    """Add a SID (compared case-insensitively) to the allow or deny list (idempotent)."""
    text = _check_sid(sid)
    which = _check_list(list_)
    text_note = check_note(note)
    row = {"sid": text, "sid_norm": norm(text)}
    return await _add_rule(
        rt, app_id, sid_rules, sid_rules.c.sid_norm, norm(text), row, which, text_note
    )


async def remove_sid_rule(rt: Runtime, app_id: str, sid: str, list_: str = "deny") -> None:
    text = _check_sid(sid)
    which = _check_list(list_)
    await _remove_rule(rt, app_id, sid_rules, sid_rules.c.sid_norm, norm(text), which, "SID", "sid")


# -- version rules -----------------------------------------------------------------------


@dataclass(frozen=True)
class VersionRule:
    id: str
    app_id: str
    version: str
    mode: str
    allowed_until: datetime | None


def _check_version(version: str) -> str:
    text = trim(version)
    check_length(text, "version", low=1, high=32)
    check_identity_text(text, "version")
    return text


async def add_version_rule(
    rt: Runtime,
    app_id: str,
    version: str,
    mode: str = "allow",
    allowed_until: datetime | None = None,
    note: str = "",
) -> VersionRule:
    """Add a rule for one version; `grace` (synonym `temporary`) needs `allowed_until`.

    A rule for a semver-equal version already existing: `ALREADY_EXISTS`.
    """
    text = _check_version(version)
    wanted = mode.strip().lower()
    wanted = _MODE_SYNONYMS.get(wanted, wanted)
    if wanted not in VERSION_MODES:
        raise invalid("mode", "mode must be allow, reminder, grace or block")
    if wanted == "grace" and allowed_until is None:
        raise invalid("allowed_until", "a grace rule needs allowed_until")
    if wanted != "grace" and allowed_until is not None:
        raise invalid("allowed_until", "only a grace rule takes allowed_until")
    until = as_utc(allowed_until) if allowed_until is not None else None
    text_note = check_note(note)
    key = version_key(text)
    async with rt.db.write() as conn:
        await load_app(conn, app_id)
        rows = await conn.execute(
            select(version_rules.c.version).where(version_rules.c.app_id == app_id)
        )
        if any(version_key(v) == key for v in rows.scalars()):
            raise exists(f"a rule for version {text!r} (or an equal version) already exists")
        rule_id = new_id()
        await conn.execute(
            version_rules.insert().values(
                id=rule_id,
                app_id=app_id,
                version=text,
                mode=wanted,
                allowed_until=until,
                note=text_note,
                created_at=rt.clock(),
            )
        )
        await bump_config_rev(conn, app_id)
    return VersionRule(id=rule_id, app_id=app_id, version=text, mode=wanted, allowed_until=until)


async def remove_version_rule(rt: Runtime, app_id: str, version: str) -> None:
    key = version_key(_check_version(version))
    async with rt.db.write() as conn:
        await load_app(conn, app_id)
        rows = (
            await conn.execute(
                select(version_rules.c.id, version_rules.c.version).where(
                    version_rules.c.app_id == app_id
                )
            )
        ).all()
        ids = [row.id for row in rows if version_key(row.version) == key]
        if not ids:
            raise AdminError("VERSION_NOT_FOUND", "no rule for this version", ["version"])
        await conn.execute(delete(version_rules).where(version_rules.c.id.in_(ids)))
        await bump_config_rev(conn, app_id)


# -- hashes ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AllowedHash:
    id: str
    app_id: str
    hash: str


def _check_hash(value: str) -> str:
    text = trim(value)
    if not _HASH.fullmatch(text):
        raise invalid("hash", "hash must be 64 hexadecimal characters")
    return text.lower()


async def add_allowed_hash(rt: Runtime, app_id: str, hash: str, note: str = "") -> AllowedHash:
    """Register an allowed build hash (stored lower-case); a duplicate is `ALREADY_EXISTS`."""
    text = _check_hash(hash)
    text_note = check_note(note)
    hash_id = new_id()
    try:
        async with rt.db.write() as conn:
            await load_app(conn, app_id)
            taken = (
                await conn.execute(
                    select(allowed_hashes.c.id).where(
                        and_(allowed_hashes.c.app_id == app_id, allowed_hashes.c.hash == text)
                    )
                )
            ).first()
            if taken is not None:
                raise exists("this hash is already registered")
            await conn.execute(
                allowed_hashes.insert().values(
                    id=hash_id, app_id=app_id, hash=text, note=text_note, created_at=rt.clock()
                )
            )
            await bump_config_rev(conn, app_id)
    except IntegrityError:
        raise exists("this hash is already registered") from None
    return AllowedHash(id=hash_id, app_id=app_id, hash=text)


async def remove_allowed_hash(rt: Runtime, app_id: str, hash: str) -> None:
    text = _check_hash(hash)
    async with rt.db.write() as conn:
        await load_app(conn, app_id)
        result = await conn.execute(
            delete(allowed_hashes).where(
                and_(allowed_hashes.c.app_id == app_id, allowed_hashes.c.hash == text)
            )
        )
        if not result.rowcount:
            raise AdminError("HASH_NOT_FOUND", "this hash is not registered", ["hash"])
        await bump_config_rev(conn, app_id)


# -- custom messages ---------------------------------------------------------------------


@dataclass(frozen=True)
class CustomMessage:
    app_id: str
    code: str
    message: str
    is_default: bool


def custom_message_codes() -> list[str]:
    """Every code an app may override: client codes, then `OK.<endpoint>` keys."""
    codes = [code.value for code in Code if code not in _NOT_CUSTOMIZABLE]
    return codes + [f"OK.{endpoint}" for endpoint in SUCCESS_MESSAGES]


def default_text(code: str) -> str:
    """Default message of a customizable code (validated)."""
    if code.startswith("OK."):
        endpoint = code[3:]
        if endpoint in SUCCESS_MESSAGES:
            return SUCCESS_MESSAGES[endpoint]
    else:
        try:
            parsed = Code(code)
        except ValueError:
            parsed = None
        if parsed is not None and parsed not in _NOT_CUSTOMIZABLE:
            return default_message(parsed)
    raise invalid(
        "code",
        f"{code!r} cannot be customized: use a client error code other than OWNER_NOT_FOUND "
        "and INTERNAL, or OK.<endpoint>",
    )


async def set_custom_message(rt: Runtime, app_id: str, code: str, message: str) -> CustomMessage:
    """Override the message of a code; a message equal to the default removes the override."""
    name = code.strip()
    if name.upper().startswith("OK."):
        name = "OK." + name[3:].lower()
    else:
        name = name.upper()
    default = default_text(name)
    check_length(message, "message", low=1, high=200)
    check_sdk_safe(message, "message", allow_newline=True)
    async with rt.db.write() as conn:
        await load_app(conn, app_id)
        await conn.execute(
            delete(custom_messages).where(
                and_(custom_messages.c.app_id == app_id, custom_messages.c.code == name)
            )
        )
        if message != default:
            await conn.execute(
                custom_messages.insert().values(
                    id=new_id(), app_id=app_id, code=name, message=message
                )
            )
        await bump_config_rev(conn, app_id)
    return CustomMessage(app_id=app_id, code=name, message=message, is_default=message == default)


async def reset_custom_message(rt: Runtime, app_id: str, code: str) -> CustomMessage:
    name = code.strip()
    name = "OK." + name[3:].lower() if name.upper().startswith("OK.") else name.upper()
    default = default_text(name)
    async with rt.db.write() as conn:
        await load_app(conn, app_id)
        await conn.execute(
            delete(custom_messages).where(
                and_(custom_messages.c.app_id == app_id, custom_messages.c.code == name)
            )
        )
        await bump_config_rev(conn, app_id)
    return CustomMessage(app_id=app_id, code=name, message=default, is_default=True)
