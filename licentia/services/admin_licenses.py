"""License keys: masked bulk generation, single adds, ban/pause and their reversals (B.6)."""

from __future__ import annotations

import math
import re
import secrets
import string
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, and_, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from licentia.services.admin_common import (
    AdminError,
    check_email,
    check_note,
    check_pattern,
    end_sessions,
    exists,
    invalid,
    load_app,
    parse_int,
    require_subscription,
    resolve_term,
    trim,
)
from licentia.services.runtime import Runtime
from licentia.store.tables import bindings, licenses
from licentia.store.types import new_id

DEFAULT_MASK = "XXXXX-XXXXX-XXXXX-XXXXX-XXXXX"
MAX_COUNT = 100_000
MIN_RANDOM_POSITIONS = 8
MAX_KEY_LENGTH = 64
INSERT_BATCH = 1000
_LOOKUP_BATCH = 900  # keys per `IN (...)` collision lookup
_MAX_DRAW_ROUNDS = 64

_KEY_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
_MASK_LITERALS = frozenset(
    set(string.ascii_uppercase) - {"X"}
    | set(string.ascii_lowercase)
    | set(string.digits)
    | {"-", "_"}
)
_RANDOM_SLOTS = frozenset("X*")


# -- key generation (pure) ---------------------------------------------------------------


@dataclass(frozen=True)
class CompiledMask:
    """A mask as a `%`-template: one `%s` per random position, literals kept as they are."""

    template: str
    random_positions: int


def compile_mask(mask: str) -> CompiledMask:
    """Validate a key mask (B.6) and turn it into a template."""
    if not 1 <= len(mask) <= MAX_KEY_LENGTH:
        raise invalid("mask", f"mask must be 1 to {MAX_KEY_LENGTH} characters")
    parts: list[str] = []
    random_positions = 0
    for ch in mask:
        if ch in _RANDOM_SLOTS:
            parts.append("%s")
            random_positions += 1
        elif ch in _MASK_LITERALS:
            parts.append(ch)
        else:
            raise invalid(
                "mask",
                f"mask character {ch!r} is not allowed: use X or * for a random character and "
                "A-W, Y-Z, a-z, 0-9, - or _ as literals",
            )
    if random_positions < MIN_RANDOM_POSITIONS:
        raise invalid(
            "mask", f"mask needs at least {MIN_RANDOM_POSITIONS} random positions (X or *)"
        )
    return CompiledMask(template="".join(parts), random_positions=random_positions)


def charset(
    *, use_capital: bool = True, use_lowercase: bool = False, use_numbers: bool = True
) -> str:
    chars = ""
    if use_capital:
        chars += string.ascii_uppercase
    if use_lowercase:
        chars += string.ascii_lowercase
    if use_numbers:
        chars += string.digits
    if not chars:
        raise AdminError(
            "INVALID_INPUT",
            "choose at least one character set (capitals, lowercase, numbers)",
            ["use_capital", "use_lowercase", "use_numbers"],
        )
    return chars


def random_chars(count: int, alphabet: str) -> str:
    """`count` characters, each uniform over `alphabet`, from the OS CSPRNG.

    Rejection sampling over random bytes: a byte is kept only below the largest multiple of
    the alphabet size, so every character is equally likely; `bytes.translate` does the
    mapping and the dropping in C, which keeps a million keys well under a second.
    """
    size = len(alphabet)
    if not 1 <= size <= 256:
        raise ValueError("alphabet must have 1 to 256 characters")
    limit = 256 - 256 % size
    table = bytes(ord(alphabet[b % size]) if b < limit else 0 for b in range(256))
    rejected = bytes(range(limit, 256))
    out: list[str] = []
    have = 0
    while have < count:
        need = count - have
        raw = secrets.token_bytes(math.ceil(need * 256 / limit) + 16)
        chunk = raw.translate(table, rejected).decode("ascii")[:need]
        out.append(chunk)
        have += len(chunk)
    return "".join(out)


