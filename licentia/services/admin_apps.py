"""Owners, apps, app settings and subscriptions (management B.1, B.4, B.5, B.14 settings)."""

from __future__ import annotations

import re
import secrets
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, and_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from licentia.services import events
from licentia.services.admin_common import (
    INT32_MAX,
    AdminError,
    bump_config_rev,
    check_email,
    check_identity_text,
    check_length,
    check_norm_length,
    check_sdk_safe,
    check_stored_content,
    exists,
    find_subscription,
    invalid,
    load_app,
    norm,
    not_found,
    parse_bool,
    parse_int,
    sdk_warnings,
    trim,
)
from licentia.services.audit import is_secret_field
from licentia.services.runtime import Runtime
from licentia.store.tables import accounts, apps, subscriptions
from licentia.store.types import new_id

SECRET_PURPOSE = "app-secret"  # noqa: S105 - an AEAD purpose label, not a secret
_PUBLIC_ID_ALPHABET = string.ascii_uppercase + string.digits
_ID_ATTEMPTS = 20
_COUNTRY = re.compile(r"[A-Z]{2}")


# -- owners ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Owner:
    id: str
    owner_id: str
    public_id: str
    username: str
    email: str
    status: str


def _owner(row: Row[Any]) -> Owner:
    return Owner(
        id=row.id,
        owner_id=row.owner_id,
        public_id=row.public_id,
        username=row.username,
        email=row.email,
        status=row.status,
    )


def _new_owner_id() -> str:
    # 8 decimal digits without a leading zero, so no SDK or spreadsheet can shorten it.
    return str(10_000_000 + secrets.randbelow(90_000_000))


def _new_public_id() -> str:
    return "".join(secrets.choice(_PUBLIC_ID_ALPHABET) for _ in range(12))


def _check_username(username: str) -> str:
    name = trim(username)
    check_length(name, "username", low=1, high=64)
    check_identity_text(name, "username")
    check_norm_length(name, "username", 64)
    return name


async def _unused(conn: AsyncConnection, column: Any, make: Callable[[], str]) -> str:
    for _ in range(_ID_ATTEMPTS):
        candidate = make()
        taken = (await conn.execute(select(column).where(column == candidate))).first()
        if taken is None:
            return candidate
    raise AdminError("INTERNAL", "could not draw an unused id")


async def create_owner(rt: Runtime, username: str, password: str, email: str = "") -> Owner:
    """Create an owner account with a fresh 8-digit `owner_id` and 12-character `public_id`."""
    name = _check_username(username)
    if not 1 <= len(password) <= 256:
        raise invalid("password", "password must be 1 to 256 characters")
    mail = check_email(email)
    password_hash = await rt.passwords.hash(password)
    for _ in range(_ID_ATTEMPTS):
        try:
            async with rt.db.write() as conn:
                taken = (
                    await conn.execute(
                        select(accounts.c.id).where(accounts.c.username_norm == norm(name))
                    )
                ).first()
                if taken is not None:
                    raise exists(f"an account named {name!r} already exists")
                owner = Owner(
                    id=new_id(),
                    owner_id=await _unused(conn, accounts.c.owner_id, _new_owner_id),
                    public_id=await _unused(conn, accounts.c.public_id, _new_public_id),
                    username=name,
                    email=mail,
                    status="active",
                )
                await conn.execute(
                    accounts.insert().values(
                        id=owner.id,
                        public_id=owner.public_id,
                        owner_id=owner.owner_id,
                        username=name,
                        username_norm=norm(name),
                        email=mail,
                        password_hash=password_hash,
                        status="active",
                        created_at=rt.clock(),
                    )
                )
        except IntegrityError:
            # A concurrent writer took the name or one of the random ids: look again.
            continue
        return owner
    raise exists(f"an account named {name!r} already exists")


async def _load_owner(conn: AsyncConnection, owner_id: str) -> Row[Any]:
    row = (
        await conn.execute(select(accounts).where(accounts.c.owner_id == trim(str(owner_id))))
    ).first()
    if row is None:
        raise not_found("owner", f"no owner with owner id {owner_id!r}")
    return row


async def get_owner(rt: Runtime, owner_id: str) -> Owner:
    async with rt.db.read() as conn:
        return _owner(await _load_owner(conn, owner_id))


async def find_owner_by_username(rt: Runtime, username: str) -> Owner | None:
    async with rt.db.read() as conn:
        row = (
            await conn.execute(
                select(accounts).where(accounts.c.username_norm == norm(trim(username)))
            )
        ).first()
    return _owner(row) if row is not None and row.owner_id else None


