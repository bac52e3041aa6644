"""Protocol date rules (client protocol 0.14): UTC `YYYY-MM-DDTHH:MM:SSZ`, lifetime, days left."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

LIFETIME_DATE = "9999-12-31T23:59:59Z"
LIFETIME_DAYS_LEFT = 36500
LIFETIME_SECONDS = 3153600000  # 36500 days


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso_z(value: datetime | None) -> str:
    """Format a timestamp for clients; `None` gives `""` (a string with no value)."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(value: str) -> datetime:
    """Parse an ISO-8601 date or timestamp; naive values are taken as UTC."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def days_left(expiry: datetime | None, now: datetime) -> int:
    """`max(0, ceil((expiry - now) / 1 day))`; lifetime (`None`) is 36500."""
    if expiry is None:
        return LIFETIME_DAYS_LEFT
    seconds = (expiry - now).total_seconds()
    if seconds <= 0:
        return 0
    return math.ceil(seconds / 86400)


def expiry_fields(expiry: datetime | None, now: datetime) -> dict[str, object]:
    """The three expiry keys of a profile object."""
    if expiry is None:
        return {"expiry_date": LIFETIME_DATE, "lifetime": True, "days_left": LIFETIME_DAYS_LEFT}
    return {"expiry_date": iso_z(expiry), "lifetime": False, "days_left": days_left(expiry, now)}


def ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def plus_seconds(value: datetime, seconds: float) -> datetime:
    return value + timedelta(seconds=seconds)
