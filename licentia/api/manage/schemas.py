"""Request and response bodies of the management API (OpenAPI models).

Dates leave as UTC `YYYY-MM-DDTHH:MM:SSZ`; `null` means "never" or lifetime. Request bodies
refuse unknown fields (a typo is a 400 naming the field, never silently ignored).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

from licentia.domain.timeutil import iso_z
from licentia.services.admin_common import MAX_DAYS
from licentia.services.admin_licenses import DEFAULT_MASK, MAX_COUNT

UtcTime = Annotated[datetime, PlainSerializer(iso_z, return_type=str, when_used="json")]

LicenseStateName = Literal["unused", "active", "used", "banned", "paused", "expired"]
UserStateName = Literal["active", "banned", "paused", "expired"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


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
    total_users: int
    total_licenses: int
    total_devices: int
    total_subscriptions: int
    total_variables: int


class AppPatchOut(AppOut):
    warnings: list[str] = Field(
        default_factory=list,
        description="Accepted values that leave the SDK-safe subset (download_url, changelog)",
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
    url_prefix: str | None = None
    blocked_countries: str | None = None
    latest_version: str | None = None
    download_url: str | None = None
    reminder_message: str | None = None
    changelog: str | None = None


# -- subscriptions -----------------------------------------------------------------------


class SubscriptionOut(BaseModel):
    id: str
    name: str
    level: int
    created_at: UtcTime


class SubscriptionList(BaseModel):
    items: list[SubscriptionOut]


class SubscriptionCreate(Strict):
    name: str = Field(description="1 to 64 characters inside the SDK-safe subset")
    level: int = 1


# -- licenses ----------------------------------------------------------------------------


class LicenseOut(BaseModel):
    key: str
    subscription: str
    state: LicenseStateName = Field(
        description="banned, else paused, else expired, else status (B.6)"
    )
    status: Literal["unused", "active", "used"]
    banned: bool
    ban_reason: str
    paused: bool
    paused_at: UtcTime | None
    expired: bool
    expiry_date: UtcTime | None = Field(
        description="null = lifetime; for an unused duration key, the expiry if activated now"
    )
    duration_days: int | None = Field(description="duration keys only (0 = lifetime)")
    device_limit: int = Field(description="0 = unlimited")
    note: str
    email: str | None
    used_by: str | None
    activated_at: UtcTime | None
    last_login: UtcTime | None
    ip_address: str
    hwid: str
    created_at: UtcTime
    created_by: str
    batch_id: str | None


class LicensePage(BaseModel):
    items: list[LicenseOut]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page; null = end")


class _Term(Strict):
    expiry_date: datetime | None = Field(
        None,
        description="a fixed expiry date (ISO 8601); null, with no duration_days, = lifetime",
    )
    duration_days: int | None = Field(
        None, ge=0, le=MAX_DAYS, description="a term that starts at first use; 0 = lifetime"
    )
    device_limit: int = Field(1, ge=0, description="0 = unlimited")
    note: str = ""


class LicenseCreate(_Term):
    key: str = Field(description="1 to 64 of A-Z a-z 0-9 - _")
    subscription: str
    email: str | None = None


class LicenseGenerate(_Term):
    subscription: str
    amount: int = Field(1, ge=1, le=MAX_COUNT)
    mask: str = Field(DEFAULT_MASK, description="X or * = one random character")
    use_capital: bool = True
    use_lowercase: bool = False
    use_numbers: bool = True
    idempotency_key: str | None = Field(
        None, description="not supported yet by this server: giving one is refused (400)"
    )


class LicenseBatch(BaseModel):
    keys: list[str]
    count: int
    batch_id: str


class ReasonIn(Strict):
    reason: str = Field("", description="kept with a ban (at most 500 characters)")


# -- users -------------------------------------------------------------------------------


class UserOut(BaseModel):
    username: str
    subscription: str
    state: UserStateName = Field(description="banned, else paused, else expired, else active")
    banned: bool
    ban_reason: str
    paused: bool
    paused_at: UtcTime | None
    expired: bool
    email: str | None
    expiry_date: UtcTime | None = Field(description="null = lifetime")
    device_limit: int = Field(description="0 = unlimited")
    linked_license_key: str | None
    note: str
    created_at: UtcTime
    created_by: str
    last_login: UtcTime | None
    ip_address: str
    hwid: str


class UserPage(BaseModel):
    items: list[UserOut]
    next_cursor: str | None


class UserCreate(Strict):
    username: str
    password: str = Field(description="1 to 256 characters")
    subscription: str
    email: str | None = None
    expiry_date: datetime | None = Field(None, description="null or absent = lifetime")
    duration_days: int | None = Field(
        None, ge=0, le=MAX_DAYS, description="instead of expiry_date: now + days; 0 = lifetime"
    )
    device_limit: int = Field(1, ge=0, description="0 = unlimited")
    note: str = ""