async def set_owner_status(rt: Runtime, owner_id: str, status: str) -> Owner:
    """`active` or `suspended`; a suspended owner's apps answer `APP_DISABLED`."""
    wanted = status.strip().lower()
    if wanted not in ("active", "suspended"):
        raise invalid("status", "status must be active or suspended")
    async with rt.db.write() as conn:
        row = await _load_owner(conn, owner_id)
        if row.status != wanted:
            await conn.execute(
                update(accounts).where(accounts.c.id == row.id).values(status=wanted)
            )
            # Workers cache per-app state keyed by config_rev; the owner's status is part of it.
            await conn.execute(
                update(apps)
                .where(apps.c.owner_account_id == row.id)
                .values(config_rev=apps.c.config_rev + 1)
            )
    return Owner(
        id=row.id,
        owner_id=row.owner_id,
        public_id=row.public_id,
        username=row.username,
        email=row.email,
        status=wanted,
    )


# -- apps --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CreatedApp:
    app_id: str
    owner_id: str
    app_name: str
    secret: str


@dataclass(frozen=True)
class AppInfo:
    app_id: str
    owner_id: str
    app_name: str
    config_rev: int


def _check_app_name(name: str) -> str:
    text = trim(name)
    check_length(text, "name", low=1, high=64)
    check_sdk_safe(text, "name")
    check_norm_length(text, "name", 64)
    return text


def new_secret() -> str:
    return secrets.token_hex(32)


async def create_app(rt: Runtime, owner_id: str, name: str) -> CreatedApp:
    """Create an app under the owner with this 8-digit `owner_id`; returns its secret once."""
    app_name = _check_app_name(name)
    secret = new_secret()
    app_id = new_id()
    try:
        async with rt.db.write() as conn:
            owner = await _load_owner(conn, owner_id)
            taken = (
                await conn.execute(
                    select(apps.c.id).where(
                        and_(
                            apps.c.owner_account_id == owner.id,
                            apps.c.name_norm == norm(app_name),
                        )
                    )
                )
            ).first()
            if taken is not None:
                raise exists(f"this owner already has an app named {app_name!r}")
            await conn.execute(
                apps.insert().values(
                    id=app_id,
                    owner_account_id=owner.id,
                    name=app_name,
                    name_norm=norm(app_name),
                    secret_enc=rt.box.encrypt(secret.encode(), SECRET_PURPOSE),
                    created_at=rt.clock(),
                )
            )
    except IntegrityError:
        raise exists(f"this owner already has an app named {app_name!r}") from None
    return CreatedApp(app_id=app_id, owner_id=owner.owner_id, app_name=app_name, secret=secret)


async def find_app(rt: Runtime, owner_id: str, name: str) -> AppInfo | None:
    """The owner's app named `name` (case-insensitively), or None."""
    async with rt.db.read() as conn:
        owner = await _load_owner(conn, owner_id)
        row = (
            await conn.execute(
                select(apps).where(
                    and_(apps.c.owner_account_id == owner.id, apps.c.name_norm == norm(trim(name)))
                )
            )
        ).first()
    if row is None:
        return None
    return AppInfo(
        app_id=row.id, owner_id=owner.owner_id, app_name=row.name, config_rev=row.config_rev
    )


async def get_app(rt: Runtime, app_id: str) -> AppInfo:
    async with rt.db.read() as conn:
        row = await load_app(conn, app_id)
        owner_id = (
            await conn.execute(
                select(accounts.c.owner_id).where(accounts.c.id == row.owner_account_id)
            )
        ).scalar_one()
    return AppInfo(app_id=row.id, owner_id=owner_id, app_name=row.name, config_rev=row.config_rev)


async def get_app_secret(rt: Runtime, app_id: str) -> str:
    async with rt.db.read() as conn:
        row = await load_app(conn, app_id)
    return rt.box.decrypt(row.secret_enc, SECRET_PURPOSE).decode()


async def regenerate_secret(rt: Runtime, app_id: str) -> str:
    """Replace the app secret; new inits need the new one at once, live sessions continue."""
    secret = new_secret()
    async with rt.db.write() as conn:
        await load_app(conn, app_id)
        await conn.execute(
            update(apps)
            .where(apps.c.id == app_id)
            .values(secret_enc=rt.box.encrypt(secret.encode(), SECRET_PURPOSE))
        )
        await bump_config_rev(conn, app_id)
    return secret


# -- app settings ------------------------------------------------------------------------


@dataclass(frozen=True)
class SettingChange:
    app_id: str
    setting: str
    value: bool | int | str
    warnings: list[str]


# The app settings by type: the faces build their forms and help from these (public).
BOOL_SETTINGS = frozenset(
    {
        "is_enabled",
        "user_panel_enabled",
        "hwid_lock",
        "require_request_signature",
        "allow_password_change",
        "client_create_variables",
        "hash_check",
        "vpn_block",
        "auto_update_enabled",
    }
)

