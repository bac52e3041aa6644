"""Per-app rules: IP and SID lists (B.16), version rules (B.14), hashes (B.15), custom
messages (B.17). Every change bumps the app's `config_rev` in the same transaction.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from licentia.domain.codes import SUCCESS_MESSAGES, Code, default_message
from licentia.domain.rules import network_verdict, sid_verdict, version_verdict
from licentia.domain.versions import version_key
from licentia.services.admin_apps import (
    SettingChange,
    get_app_settings,
    set_app_settings,
    set_switch,
)
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
from licentia.services.appconfig import APP_COLUMNS, AppConfig, AppConfigCache
from licentia.services.netinfo import NetInfo
from licentia.services.runtime import Runtime
from licentia.store.tables import (
    allowed_hashes,
    apps,
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


# -- rule lists, import, VPN/country, check (B.16) ----------------------------------------

RULE_KINDS = ("ip", "sid")


@dataclass(frozen=True)
class RuleView:
    kind: str
    value: str
    list: str
    note: str
    created_at: datetime


def _check_kind(kind: str) -> str:
    name = kind.strip().lower()
    if name not in RULE_KINDS:
        raise invalid("kind", "kind must be ip or sid")
    return name


async def list_rules(
    rt: Runtime, app_id: str, kind: str | None = None, list_: str | None = None
) -> list[RuleView]:
    """The app's IP and SID rules (optionally one kind or one list), oldest first."""
    kinds = (_check_kind(kind),) if kind else RULE_KINDS
    which = _check_list(list_) if list_ else None
    out: list[RuleView] = []
    async with rt.db.read() as conn:
        await load_app(conn, app_id)
        for name in kinds:
            table = ip_rules if name == "ip" else sid_rules
            value = table.c.value if name == "ip" else table.c.sid
            query = select(value.label("value"), table.c.list, table.c.note, table.c.created_at)
            query = query.where(table.c.app_id == app_id)
            if which is not None:
                query = query.where(table.c.list == which)
            rows = (await conn.execute(query.order_by(table.c.created_at, table.c.id))).all()
            out += [RuleView(name, r.value, r.list, r.note, r.created_at) for r in rows]
    return out


@dataclass(frozen=True)
class RuleEntry:
    """One entry of a bulk import: `kind` `ip` or `sid`, `list` `allow` or `deny`."""

    kind: str
    value: str
    list: str = "deny"
    note: str = ""


@dataclass(frozen=True)
class ImportResult:
    added: int
    existing: int


MAX_IMPORT = 10_000


async def import_rules(rt: Runtime, app_id: str, entries: list[RuleEntry]) -> ImportResult:
    """Add many IP/SID entries at once: every entry is validated first and the whole import
    is refused if one is bad (nothing changes); entries already present are skipped.
    `config_rev` is bumped once."""
    if not entries:
        raise invalid("entries", "give at least one entry to import")
    if len(entries) > MAX_IMPORT:
        raise invalid("entries", f"at most {MAX_IMPORT} entries per import")
    wanted: dict[tuple[str, str, str], tuple[dict[str, str], str]] = {}
    for index, entry in enumerate(entries):
        try:
            kind = _check_kind(entry.kind)
            which = _check_list(entry.list)
            note = check_note(entry.note)
            if kind == "ip":
                text = normalize_ip_rule(entry.value)
                key, row = text, {"value": text}
            else:
                text = _check_sid(entry.value)
                key, row = norm(text), {"sid": text, "sid_norm": norm(text)}
        except AdminError as exc:
            raise AdminError(
                exc.code, f"entry {index + 1}: {exc.message}", [f"entries.{index}"]
            ) from None
        wanted.setdefault((kind, which, key), (row, note))
    added = 0
    now = rt.clock()
    async with rt.db.write() as conn:
        await load_app(conn, app_id)
        present: set[tuple[str, str, str]] = set()
        for kind, table, match in (
            ("ip", ip_rules, ip_rules.c.value),
            ("sid", sid_rules, sid_rules.c.sid_norm),
        ):
            rows = await conn.execute(
                select(table.c.list, match.label("key")).where(table.c.app_id == app_id)
            )
            present |= {(kind, r.list, r.key) for r in rows}
        for (kind, which, key), (row, note) in wanted.items():
            if (kind, which, key) in present:
                continue
            table = ip_rules if kind == "ip" else sid_rules
            await conn.execute(
                table.insert().values(
                    id=new_id(), app_id=app_id, list=which, note=note, created_at=now, **row
                )
            )
            added += 1
        if added:
            await bump_config_rev(conn, app_id)
    return ImportResult(added=added, existing=len(entries) - added)


async def set_vpn_block(rt: Runtime, app_id: str, enabled: bool) -> SettingChange:
    """Turn the VPN/proxy block on or off (B.16)."""
    return await set_switch(rt, app_id, "vpn_block", enabled)


