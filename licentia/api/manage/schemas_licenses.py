"""Request and response bodies of the subscription (B.5) and license (B.6) routes.

Dates leave as UTC `YYYY-MM-DDTHH:MM:SSZ`; `null` means "never" or lifetime. Request bodies
refuse unknown fields (a typo is a 400 naming the field, never silently ignored).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from licentia.api.manage.schemas import Strict, UtcTime
from licentia.services.admin_common import MAX_DAYS
from licentia.services.admin_licenses import DEFAULT_MASK, MAX_COUNT, MAX_IDEMPOTENCY_KEY

LicenseStateName = Literal["unused", "active", "used", "banned", "paused", "expired"]
ExportFormat = Literal["text", "csv", "json"]

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


class SubscriptionEdit(Strict):
    new_name: str | None = Field(None, description="rename (shows everywhere at once)")
    level: int | None = None


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
        None,
        max_length=MAX_IDEMPOTENCY_KEY,
        description="a retry with the same key within 24 hours returns the first batch; "
        "the same key with different parameters is 409 ALREADY_EXISTS",
    )


class LicenseBatch(BaseModel):
    keys: list[str]
    count: int
    batch_id: str
    replayed: bool = Field(False, description="true: an idempotent retry returned this batch")


class LicenseEdit(Strict):
    """Only the fields present change. The term (`expiry_date` or `duration_days`; both
    null = lifetime) may change only while the key is unused."""

    note: str | None = None
    device_limit: int | None = Field(None, ge=0, description="0 = unlimited")
    subscription: str | None = None
    email: str | None = Field(None, description='"" or null clears it')
    expiry_date: datetime | None = None
    duration_days: int | None = Field(None, ge=0, le=MAX_DAYS, description="0 = lifetime")


class LicenseShift(Strict):
    days: int | None = Field(None, ge=1, le=MAX_DAYS)
    expiry_date: datetime | None = Field(None, description="instead of days: the new date")


class SessionsEnded(BaseModel):
    ended: int


class LicensesDeleted(BaseModel):
    count: int
    keys: list[str]


class LicenseImported(BaseModel):
    count: int
    batch_id: str


class LicenseFileIn(Strict):
    """An offline license file for one machine (docs/tickets.md)."""

    hwid: str = Field(max_length=512, description="HWID/SID of the air-gapped machine")
    days: int = Field(description="days the file is valid, 1 to 36500 (the key's term caps it)")


class LicenseFileOut(BaseModel):
    key: str
    hwid: str
    expires_at: UtcTime
    ticket: str = Field(description="the file's content: licentia-ticket.v1.<payload>.<sig>")