def draw_keys(mask: CompiledMask, alphabet: str, count: int) -> list[str]:
    """`count` keys drawn from `mask` (duplicates possible; callers dedupe)."""
    width = mask.random_positions
    chars = random_chars(count * width, alphabet)
    template = mask.template
    return [template % tuple(chars[i : i + width]) for i in range(0, count * width, width)]


# -- results -----------------------------------------------------------------------------


@dataclass(frozen=True)
class LicenseState:
    id: str
    app_id: str
    key: str
    status: str
    banned: bool
    ban_reason: str
    paused: bool
    expires_at: datetime | None
    duration_days: int | None
    fixed_expiry: datetime | None
    device_limit: int
    subscription_id: str


def _state(row: Row[Any]) -> LicenseState:
    return LicenseState(
        id=row.id,
        app_id=row.app_id,
        key=row.key,
        status=row.status,
        banned=row.banned,
        ban_reason=row.ban_reason,
        paused=row.paused,
        expires_at=row.expires_at,
        duration_days=row.duration_days,
        fixed_expiry=row.fixed_expiry,
        device_limit=row.device_limit,
        subscription_id=row.subscription_id,
    )


# -- generation --------------------------------------------------------------------------


async def _existing_keys(conn: AsyncConnection, app_id: str, keys: Iterable[str]) -> set[str]:
    found: set[str] = set()
    batch: list[str] = []

    async def flush() -> None:
        if batch:
            rows = await conn.execute(
                select(licenses.c.key).where(
                    and_(licenses.c.app_id == app_id, licenses.c.key.in_(batch))
                )
            )
            found.update(rows.scalars())
            batch.clear()

    for key in keys:
        batch.append(key)
        if len(batch) >= _LOOKUP_BATCH:
            await flush()
    await flush()
    return found


def _fresh_keys(mask: CompiledMask, alphabet: str, count: int, seen: set[str]) -> list[str]:
    """`count` keys not in `seen` (keys this call already drew); adds them to `seen`."""
    out: list[str] = []
    for _ in range(_MAX_DRAW_ROUNDS):
        for key in draw_keys(mask, alphabet, count - len(out)):
            if key not in seen:
                seen.add(key)
                out.append(key)
        if len(out) == count:
            return out
    raise exists("the mask cannot yield enough distinct keys")


async def _insert_batch(
    conn: AsyncConnection,
    app_id: str,
    mask: CompiledMask,
    alphabet: str,
    count: int,
    seen: set[str],
    row: Callable[[str], dict[str, Any]],
) -> list[str]:
    """Insert `count` new keys; a key the app already has is redrawn.

    Optimistic: the batch goes in under a savepoint, and only when the unique constraint
    refuses it are the existing keys looked up, replaced and the batch tried again. With the
    default mask a collision essentially never happens, so the common case costs one
    executemany per batch and no lookups; a dense mask still converges by redrawing.
    """
    pending = _fresh_keys(mask, alphabet, count, seen)
    for _ in range(_MAX_DRAW_ROUNDS):
        try:
            async with conn.begin_nested():
                await conn.execute(licenses.insert(), [row(key) for key in pending])
        except IntegrityError:
            taken = await _existing_keys(conn, app_id, pending)
            if not taken:
                raise
            pending = [key for key in pending if key not in taken]
            pending += _fresh_keys(mask, alphabet, len(taken), seen)
            continue
        return pending
    raise exists("the mask cannot yield enough new keys for this app")


