"""Per-app configuration as the client protocol reads it, cached per worker by `config_rev`.

Every management change to an app's settings or rules bumps `apps.config_rev`; each request
reads the app row anyway (with its session or in init), so a stale cache entry is detected
at once and reloaded: no worker ever answers with rules older than the row it just read.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from licentia.crypto.secretbox import SecretBox
from licentia.store.engine import HotConn
from licentia.store.tables import (
    allowed_hashes,
    apps,
    custom_messages,
    ip_rules,
    sid_rules,
    version_rules,
)

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# The app columns every client request needs (selected with the session or in init).
APP_COLUMNS = (
    apps.c.id,
    apps.c.name,
    apps.c.config_rev,
    apps.c.is_enabled,
    apps.c.hwid_lock,
    apps.c.session_idle_timeout,
    apps.c.session_max_lifetime,
    apps.c.require_request_signature,
    apps.c.allow_password_change,
    apps.c.client_create_variables,
    apps.c.hash_check,
    apps.c.vpn_block,
    apps.c.blocked_countries,
    apps.c.latest_version,
    apps.c.download_url,
    apps.c.auto_update_enabled,
    apps.c.reminder_message,
    apps.c.changelog,
    apps.c.offline_ticket_ttl,
    apps.c.secret_enc,
)


@dataclass(frozen=True)
class VersionRule:
    version: str
    mode: str
    allowed_until: datetime | None


@dataclass
class AppConfig:
    id: str
    name: str
    rev: int
    is_enabled: bool
    hwid_lock: bool
    session_idle_timeout: int
    session_max_lifetime: int
    require_request_signature: bool
    allow_password_change: bool
    client_create_variables: bool
    hash_check: bool
    vpn_block: bool
    blocked_countries: frozenset[str]
    latest_version: str
    download_url: str
    auto_update_enabled: bool
    reminder_message: str
    changelog: str
    secret: bytes
    offline_ticket_ttl: int = 0
    ip_allow: list[IPNetwork] = field(default_factory=list)
    ip_deny: list[IPNetwork] = field(default_factory=list)
    sid_allow: frozenset[str] = frozenset()
    sid_deny: frozenset[str] = frozenset()
    version_rules: list[VersionRule] = field(default_factory=list)
    hashes: frozenset[str] = frozenset()
    messages: dict[str, str] = field(default_factory=dict)


def _networks(values: list[str]) -> list[IPNetwork]:
    out: list[IPNetwork] = []
    for value in values:
        try:
            out.append(ipaddress.ip_network(value, strict=False))
        except ValueError:
            continue
    return out


class AppConfigCache:
    def __init__(self, box: SecretBox, max_apps: int = 10_000) -> None:
        self._box = box
        self._items: dict[str, AppConfig] = {}
        self._max_apps = max_apps

    async def get(self, conn: HotConn, row: Any) -> AppConfig:
        """The config of the app whose row (with `APP_COLUMNS`) was just read."""
        cached = self._items.get(row.id)
        if cached is not None and cached.rev == row.config_rev:
            return cached
        config = await self._load(conn, row)
        if len(self._items) >= self._max_apps:
            self._items.clear()
        self._items[row.id] = config
        return config

    async def _load(self, conn: HotConn, row: Any) -> AppConfig:
        app_id = row.id
        ips = (
            await conn.execute(
                select(ip_rules.c.value, ip_rules.c.list).where(ip_rules.c.app_id == app_id)
            )
        ).all()
        sids = (
            await conn.execute(
                select(sid_rules.c.sid_norm, sid_rules.c.list).where(sid_rules.c.app_id == app_id)
            )
        ).all()
        versions = (
            await conn.execute(
                select(version_rules.c.version, version_rules.c.mode, version_rules.c.allowed_until)
                .where(version_rules.c.app_id == app_id)
                .order_by(version_rules.c.created_at)
            )
        ).all()
        hashes = (
            await conn.execute(
                select(allowed_hashes.c.hash).where(allowed_hashes.c.app_id == app_id)
            )
        ).all()
        messages = (
            await conn.execute(
                select(custom_messages.c.code, custom_messages.c.message).where(
                    custom_messages.c.app_id == app_id
                )
            )
        ).all()
        return AppConfig(
            id=app_id,
            name=row.name,
            rev=row.config_rev,
            is_enabled=row.is_enabled,
            hwid_lock=row.hwid_lock,
            session_idle_timeout=row.session_idle_timeout,
            session_max_lifetime=row.session_max_lifetime,
            require_request_signature=row.require_request_signature,
            allow_password_change=row.allow_password_change,
            client_create_variables=row.client_create_variables,
            hash_check=row.hash_check,
            vpn_block=row.vpn_block,
            blocked_countries=frozenset(
                c.strip().upper() for c in row.blocked_countries.split(",") if c.strip()
            ),
            latest_version=row.latest_version,
            download_url=row.download_url,
            auto_update_enabled=row.auto_update_enabled,
            reminder_message=row.reminder_message,
            changelog=row.changelog,
            secret=self._box.decrypt(row.secret_enc, "app-secret"),
            offline_ticket_ttl=row.offline_ticket_ttl,
            ip_allow=_networks([r.value for r in ips if r.list == "allow"]),
            ip_deny=_networks([r.value for r in ips if r.list == "deny"]),
            sid_allow=frozenset(r.sid_norm for r in sids if r.list == "allow"),
            sid_deny=frozenset(r.sid_norm for r in sids if r.list == "deny"),
            version_rules=[VersionRule(r.version, r.mode, r.allowed_until) for r in versions],
            hashes=frozenset(r.hash.lower() for r in hashes),
            messages={r.code: r.message for r in messages},
        )
