"""Shared pieces of the admin services: the domain error, input rules, lookups, session ends.

Every admin action validates its whole input before it writes anything and runs in one
transaction, so a refused call changes nothing.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Row, and_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from licentia.services import events
from licentia.store.tables import apps, sessions, subscriptions

#: Largest value an `Integer` column holds on every backend.
INT32_MAX = 2_147_483_647
#: Longest term in days (about 273 years): `now + days` stays far from `datetime.max`.
MAX_DAYS = 100_000

# Characters that break response verification in some SDK (client protocol 0.13).
SDK_UNSAFE = frozenset("<>&='")
# Line separators that C#, Go and Java escape (0.13); refused in stored content (0.5).
LINE_SEPARATORS = frozenset("\u0085\u2028\u2029")
# Stored-content rule (0.5): C0 controls other than TAB, LF and CR.
_C0_REFUSED = frozenset(chr(c) for c in range(0x20)) - {"\t", "\n", "\r"}
# What the client protocol trims from identity fields (0.5).
TRIM_CHARS = " \t\r\n"

_BOOL_TRUE = frozenset({"true", "1", "yes", "on", "y", "t"})
_BOOL_FALSE = frozenset({"false", "0", "no", "off", "n", "f"})
_EMAIL_SPACE = re.compile(r"\s")


class AdminError(Exception):
    """A refused admin action. Nothing was changed.

    `code` is stable and machine-readable: `INVALID_INPUT`, `ALREADY_EXISTS`, or a
    `<THING>_NOT_FOUND` code of the management API (`APP_NOT_FOUND`, `OWNER_NOT_FOUND`,
    `LICENSE_NOT_FOUND`, `USER_NOT_FOUND`, `DEVICE_NOT_FOUND`, `SUBSCRIPTION_NOT_FOUND`,
    `CHANNEL_NOT_FOUND`, `VERSION_NOT_FOUND`, `HASH_NOT_FOUND`, `RULE_NOT_FOUND`).
    `fields` names the offending inputs of a validation error.
    """

    def __init__(self, code: str, message: str, fields: list[str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.fields = sorted(set(fields)) if fields else None

    @property
    def is_not_found(self) -> bool:
        return self.code == "NOT_FOUND" or self.code.endswith("_NOT_FOUND")

    def __repr__(self) -> str:
        return f"AdminError({self.code!r}, {self.message!r}, fields={self.fields!r})"


def invalid(field: str, message: str) -> AdminError:
    return AdminError("INVALID_INPUT", message, [field])


def not_found(what: str, message: str) -> AdminError:
    return AdminError(f"{what.upper()}_NOT_FOUND", message)


def exists(message: str) -> AdminError:
    return AdminError("ALREADY_EXISTS", message)


# -- text rules --------------------------------------------------------------------------


def norm(value: str) -> str:
    """The case-insensitive twin stored in `*_norm` columns."""
    return value.casefold()


def trim(value: str) -> str:
    return value.strip(TRIM_CHARS)


def _is_control(ch: str) -> bool:
    return unicodedata.category(ch) == "Cc"


def check_length(value: str, field: str, *, low: int, high: int) -> None:
    if not low <= len(value) <= high:
        if low == 0:
            raise invalid(field, f"{field} must be at most {high} characters")
        raise invalid(field, f"{field} must be {low} to {high} characters")


def check_norm_length(value: str, field: str, high: int) -> None:
    # Case folding can lengthen text (`ß` -> `ss`); the `*_norm` column must still hold it.
    if len(norm(value)) > high:
        raise invalid(field, f"{field} is too long once case-folded")


def check_sdk_safe(value: str, field: str, *, allow_newline: bool = False) -> None:
    """Text that clients receive as `message` or as a name: inside the SDK-safe subset (0.13)."""
    for ch in value:
        if ch in SDK_UNSAFE:
            raise invalid(field, f"{field} must not contain < > & = or '")
        if ch in LINE_SEPARATORS or (_is_control(ch) and not (allow_newline and ch == "\n")):
            raise invalid(field, f"{field} must not contain control characters or line separators")


def check_identity_text(value: str, field: str) -> None:
    """Identity text (0.5): echoed in signed profiles, so no `< > & = '` and no controls."""
    check_sdk_safe(value, field)


def check_stored_content(value: str, field: str) -> None:
    """Stored-content rule (0.5): no C0 controls except TAB, LF, CR; no U+0085/2028/2029."""
    for ch in value:
        if ch in _C0_REFUSED or ch in LINE_SEPARATORS:
            raise invalid(field, f"{field} must not contain control characters or line separators")


def sdk_warnings(value: str, field: str) -> list[str]:
    """Warnings for vendor content that leaves the SDK-safe subset (accepted, 0.13)."""
    bad = sorted({ch for ch in value if ch in SDK_UNSAFE})
    if not bad:
        return []
    chars = " ".join(bad)
    return [
        f"{field} contains {chars}: responses carrying it fail signature verification in "
        "some SDKs (Go and Java for < > &, Java for = and ')"
    ]


def check_pattern(value: str, field: str, pattern: re.Pattern[str], description: str) -> None:
    if not pattern.fullmatch(value):
        raise invalid(field, f"{field} must be {description}")


def check_email(value: str, field: str = "email") -> str:
    """`""` means none; else at most 254, one `@` with text on both sides, no whitespace."""
    text = trim(value)
    if not text:
        return ""
    if len(text) > 254 or _EMAIL_SPACE.search(text):
        raise invalid(field, f"{field} is not a valid email address")
    local, at, domain = text.partition("@")
    if not at or not local or not domain or "@" in domain:
        raise invalid(field, f"{field} is not a valid email address")
    check_identity_text(text, field)
    return text


def check_note(value: str, field: str = "note") -> str:
    check_length(value, field, low=0, high=500)
    check_stored_content(value, field)
    return value


# -- typed values ------------------------------------------------------------------------


def parse_bool(value: object, field: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _BOOL_TRUE:
            return True
        if text in _BOOL_FALSE:
            return False
    raise invalid(field, f"{field} must be a boolean (true/false, 1/0, yes/no, on/off)")


def parse_int(value: object, field: str, *, low: int = 0, high: int = INT32_MAX) -> int:
    number: int
    if isinstance(value, bool):
        raise invalid(field, f"{field} must be an integer")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and re.fullmatch(r"\s*-?\d{1,15}\s*", value):
        number = int(value)
    else:
        raise invalid(field, f"{field} must be an integer")
    if not low <= number <= high:
        raise invalid(field, f"{field} must be between {low} and {high}")
    return number


def as_utc(value: datetime) -> datetime:
    """Aware UTC datetime; a naive value is taken as UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