async def set_countries(rt: Runtime, app_id: str, countries: str | list[str]) -> SettingChange:
    """Replace the blocked countries (ISO 3166-1 alpha-2 codes; empty = none)."""
    text = countries if isinstance(countries, str) else ",".join(countries)
    return (await set_app_settings(rt, app_id, {"blocked_countries": text}))[0]


async def _app_config(conn: AsyncConnection, rt: Runtime, app_id: str) -> AppConfig:
    """The app's rules exactly as the client API loads them (services/appconfig.py)."""
    await load_app(conn, app_id)
    row = (await conn.execute(select(*APP_COLUMNS).where(apps.c.id == app_id))).one()
    return await AppConfigCache(rt.box).get(conn, row)


@dataclass(frozen=True)
class CheckResult:
    ip: str
    sid: str
    country: str
    blacklisted: bool
    reason: str | None


async def check_access(
    rt: Runtime, app_id: str, ip: str = "", sid: str = "", country: str | None = None
) -> CheckResult:
    """Evaluate an IP and a SID against the app's rules with the verdict `blacklist/check`
    gives (client protocol 2.0.1, 2.0.2): network rules first, then SID rules. The country
    is looked up as the client API does unless given."""
    text = ip.strip()
    address: Any = None
    if text:
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            raise invalid("ip", f"{text!r} is not an IP address") from None
    sid_text = trim(sid)
    if sid_text:
        check_length(sid_text, "sid", low=1, high=128)
    if (
        country is not None
        and country.strip()
        and not re.fullmatch(r"[A-Za-z]{2}", country.strip())
    ):
        raise invalid("country", "country must be an ISO 3166-1 alpha-2 code")
    net = NetInfo(rt.settings)
    where = (country or "").strip().upper() or (net.country(text, {}, False) if text else "")
    async with rt.db.read() as conn:
        app = await _app_config(conn, rt, app_id)
    code = network_verdict(
        address,
        deny=app.ip_deny,
        allow=app.ip_allow,
        vpn_block=app.vpn_block,
        vpn=net.vpn_networks() if app.vpn_block else [],
        blocked_countries=app.blocked_countries,
        country=where,
    )
    if code is None:
        code = sid_verdict(sid_text, deny=app.sid_deny, allow=app.sid_allow)
    return CheckResult(
        ip=text,
        sid=sid_text,
        country=where,
        blacklisted=code is not None,
        reason=None if code is None else code.value,
    )


# -- version rules: list, edit, settings, test (B.14) -------------------------------------


@dataclass(frozen=True)
class VersionRuleView:
    version: str
    mode: str
    allowed_until: datetime | None
    note: str
    created_at: datetime


def _check_mode(mode: str) -> str:
    wanted = mode.strip().lower()
    wanted = _MODE_SYNONYMS.get(wanted, wanted)
    if wanted not in VERSION_MODES:
        raise invalid("mode", "mode must be allow, reminder, grace or block")
    return wanted


async def list_version_rules(rt: Runtime, app_id: str) -> list[VersionRuleView]:
    """The app's version rules in the order `init` consults them (oldest first)."""
    async with rt.db.read() as conn:
        await load_app(conn, app_id)
        rows = (
            await conn.execute(
                select(version_rules)
                .where(version_rules.c.app_id == app_id)
                .order_by(version_rules.c.created_at, version_rules.c.id)
            )
        ).all()
    return [VersionRuleView(r.version, r.mode, r.allowed_until, r.note, r.created_at) for r in rows]


async def edit_version_rule(
    rt: Runtime,
    app_id: str,
    version: str,
    *,
    mode: str | None = None,
    allowed_until: datetime | None = None,
    note: str | None = None,
) -> tuple[VersionRuleView, VersionRuleView]:
    """Change a rule's mode, grace end or note; returns (before, after). A grace rule needs
    `allowed_until`; other modes take none (switching away from grace clears it)."""
    if mode is None and allowed_until is None and note is None:
        raise AdminError(
            "MISSING_FIELDS", "give mode, allowed_until or note", ["mode", "allowed_until"]
        )
    key = version_key(_check_version(version))
    wanted_mode = _check_mode(mode) if mode is not None else None
    text_note = check_note(note) if note is not None else None
    async with rt.db.write() as conn:
        await load_app(conn, app_id)
        rows = (
            await conn.execute(
                select(version_rules)
                .where(version_rules.c.app_id == app_id)
                .order_by(version_rules.c.created_at, version_rules.c.id)
            )
        ).all()
        found = [r for r in rows if version_key(r.version) == key]
        if not found:
            raise AdminError("VERSION_NOT_FOUND", "no rule for this version", ["version"])
        row = found[0]
        new_mode = wanted_mode or row.mode
        until = as_utc(allowed_until) if allowed_until is not None else row.allowed_until
        if new_mode != "grace":
            if allowed_until is not None:
                raise invalid("allowed_until", "only a grace rule takes allowed_until")
            until = None
        elif until is None:
            raise invalid("allowed_until", "a grace rule needs allowed_until")
        new_note = row.note if text_note is None else text_note
        await conn.execute(
            update(version_rules)
            .where(version_rules.c.id == row.id)
            .values(mode=new_mode, allowed_until=until, note=new_note)
        )
        await bump_config_rev(conn, app_id)
    before = VersionRuleView(row.version, row.mode, row.allowed_until, row.note, row.created_at)
    after = VersionRuleView(row.version, new_mode, until, new_note, row.created_at)
    return before, after