async def generate_licenses(
    rt: Runtime,
    app_id: str,
    subscription_name: str,
    *,
    days: int | None = None,
    expires: datetime | None = None,
    lifetime: bool = False,
    device_limit: int = 1,
    count: int = 1,
    mask: str = DEFAULT_MASK,
    note: str = "",
    use_capital: bool = True,
    use_lowercase: bool = False,
    use_numbers: bool = True,
    created_by: str = "cli",
    progress: Callable[[int], None] | None = None,
) -> list[str]:
    """Generate `count` new keys from `mask`, all in one transaction (all or none).

    Term: exactly one of `days` (starts at first use), `expires` (fixed date) or `lifetime`.
    `progress(n)` is called after each inserted batch with the number of rows written so far.
    """
    term = resolve_term(days=days, expires=expires, lifetime=lifetime, default_lifetime=False)
    amount = parse_int(count, "count", low=1, high=MAX_COUNT)
    limit = parse_int(device_limit, "device_limit", low=0)
    compiled = compile_mask(mask)
    alphabet = charset(
        use_capital=use_capital, use_lowercase=use_lowercase, use_numbers=use_numbers
    )
    if len(alphabet) ** compiled.random_positions < amount:
        raise exists("the mask cannot yield that many distinct keys")
    text_note = check_note(note)
    batch_id = str(uuid.uuid4())
    now = rt.clock()
    async with rt.db.write() as conn:
        await load_app(conn, app_id)
        sub = await require_subscription(conn, app_id, subscription_name)
        constant = {
            "app_id": app_id,
            "subscription_id": sub.id,
            "duration_days": term.duration_days,
            "fixed_expiry": term.fixed_expiry,
            "device_limit": limit,
            "note": text_note,
            "status": "unused",
            "created_at": now,
            "created_by": created_by,
            "batch_id": batch_id,
        }

        def row(key: str) -> dict[str, Any]:
            return {"id": new_id(), "key": key, **constant}

        keys: list[str] = []
        seen: set[str] = set()
        while len(keys) < amount:
            size = min(INSERT_BATCH, amount - len(keys))
            keys += await _insert_batch(conn, app_id, compiled, alphabet, size, seen, row)
            if progress is not None:
                progress(len(keys))
    return keys


async def add_license(
    rt: Runtime,
    app_id: str,
    key: str,
    subscription_name: str,
    *,
    days: int | None = None,
    expires: datetime | None = None,
    lifetime: bool = False,
    device_limit: int = 1,
    note: str = "",
    email: str = "",
    created_by: str = "cli",
) -> LicenseState:
    """Add one specific key. No term given means lifetime (management A.7 `license add`)."""
    text = trim(key)
    check_pattern(text, "key", _KEY_PATTERN, "1 to 64 of A-Z a-z 0-9 - _")
    term = resolve_term(days=days, expires=expires, lifetime=lifetime, default_lifetime=True)
    limit = parse_int(device_limit, "device_limit", low=0)
    text_note = check_note(note)
    mail = check_email(email)
    license_id = new_id()
    try:
        async with rt.db.write() as conn:
            await load_app(conn, app_id)
            sub = await require_subscription(conn, app_id, subscription_name)
            if await _find(conn, app_id, text) is not None:
                raise exists(f"the key {text!r} already exists in this app")
            await conn.execute(
                licenses.insert().values(
                    id=license_id,
                    app_id=app_id,
                    key=text,
                    subscription_id=sub.id,
                    duration_days=term.duration_days,
                    fixed_expiry=term.fixed_expiry,
                    device_limit=limit,
                    note=text_note,
                    email=mail,
                    status="unused",
                    created_at=rt.clock(),
                    created_by=created_by,
                )
            )
            row = await _find(conn, app_id, text)
    except IntegrityError:
        raise exists(f"the key {text!r} already exists in this app") from None
    assert row is not None
    return _state(row)


# -- state changes -----------------------------------------------------------------------


async def _find(conn: AsyncConnection, app_id: str, key: str) -> Row[Any] | None:
    return (
        await conn.execute(
            select(licenses).where(and_(licenses.c.app_id == app_id, licenses.c.key == key))
        )
    ).first()


async def _require(conn: AsyncConnection, app_id: str, key: str) -> Row[Any]:
    await load_app(conn, app_id)
    row = await _find(conn, app_id, trim(key))
    if row is None:
        raise AdminError("LICENSE_NOT_FOUND", "license key not found in this app", ["key"])
    return row


async def get_license(rt: Runtime, app_id: str, key: str) -> LicenseState:
    async with rt.db.read() as conn:
        return _state(await _require(conn, app_id, key))


