"""Request and response bodies of the management API for users (B.7), bound devices (B.8),
hardware devices (B.9) and client sessions (B.13).

Dates leave as UTC `YYYY-MM-DDTHH:MM:SSZ`; `null` means "never" or lifetime. Request bodies
refuse unknown fields.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

from licentia.domain.timeutil import iso_z
from licentia.services.admin_common import MAX_DAYS

# The same two helpers as `schemas` (which re-exports this module's user models, so this
# module must not import it back).
UtcTime = Annotated[datetime, PlainSerializer(iso_z, return_type=str, when_used="json")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


UserStateName = Literal["active", "banned", "paused", "expired"]
DeviceStateName = Literal["active", "banned", "paused", "expired", "unactivated"]
DeviceTypeName = Literal["motherboard", "processor"]
SessionStateName = Literal["live", "expired", "ended"]
IdentityKindName = Literal["user", "license", "device", "none"]
HolderKindName = Literal["user", "license"]
ExportFormat = Literal["csv", "json"]

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
    current_devices: int = Field(0, description="bound SIDs")
    linked_license_key: str | None
    note: str
    created_at: UtcTime
    created_by: str
    last_login: UtcTime | None
    ip_address: str
    hwid: str = Field(description="the last SID")


class UserPage(BaseModel):
    items: list[UserOut]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page; null = end")


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


class UserEdit(Strict):
    """Only the fields given change; `expiry_date: null` makes the user lifetime."""

    email: str | None = Field(None, description="null or empty = no email")
    subscription: str | None = None
    device_limit: int | None = Field(None, ge=0, description="0 = unlimited")
    expiry_date: datetime | None = Field(None, description="null = lifetime")
    note: str | None = None


class ShiftIn(Strict):
    days: int | None = Field(None, ge=1, le=MAX_DAYS, description="move the expiry by days")
    expiry_date: datetime | None = Field(None, description="or set the expiry to this date")


class PasswordResetIn(Strict):
    new_password: str = Field(description="1 to 256 characters; ends the user's sessions")


class PasswordCheckIn(Strict):
    password: str


class PasswordCheckOut(BaseModel):
    valid: bool
    username: str
    subscription: str
    expiry: UtcTime | None = Field(description="null = lifetime")
    banned: bool
    paused: bool


class EndedOut(BaseModel):
    ended: int = Field(description="how many live sessions were ended")


class ResetOut(BaseModel):
    removed: int = Field(description="how many bound SIDs were removed")


class ImportOut(BaseModel):
    created: int


# -- bound devices -----------------------------------------------------------------------


class BindingOut(BaseModel):
    holder_kind: HolderKindName
    holder: str = Field(description="username or license key")
    sid: str
    first_seen_at: UtcTime
    last_seen_at: UtcTime
    last_ip: str


class BindingList(BaseModel):
    items: list[BindingOut]


class BindingReset(Strict):
    holder_kind: HolderKindName
    holder: str


# -- hardware devices --------------------------------------------------------------------


class DeviceOut(BaseModel):
    device_type: DeviceTypeName
    device_id: str
    name: str
    email: str | None
    subscription: str
    state: DeviceStateName = Field(
        description="banned, else paused, else expired, else unactivated, else active"
    )
    activated: bool
    activated_at: UtcTime | None
    banned: bool
    ban_reason: str
    paused: bool
    paused_at: UtcTime | None
    expired: bool
    expiry_date: UtcTime | None = Field(description="null = lifetime")
    hwid: str
    ip_address: str
    note: str
    created_at: UtcTime
    created_by: str
    last_login: UtcTime | None


class DevicePage(BaseModel):
    items: list[DeviceOut]
    next_cursor: str | None


class DeviceCreate(Strict):
    device_type: str = Field(description="motherboard or processor (case-insensitive)")
    device_id: str
    subscription: str
    name: str = ""
    email: str | None = None
    expiry_date: datetime | None = Field(None, description="null or absent = lifetime")
    duration_days: int | None = Field(
        None, ge=0, le=MAX_DAYS, description="instead of expiry_date: now + days; 0 = lifetime"
    )
    note: str = ""


class DeviceEdit(Strict):
    name: str | None = None
    email: str | None = Field(None, description="null or empty = no email")
    subscription: str | None = None
    expiry_date: datetime | None = Field(None, description="null = lifetime")
    note: str | None = None


# -- sessions ----------------------------------------------------------------------------


class SessionOut(BaseModel):
    id: str = Field(description="the first 8 characters of the session id")
    identity_kind: IdentityKindName
    identity: str | None = Field(description="username, license key or device id")
    created_at: UtcTime
    last_seen_at: UtcTime
    expires_at: UtcTime
    state: SessionStateName
    end_reason: str | None
    ended_at: UtcTime | None
    client_ip: str
    client_version: str


class SessionPage(BaseModel):
    items: list[SessionOut]
    next_cursor: str | None


class EndAllIn(Strict):
    identity_kind: Literal["user", "license", "device"] | None = None
    identity: str | None = Field(
        None, description="username, license key or type:id; neither = every session of the app"
    )