VERSION_SETTINGS = (
    "latest_version",
    "download_url",
    "auto_update_enabled",
    "reminder_message",
    "changelog",
)


async def get_version_settings(rt: Runtime, app_id: str) -> dict[str, Any]:
    settings = await get_app_settings(rt, app_id)
    return {name: settings[name] for name in VERSION_SETTINGS}


async def set_version_settings(
    rt: Runtime, app_id: str, changes: dict[str, object]
) -> list[SettingChange]:
    """Edit the version-control settings (B.14), all or none."""
    unknown = sorted(set(changes) - set(VERSION_SETTINGS))
    if unknown:
        raise AdminError(
            "INVALID_INPUT",
            f"{unknown[0]} is not a version setting; use {', '.join(VERSION_SETTINGS)}",
            unknown,
        )
    if not changes:
        raise AdminError(
            "MISSING_FIELDS", f"give at least one of {', '.join(VERSION_SETTINGS)}", ["settings"]
        )
    return await set_app_settings(rt, app_id, changes)


@dataclass(frozen=True)
class VersionTest:
    version: str
    latest_version: str
    outcome: str  # pass | reminder | grace | UPDATE_REQUIRED | VERSION_MISMATCH
    code: str  # the client code init answers
    http_status: int
    allowed_until: datetime | None
    rule: str | None  # the matching rule's version, when one decided


async def version_test(rt: Runtime, app_id: str, version: str) -> VersionTest:
    """What `init` would answer a client of this version now (client protocol 2.1 step 8),
    computed by the same rule code the client API runs."""
    text = _check_version(version)
    async with rt.db.read() as conn:
        app = await _app_config(conn, rt, app_id)
    now = rt.clock()
    code, notice = version_verdict(text, app.latest_version, app.version_rules, now)
    key = version_key(text)
    matched = next((r.version for r in app.version_rules if version_key(r.version) == key), None)
    if code is not None:
        status = 426
        outcome = code.value
        until = None
    elif notice is None:
        outcome, status, until = "pass", 200, None
    elif notice["allowed_until"] is None:
        outcome, status, until = "reminder", 200, None
    else:
        outcome, status = "grace", 200
        rule = next(r for r in app.version_rules if version_key(r.version) == key)
        until = rule.allowed_until
    return VersionTest(
        version=text,
        latest_version=app.latest_version,
        outcome=outcome,
        code=(code or Code.OK).value,
        http_status=status,
        allowed_until=until,
        rule=matched if app.latest_version else None,
    )


# -- hash reads and switch (B.15) ----------------------------------------------------------


@dataclass(frozen=True)
class HashView:
    hash: str
    note: str
    created_at: datetime


async def list_allowed_hashes(rt: Runtime, app_id: str) -> tuple[bool, list[HashView]]:
    """(`hash_check`, the allowed hashes oldest first)."""
    async with rt.db.read() as conn:
        app = await load_app(conn, app_id)
        rows = (
            await conn.execute(
                select(allowed_hashes)
                .where(allowed_hashes.c.app_id == app_id)
                .order_by(allowed_hashes.c.created_at, allowed_hashes.c.hash)
            )
        ).all()
    return bool(app.hash_check), [HashView(r.hash, r.note, r.created_at) for r in rows]


async def get_allowed_hash(rt: Runtime, app_id: str, hash: str) -> HashView:
    text = _check_hash(hash)
    async with rt.db.read() as conn:
        await load_app(conn, app_id)
        row = (
            await conn.execute(
                select(allowed_hashes).where(
                    and_(allowed_hashes.c.app_id == app_id, allowed_hashes.c.hash == text)
                )
            )
        ).first()
    if row is None:
        raise AdminError("HASH_NOT_FOUND", "this hash is not registered", ["hash"])
    return HashView(row.hash, row.note, row.created_at)


async def set_hash_check(rt: Runtime, app_id: str, enabled: bool) -> SettingChange:
    """Switch the build-hash check on or off (B.15); idempotent."""
    return await set_switch(rt, app_id, "hash_check", enabled)