# name -> (lowest, highest)
INT_SETTINGS: dict[str, tuple[int, int]] = {
    "hwid_reset_cooldown": (0, INT32_MAX),
    "hwid_reset_max_per_30_days": (0, 100_000),
    "session_idle_timeout": (1, INT32_MAX),
    "session_max_lifetime": (1, INT32_MAX),
    "log_retention_days": (1, 36_500),
    # Offline session tickets (docs/tickets.md): at most 30 days; 0 turns them off.
    "offline_ticket_ttl": (0, 30 * 86_400),
}

TEXT_SETTINGS = frozenset(
    {
        "url_prefix",
        "blocked_countries",
        "latest_version",
        "download_url",
        "reminder_message",
        "changelog",
    }
)

APP_SETTINGS: tuple[str, ...] = tuple(sorted(BOOL_SETTINGS | set(INT_SETTINGS) | TEXT_SETTINGS))


def _text_setting(setting: str, value: str) -> tuple[str, list[str]]:
    if setting == "url_prefix":
        text = value.strip()
        check_length(text, setting, low=0, high=128)
        check_sdk_safe(text, setting)
        return text, []
    if setting == "blocked_countries":
        codes: list[str] = []
        for part in value.split(","):
            code = part.strip().upper()
            if not code:
                continue
            if not _COUNTRY.fullmatch(code):
                raise invalid(setting, f"{part.strip()!r} is not an ISO 3166-1 alpha-2 code")
            if code not in codes:
                codes.append(code)
        text = ",".join(codes)
        check_length(text, setting, low=0, high=1024)
        return text, []
    if setting == "latest_version":
        text = trim(value)
        check_length(text, setting, low=0, high=32)
        check_identity_text(text, setting)
        return text, []
    if setting == "download_url":
        text = value.strip()
        check_length(text, setting, low=0, high=2048)
        check_stored_content(text, setting)
        if any(ch in "\t\r\n" for ch in text):
            raise invalid(setting, "download_url must not contain whitespace controls")
        return text, sdk_warnings(text, setting)
    if setting == "reminder_message":
        check_length(value, setting, low=0, high=200)
        check_sdk_safe(value, setting, allow_newline=True)
        return value, []
    # changelog
    check_length(value, setting, low=0, high=4000)
    check_stored_content(value, setting)
    return value, sdk_warnings(value, setting)


def _parse_setting(setting: str, value: object) -> tuple[bool | int | str, list[str]]:
    if setting in BOOL_SETTINGS:
        return parse_bool(value, setting), []
    if setting in INT_SETTINGS:
        low, high = INT_SETTINGS[setting]
        return parse_int(value, setting, low=low, high=high), []
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise invalid(setting, f"{setting} must be text")
    return _text_setting(setting, str(value))


def setting_name(setting: str) -> str:
    """Canonical setting name (`hwid-lock` and `HWID_LOCK` mean `hwid_lock`); validated."""
    name = setting.strip().lower().replace("-", "_")
    if name not in APP_SETTINGS:
        raise AdminError(
            "INVALID_INPUT",
            f"unknown setting {setting!r}; valid settings: {', '.join(APP_SETTINGS)}",
            ["setting"],
        )
    return name


async def set_app_settings(
    rt: Runtime, app_id: str, changes: Mapping[str, object]
) -> list[SettingChange]:
    """Change several settings at once (all or none); bumps `config_rev` once."""
    if not changes:
        raise AdminError("INVALID_INPUT", "no setting given", ["setting"])
    parsed: dict[str, tuple[bool | int | str, list[str]]] = {}
    for raw_name, raw_value in changes.items():
        name = setting_name(raw_name)
        parsed[name] = _parse_setting(name, raw_value)
    async with rt.db.write() as conn:
        await load_app(conn, app_id)
        await conn.execute(
            update(apps)
            .where(apps.c.id == app_id)
            .values({name: value for name, (value, _) in parsed.items()})
        )
        await bump_config_rev(conn, app_id)
        shown = {
            name: "changed" if is_secret_field(name) else value
            for name, (value, _) in parsed.items()
        }
        await events.emit(conn, app_id, "app.setting_changed", {"settings": shown}, now=rt.clock())
    return [
        SettingChange(app_id=app_id, setting=name, value=value, warnings=warnings)
        for name, (value, warnings) in parsed.items()
    ]


async def set_app_setting(
    rt: Runtime, app_id: str, setting: str, value: str | int | bool
) -> SettingChange:
    """Change one app setting (management B.4, B.14); returns the stored value and warnings."""
    return (await set_app_settings(rt, app_id, {setting: value}))[0]


async def get_app_settings(rt: Runtime, app_id: str) -> dict[str, Any]:
    async with rt.db.read() as conn:
        row = await load_app(conn, app_id)
    mapping = row._mapping
    out = {name: mapping[name] for name in APP_SETTINGS}
    out["config_rev"] = row.config_rev
    return out