async def count_licenses(rt: Runtime, app_id: str, *, status: str | None = None) -> int:
    query = select(func.count()).select_from(licenses).where(licenses.c.app_id == app_id)
    if status is not None:
        query = query.where(licenses.c.status == status)
    async with rt.db.read() as conn:
        return int((await conn.execute(query)).scalar_one())


async def unused_keys(rt: Runtime, app_id: str, *, limit: int = 100) -> list[str]:
    """Keys a client could still activate: unused, not banned or paused, not past a fixed date."""
    now = rt.clock()
    async with rt.db.read() as conn:
        rows = await conn.execute(
            select(licenses.c.key)
            .where(
                and_(
                    licenses.c.app_id == app_id,
                    licenses.c.status == "unused",
                    licenses.c.banned.is_(False),
                    licenses.c.paused.is_(False),
                    (licenses.c.fixed_expiry.is_(None)) | (licenses.c.fixed_expiry > now),
                )
            )
            .order_by(licenses.c.created_at, licenses.c.key)
            .limit(limit)
        )
        return list(rows.scalars())


async def _change(
    rt: Runtime, app_id: str, key: str, action: str, reason: str = ""
) -> LicenseState:
    reason_text = check_note(reason, "reason")
    now = rt.clock()
    async with rt.db.write() as conn:
        row = await _require(conn, app_id, key)
        values: dict[str, Any] = {}
        if action == "ban":
            if not row.banned:
                values = {"banned": True, "ban_reason": reason_text}
            # Ended again on a repeated ban: a login racing the first ban may have slipped in.
            await end_sessions(conn, "license", row.id, "banned", now)
        elif action == "unban":
            if row.banned:
                values = {"banned": False, "ban_reason": ""}
        elif action == "pause":
            if not row.paused:
                values = {"paused": True, "paused_at": now}
            await end_sessions(conn, "license", row.id, "paused", now)
        elif action == "unpause":
            if row.paused:
                values = {"paused": False, "paused_at": None}
                values.update(_thawed(row, now))
        else:  # pragma: no cover - internal misuse
            raise ValueError(action)
        if values:
            await conn.execute(update(licenses).where(licenses.c.id == row.id).values(values))
        fresh = await _find(conn, app_id, row.key)
    assert fresh is not None
    return _state(fresh)


def _thawed(row: Row[Any], now: datetime) -> dict[str, Any]:
    """Pause freezes time: move the expiry forward by the time spent paused."""
    if row.paused_at is None:
        return {}
    frozen = max(now - row.paused_at, timedelta(0))
    values: dict[str, Any] = {}
    if row.expires_at is not None:
        values["expires_at"] = row.expires_at + frozen
    if row.status == "unused" and row.fixed_expiry is not None:
        values["fixed_expiry"] = row.fixed_expiry + frozen
    return values


async def ban_license(rt: Runtime, app_id: str, key: str, reason: str = "") -> LicenseState:
    """Ban (idempotent); ends the key's live sessions."""
    return await _change(rt, app_id, key, "ban", reason)


async def unban_license(rt: Runtime, app_id: str, key: str, reason: str = "") -> LicenseState:
    return await _change(rt, app_id, key, "unban", reason)


async def pause_license(rt: Runtime, app_id: str, key: str, reason: str = "") -> LicenseState:
    """Pause (idempotent); freezes the remaining time and ends the key's live sessions."""
    return await _change(rt, app_id, key, "pause", reason)


async def unpause_license(rt: Runtime, app_id: str, key: str, reason: str = "") -> LicenseState:
    """Unpause (idempotent); moves `expires_at` forward by the time spent paused."""
    return await _change(rt, app_id, key, "unpause", reason)


async def delete_license(rt: Runtime, app_id: str, key: str) -> None:
    """Delete a key, its SID bindings, and end its sessions. Users it created stay."""
    now = rt.clock()
    async with rt.db.write() as conn:
        row = await _require(conn, app_id, key)
        await end_sessions(conn, "license", row.id, "deleted", now)
        await conn.execute(
            delete(bindings).where(
                and_(bindings.c.holder_kind == "license", bindings.c.holder_id == row.id)
            )
        )
        await conn.execute(delete(licenses).where(licenses.c.id == row.id))