@dataclass(frozen=True)
class Term:
    """A license term: `duration_days` (0 = lifetime) xor `fixed_expiry`."""

    duration_days: int | None
    fixed_expiry: datetime | None

    @property
    def lifetime(self) -> bool:
        return self.duration_days == 0


def resolve_term(
    *,
    days: int | None,
    expires: datetime | None,
    lifetime: bool,
    default_lifetime: bool,
) -> Term:
    given = sum((days is not None, expires is not None, bool(lifetime)))
    if given > 1:
        raise AdminError(
            "INVALID_INPUT",
            "give only one of days, expires and lifetime",
            ["days", "expires", "lifetime"],
        )
    if given == 0:
        if default_lifetime:
            return Term(duration_days=0, fixed_expiry=None)
        raise AdminError(
            "INVALID_INPUT",
            "give exactly one of days, expires and lifetime",
            ["days", "expires", "lifetime"],
        )
    if days is not None:
        return Term(duration_days=parse_int(days, "days", low=1, high=MAX_DAYS), fixed_expiry=None)
    if expires is not None:
        return Term(duration_days=None, fixed_expiry=as_utc(expires))
    return Term(duration_days=0, fixed_expiry=None)


def term_expiry(term: Term, now: datetime) -> datetime | None:
    """The expiry of something whose term starts now (users, devices); None = lifetime."""
    if term.fixed_expiry is not None:
        return term.fixed_expiry
    if not term.duration_days:
        return None
    return now + timedelta(days=term.duration_days)


# -- lookups -----------------------------------------------------------------------------


async def load_app(conn: AsyncConnection, app_id: str) -> Row[Any]:
    row = (await conn.execute(select(apps).where(apps.c.id == app_id))).first()
    if row is None:
        raise not_found("app", f"no app with id {app_id!r}")
    return row


async def bump_config_rev(conn: AsyncConnection, app_id: str) -> None:
    """Every change of an app's settings or rules bumps `config_rev` (workers cache by it)."""
    await conn.execute(
        update(apps).where(apps.c.id == app_id).values(config_rev=apps.c.config_rev + 1)
    )


async def find_subscription(conn: AsyncConnection, app_id: str, name: str) -> Row[Any] | None:
    """The app's subscription named `name`, compared case-insensitively."""
    return (
        await conn.execute(
            select(subscriptions).where(
                and_(
                    subscriptions.c.app_id == app_id,
                    subscriptions.c.name_norm == norm(trim(name)),
                )
            )
        )
    ).first()


async def require_subscription(conn: AsyncConnection, app_id: str, name: str) -> Row[Any]:
    row = await find_subscription(conn, app_id, name)
    if row is None:
        raise AdminError(
            "SUBSCRIPTION_NOT_FOUND",
            f"no subscription named {name!r} in this app",
            ["subscription"],
        )
    return row


async def end_sessions(
    conn: AsyncConnection, kind: str, identity_id: str, reason: str, now: datetime
) -> int:
    """End the live client sessions of one identity; returns how many were ended."""
    result = await conn.execute(
        update(sessions)
        .where(
            and_(
                sessions.c.identity_kind == kind,
                sessions.c.identity_id == identity_id,
                sessions.c.ended_at.is_(None),
            )
        )
        .values(ended_at=now, end_reason=reason)
    )
    ended = int(result.rowcount or 0)
    if ended:
        app_id = (
            await conn.execute(
                select(sessions.c.app_id)
                .where(sessions.c.identity_kind == kind, sessions.c.identity_id == identity_id)
                .limit(1)
            )
        ).scalar_one()
        await events.sessions_ended(conn, app_id, kind, identity_id, reason, ended, now)
    return ended
