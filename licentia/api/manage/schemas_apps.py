"""Request and response bodies of the app family of the management API: apps (B.4),
variables (B.10), chat (B.11), client logs and auth events (B.12), version control (B.14),
hashes (B.15), IP/SID/VPN/country rules (B.16) and custom messages (B.17).

Dates leave as UTC `YYYY-MM-DDTHH:MM:SSZ`; request bodies refuse unknown fields.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from licentia.api.manage.schemas import Strict, UtcTime

ListName = Literal["allow", "deny"]
RuleKind = Literal["ip", "sid"]

# -- apps --------------------------------------------------------------------------------


class AppSummary(BaseModel):
    id: str
    name: str
    is_enabled: bool
    created_at: UtcTime


class AppList(BaseModel):
    items: list[AppSummary]


class AppSettings(BaseModel):
    """Every setting of an app (management B.4, B.14)."""

    is_enabled: bool
    user_panel_enabled: bool
    hwid_lock: bool
    require_request_signature: bool
    allow_password_change: bool
    client_create_variables: bool
    hash_check: bool
    vpn_block: bool
    auto_update_enabled: bool
    hwid_reset_cooldown: int
    hwid_reset_max_per_30_days: int
    session_idle_timeout: int
    session_max_lifetime: int
    log_retention_days: int
    offline_ticket_ttl: int
    url_prefix: str
    blocked_countries: str
    latest_version: str
    download_url: str
    reminder_message: str
    changelog: str


class AppOut(AppSettings):
    id: str
    name: str
    created_at: UtcTime
    config_rev: int
    plan_name: str
    total_users: int
    total_licenses: int
    total_devices: int
    total_subscriptions: int
    total_variables: int


class AppPatchOut(AppOut):
    warnings: list[str] = Field(
        default_factory=list,
        description="Accepted values that leave the SDK-safe subset (download_url, changelog), "
        "or the notice that deployed clients still send an app's old name",
    )


class AppPatch(Strict):
    """Any settings to change; all are applied or none. `null` is refused."""

    is_enabled: bool | None = None
    user_panel_enabled: bool | None = None
    hwid_lock: bool | None = None
    require_request_signature: bool | None = None
    allow_password_change: bool | None = None
    client_create_variables: bool | None = None
    hash_check: bool | None = None
    vpn_block: bool | None = None
    auto_update_enabled: bool | None = None
    hwid_reset_cooldown: int | None = None
    hwid_reset_max_per_30_days: int | None = None
    session_idle_timeout: int | None = None
    session_max_lifetime: int | None = None
    log_retention_days: int | None = None
    offline_ticket_ttl: int | None = None
    url_prefix: str | None = None
    blocked_countries: str | None = None
    latest_version: str | None = None
    download_url: str | None = None
    reminder_message: str | None = None
    changelog: str | None = None


class AppCreate(Strict):
    name: str = Field(max_length=256, description="1 to 64 characters, SDK-safe")


class AppCreated(BaseModel):
    id: str
    name: str
    owner_id: str
    secret: str = Field(description="64 hex characters; also readable later with GET .../secret")


class AppRename(Strict):
    name: str = Field(max_length=256)


class SecretOut(BaseModel):
    app_id: str
    secret: str


# -- variables ---------------------------------------------------------------------------


class VariableOut(BaseModel):
    key: str
    value: str
    writable: bool
    auth_required: bool
    updated_at: UtcTime
    updated_by: str
    created_at: UtcTime


class VariableList(BaseModel):
    items: list[VariableOut]


class VariableSet(Strict):
    """Creates or updates; on update omitted flags are kept."""

    value: str = Field(max_length=4096)
    writable: bool | None = None
    auth_required: bool | None = None


class VariableSetOut(VariableOut):
    created: bool
    warnings: list[str] = Field(default_factory=list)


# -- chat --------------------------------------------------------------------------------


class ChannelOut(BaseModel):
    id: str
    name: str
    send_delay: int
    max_messages: int
    created_at: UtcTime
    message_count: int


class ChannelList(BaseModel):
    items: list[ChannelOut]


class ChannelCreate(Strict):
    name: str = Field(max_length=64)
    send_delay: int = 2
    max_messages: int = 10000


class ChannelEdit(Strict):
    name: str | None = Field(default=None, max_length=64, description="new name")
    send_delay: int | None = None
    max_messages: int | None = None


class MessageOut(BaseModel):
    id: int
    channel: str
    username: str
    message: str
    client_ip: str
    deleted: bool
    created_at: UtcTime


class MessagePage(BaseModel):
    items: list[MessageOut]
    next_cursor: str | None


class DeleteByUser(Strict):
    username: str = Field(max_length=64)
    channel: str | None = Field(default=None, max_length=64, description="default: every channel")


class CountOut(BaseModel):
    count: int


class MuteIn(Strict):
    username: str = Field(max_length=64)
    channel: str | None = Field(default=None, max_length=64, description="default: app-wide")
    expires_at: datetime | None = Field(default=None, description="default: permanent")
    reason: str = Field(default="", max_length=500)


class MuteOut(BaseModel):
    id: str
    username: str
    channel: str | None
    reason: str
    expires_at: UtcTime | None
    created_by: str
    created_at: UtcTime


class MuteList(BaseModel):
    items: list[MuteOut]


# -- logs --------------------------------------------------------------------------------


class ClientLogOut(BaseModel):
    id: int
    created_at: UtcTime
    session: str
    identity_kind: str
    identity: str
    client_ip: str
    reported_ip: str
    message: str


class ClientLogPage(BaseModel):
    items: list[ClientLogOut]
    next_cursor: str | None


class AuthEventOut(BaseModel):
    id: int
    created_at: UtcTime
    endpoint: str
    code: str
    identity: str
    client_ip: str
    reported_ip: str
    country: str
    sid: str
    client_version: str


class AuthEventPage(BaseModel):
    items: list[AuthEventOut]
    next_cursor: str | None


class PurgeIn(Strict):
    """Exactly one of `before` (delete entries older than this) and `all: true`."""

    before: datetime | None = None
    all: bool = False


# -- versions ----------------------------------------------------------------------------


class VersionRuleOut(BaseModel):
    version: str
    mode: str
    allowed_until: UtcTime | None
    note: str
    created_at: UtcTime


class VersionSettingsOut(BaseModel):
    latest_version: str
    download_url: str
    auto_update_enabled: bool
    reminder_message: str
    changelog: str


class VersionSettingsPatchOut(VersionSettingsOut):
    warnings: list[str] = Field(default_factory=list)


class VersionList(BaseModel):
    items: list[VersionRuleOut]
    settings: VersionSettingsOut


class VersionCreate(Strict):
    version: str = Field(max_length=32)
    mode: str = Field(default="allow", description="allow, reminder, grace (temporary), block")
    allowed_until: datetime | None = Field(default=None, description="required for grace")
    note: str = Field(default="", max_length=500)


class VersionEdit(Strict):
    mode: str | None = None
    allowed_until: datetime | None = None
    note: str | None = Field(default=None, max_length=500)


class VersionSettingsPatch(Strict):
    latest_version: str | None = None
    download_url: str | None = None
    auto_update_enabled: bool | None = None
    reminder_message: str | None = None
    changelog: str | None = None


class VersionTestOut(BaseModel):
    version: str
    latest_version: str
    outcome: str = Field(description="pass, reminder, grace, UPDATE_REQUIRED or VERSION_MISMATCH")
    code: str
    http_status: int
    allowed_until: UtcTime | None
    rule: str | None = Field(description="the version of the rule that decided, if one did")


# -- hashes ------------------------------------------------------------------------------


class HashOut(BaseModel):
    hash: str
    note: str
    created_at: UtcTime


class HashList(BaseModel):
    hash_check: bool
    items: list[HashOut]


class HashCreate(Strict):
    hash: str = Field(max_length=128, description="64 hexadecimal characters")
    note: str = Field(default="", max_length=500)


class HashCheckOut(BaseModel):
    hash_check: bool


# -- rules -------------------------------------------------------------------------------


class RuleOut(BaseModel):
    kind: RuleKind
    value: str
    list: ListName
    note: str
    created_at: UtcTime


class NetworkOut(BaseModel):
    vpn_block: bool
    blocked_countries: list[str]


class RuleList(NetworkOut):
    items: list[RuleOut]


class RuleCreate(Strict):
    kind: RuleKind
    value: str = Field(max_length=128, description="IP or CIDR range (ip), or a SID (sid)")
    list: ListName = "deny"
    note: str = Field(default="", max_length=500)


class RuleAdded(RuleOut):
    created: bool = Field(description="false when the entry was already there")


class RuleImport(Strict):
    entries: list[RuleCreate] = Field(max_length=10_000)


class RuleImportOut(BaseModel):
    added: int
    existing: int


class VpnIn(Strict):
    enabled: bool


class CountriesIn(Strict):
    countries: list[str] = Field(max_length=300, description="ISO 3166-1 alpha-2 codes")


class CheckOut(BaseModel):
    ip: str
    sid: str
    country: str
    blacklisted: bool
    reason: str | None


# -- custom messages ---------------------------------------------------------------------


class ResponseOut(BaseModel):
    code: str
    category: str
    default_message: str
    message: str
    is_default: bool


class ResponseList(BaseModel):
    items: list[ResponseOut]


class ResponseSet(Strict):
    message: str = Field(max_length=1000)