# -- custom message reads and reset_all (B.17) ---------------------------------------------

#: Codes `init` can answer (category Init, with `OK.init`).
_INIT_CODES = frozenset(
    {
        Code.APP_NOT_FOUND,
        Code.INVALID_SECRET,
        Code.APP_DISABLED,
        Code.HASH_REQUIRED,
        Code.INVALID_HASH,
        Code.UPDATE_REQUIRED,
        Code.VERSION_MISMATCH,
        Code.IP_BLOCKED,
        Code.VPN_BLOCKED,
        Code.COUNTRY_BLOCKED,
    }
)
#: The remaining codes of register, login, licenses, extend, device-auth, change-password.
_AUTH_CODES = frozenset(
    {
        Code.USER_NOT_FOUND,
        Code.INVALID_PASSWORD,
        Code.USER_BANNED,
        Code.USER_SUSPENDED,
        Code.USER_EXPIRED,
        Code.DEVICE_LIMIT_REACHED,
        Code.USERNAME_TAKEN,
        Code.PASSWORD_REUSED,
        Code.PASSWORD_CHANGE_UNAVAILABLE,
        Code.LICENSE_NOT_FOUND,
        Code.LICENSE_IN_USE,
        Code.LICENSE_BANNED,
        Code.LICENSE_PAUSED,
        Code.LICENSE_EXPIRED,
        Code.INVALID_DURATION,
        Code.INVALID_DEVICE_TYPE,
        Code.MOTHERBOARD_NOT_FOUND,
        Code.PROCESSOR_NOT_FOUND,
        Code.MOTHERBOARD_BANNED,
        Code.PROCESSOR_BANNED,
        Code.MOTHERBOARD_PAUSED,
        Code.PROCESSOR_PAUSED,
        Code.MOTHERBOARD_EXPIRED,
        Code.PROCESSOR_EXPIRED,
        Code.SID_BLOCKED,
        Code.SID_NOT_WHITELISTED,
        Code.USERNAME_NOT_LINKED,
    }
)
_AUTH_ENDPOINTS = frozenset(
    {"register", "login", "licenses", "extend", "device-auth", "change-password"}
)


def message_category(code: str) -> str:
    """`Init`, `Auth` or `General`, as the AuthlyX dashboard groups custom messages."""
    if code.startswith("OK."):
        endpoint = code[3:]
        if endpoint == "init":
            return "Init"
        return "Auth" if endpoint in _AUTH_ENDPOINTS else "General"
    if code in _INIT_CODES:
        return "Init"
    return "Auth" if code in _AUTH_CODES else "General"


@dataclass(frozen=True)
class MessageEntry:
    code: str
    category: str
    default_message: str
    message: str
    is_default: bool


def canonical_code(code: str) -> str:
    """`ok.Init` -> `OK.init`, `user_banned` -> `USER_BANNED` (then validated by the caller)."""
    name = code.strip()
    return "OK." + name[3:].lower() if name.upper().startswith("OK.") else name.upper()


async def list_custom_messages(
    rt: Runtime, app_id: str, category: str | None = None
) -> list[MessageEntry]:
    """Every customizable code with its category, default and current text."""
    async with rt.db.read() as conn:
        await load_app(conn, app_id)
        rows = (
            await conn.execute(
                select(custom_messages.c.code, custom_messages.c.message).where(
                    custom_messages.c.app_id == app_id
                )
            )
        ).all()
    wanted = category.strip().capitalize() if category else None
    if wanted is not None and wanted not in ("Init", "Auth", "General"):
        raise invalid("category", "category must be Init, Auth or General")
    custom = {r.code: r.message for r in rows}
    out = []
    for code in custom_message_codes():
        group = message_category(code)
        if wanted is not None and group != wanted:
            continue
        default = default_text(code)
        message = custom.get(code, default)
        out.append(MessageEntry(code, group, default, message, message == default))
    return out


async def get_custom_message(rt: Runtime, app_id: str, code: str) -> MessageEntry:
    name = canonical_code(code)
    default = default_text(name)
    async with rt.db.read() as conn:
        await load_app(conn, app_id)
        current = (
            await conn.execute(
                select(custom_messages.c.message).where(
                    and_(custom_messages.c.app_id == app_id, custom_messages.c.code == name)
                )
            )
        ).scalar()
    message = default if current is None else str(current)
    return MessageEntry(name, message_category(name), default, message, message == default)


async def reset_all_custom_messages(rt: Runtime, app_id: str) -> int:
    """Remove every override of the app; returns how many there were."""
    async with rt.db.write() as conn:
        await load_app(conn, app_id)
        result = await conn.execute(
            delete(custom_messages).where(custom_messages.c.app_id == app_id)
        )
        count = int(result.rowcount or 0)
        if count:
            await bump_config_rev(conn, app_id)
    return count