# -- subscriptions -----------------------------------------------------------------------


@dataclass(frozen=True)
class Subscription:
    id: str
    app_id: str
    name: str
    level: int


async def create_subscription(rt: Runtime, app_id: str, name: str, level: int = 1) -> Subscription:
    text = trim(name)
    check_length(text, "name", low=1, high=64)
    check_sdk_safe(text, "name")
    check_norm_length(text, "name", 64)
    lvl = parse_int(level, "level", low=-INT32_MAX, high=INT32_MAX)
    sub_id = new_id()
    try:
        async with rt.db.write() as conn:
            await load_app(conn, app_id)
            if await find_subscription(conn, app_id, text) is not None:
                raise exists(f"this app already has a subscription named {text!r}")
            await conn.execute(
                subscriptions.insert().values(
                    id=sub_id,
                    app_id=app_id,
                    name=text,
                    name_norm=norm(text),
                    level=lvl,
                    created_at=rt.clock(),
                )
            )
    except IntegrityError:
        raise exists(f"this app already has a subscription named {text!r}") from None
    return Subscription(id=sub_id, app_id=app_id, name=text, level=lvl)


async def get_subscription(rt: Runtime, app_id: str, name: str) -> Subscription | None:
    async with rt.db.read() as conn:
        row = await find_subscription(conn, app_id, name)
    if row is None:
        return None
    return Subscription(id=row.id, app_id=row.app_id, name=row.name, level=row.level)


# -- app lifecycle (B.4) -----------------------------------------------------------------


@dataclass(frozen=True)
class Renamed:
    app_id: str
    old_name: str
    new_name: str
    warnings: list[str]


async def rename_app(rt: Runtime, app_id: str, new_name: str) -> Renamed:
    """Rename an app. Deployed clients send the old name in `init`, so the caller gets a
    warning to pass on; renaming to the current name changes nothing."""
    name = _check_app_name(new_name)
    try:
        async with rt.db.write() as conn:
            row = await load_app(conn, app_id)
            if row.name == name:
                return Renamed(app_id=app_id, old_name=row.name, new_name=name, warnings=[])
            taken = (
                await conn.execute(
                    select(apps.c.id).where(
                        and_(
                            apps.c.owner_account_id == row.owner_account_id,
                            apps.c.name_norm == norm(name),
                            apps.c.id != app_id,
                        )
                    )
                )
            ).first()
            if taken is not None:
                raise exists(f"this owner already has an app named {name!r}")
            await conn.execute(
                update(apps).where(apps.c.id == app_id).values(name=name, name_norm=norm(name))
            )
            await bump_config_rev(conn, app_id)
    except IntegrityError:
        raise exists(f"this owner already has an app named {name!r}") from None
    return Renamed(
        app_id=app_id,
        old_name=row.name,
        new_name=name,
        warnings=[f"deployed clients still send {row.name!r} in init and fail until updated"],
    )


async def set_switch(rt: Runtime, app_id: str, setting: str, enabled: bool) -> SettingChange:
    """Turn an on/off setting on or off. Idempotent: a repeat changes nothing, not even
    `config_rev`, so workers keep their cached config."""
    async with rt.db.write() as conn:
        row = await load_app(conn, app_id)
        if bool(row._mapping[setting]) == enabled:
            return SettingChange(app_id=app_id, setting=setting, value=enabled, warnings=[])
        return await set_app_setting(rt, app_id, setting, enabled)


async def set_app_enabled(rt: Runtime, app_id: str, enabled: bool) -> SettingChange:
    """Enable or disable an app (disabled: every client call answers `APP_DISABLED`)."""
    return await set_switch(rt, app_id, "is_enabled", enabled)


async def delete_app(rt: Runtime, app_id: str, confirm: str) -> AppInfo:
    """Delete an app and everything in it (B.4), after explicit confirmation: `confirm` must
    repeat the app's exact name, so a mistyped id cannot wipe another app."""
    async with rt.db.write() as conn:
        row = await load_app(conn, app_id)
        if confirm != row.name:
            raise AdminError(
                "INVALID_INPUT",
                "deleting an app removes everything in it: confirm with its exact name",
                ["confirm"],
            )
        owner_id = (
            await conn.execute(
                select(accounts.c.owner_id).where(accounts.c.id == row.owner_account_id)
            )
        ).scalar_one()
        # Every app-owned table references apps.id with ON DELETE CASCADE.
        await conn.execute(apps.delete().where(apps.c.id == app_id))
    return AppInfo(app_id=row.id, owner_id=owner_id, app_name=row.name, config_rev=row.config_rev)


async def app_owner_account(rt: Runtime, app_id: str) -> str:
    """The internal id of the account owning the app (audit entries name it)."""
    async with rt.db.read() as conn:
        return str((await load_app(conn, app_id)).owner_account_id)
