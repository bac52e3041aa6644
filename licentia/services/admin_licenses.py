"""License keys: masked bulk generation, single adds, ban/pause and their reversals (B.6)."""

from __future__ import annotations

import hashlib
import json
import math
import re
import secrets
import string
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, and_, bindparam, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from licentia.services import events
from licentia.services.admin_common import (
    MAX_DAYS,
    AdminError,
    Term,
    as_utc,
    check_email,
    check_length,
    check_norm_length,
    check_note,
    check_pattern,
    check_sdk_safe,
    end_sessions,
    exists,
    find_subscription,
    invalid,
    load_app,
    norm,
    parse_int,
    require_subscription,
    resolve_term,
    trim,
)
from licentia.services.events import PAST as _PAST
from licentia.services.runtime import Runtime
from licentia.services.views_licenses import (
    LICENSE_QUERY,
    LicenseFilter,
    SubscriptionView,
    license_clauses,
    subscription_view,
)
from licentia.store.tables import (
    bindings,
    devices,
    license_batches,
    licenses,
    sessions,
    subscriptions,
    users,
)
from licentia.store.types import new_id

DEFAULT_MASK = "XXXXX-XXXXX-XXXXX-XXXXX-XXXXX"
MAX_COUNT = 100_000
MIN_RANDOM_POSITIONS = 8
MAX_KEY_LENGTH = 64
INSERT_BATCH = 50_000
MAX_IDEMPOTENCY_KEY = 128
#: How long an `idempotency_key` names its batch (B.6); afterwards it may be reused.
IDEMPOTENCY_WINDOW = timedelta(hours=24)
_LOOKUP_BATCH = 900  # keys per `IN (...)` collision lookup
_MAX_DRAW_ROUNDS = 64

KEY_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
_KEY_PATTERN = KEY_PATTERN
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


def ordered_uuids(count: int, now_ms: int, start: int) -> list[str]:
    """`count` UUIDs (version 7, RFC 9562) that sort after every earlier one of this call.

    Layout: the 48-bit Unix time in ms of the call, the version, then a per-call counter
    (`start`, `start + 1`, ...) in the next 44 bits and 30 random bits. The ids of one
    generation are therefore strictly increasing, so a million rows append to the end of the
    primary-key index instead of landing on random pages (random version-4 ids made the index
    the bottleneck). Still 30 random bits per id, and unique by construction within the call;
    the primary key refuses the (vanishing) chance of a clash with another call in the same ms.
    """
    prefix = f"{now_ms & 0xFFFFFFFFFFFF:012x}"
    head = f"{prefix[:8]}-{prefix[8:]}-7"
    noise = secrets.token_bytes(4 * count)
    out: list[str] = []
    append = out.append
    for i in range(count):
        n = start + i
        r = int.from_bytes(noise[4 * i : 4 * i + 4], "big") & 0x3FFFFFFF
        # 12 bits of counter | variant 10 + 14 bits of counter | 18 bits counter + 30 random
        low = ((n & 0x3FFFF) << 30) | r
        append(f"{head}{(n >> 32) & 0xFFF:03x}-{0x8000 | ((n >> 18) & 0x3FFF):04x}-{low:012x}")
    return out


class _BulkInsert:
    """A prebuilt executemany INSERT of license rows that differ only in `id` and `key`.

    Compiled once per call for the connection's dialect; the constant columns are converted
    (bind processors) once, so each row is a plain tuple handed to the driver. SQLAlchemy's
    per-row parameter processing would otherwise dominate a million-key generation.
    """

    def __init__(self, conn: AsyncConnection, constant: dict[str, Any], now_ms: int) -> None:
        dialect = conn.dialect
        self.now_ms = now_ms
        self.made = 0
        names = ["id", "key", *constant]
        compiled = (
            licenses.insert()
            .values({name: bindparam(name) for name in names})
            .compile(dialect=dialect)
        )
        self.sql = str(compiled)
        order = list(compiled.positiontup or names)
        processed: dict[str, Any] = {}
        for name, value in constant.items():
            # dialect_impl: the dialect's own type (SQLite's DATETIME text format included)
            process = licenses.c[name].type.dialect_impl(dialect).bind_processor(dialect)
            processed[name] = process(value) if process is not None and value is not None else value
        self.id_at = order.index("id")
        self.key_at = order.index("key")
        self.template = [processed.get(name) for name in order]

    def rows(self, keys: list[str]) -> list[tuple[Any, ...]]:
        template, id_at, key_at = self.template, self.id_at, self.key_at
        out: list[tuple[Any, ...]] = []
        ids = ordered_uuids(len(keys), self.now_ms, self.made)
        self.made += len(keys)
        for row_id, key in zip(ids, sorted(keys), strict=True):
            values = template.copy()
            values[id_at] = row_id
            values[key_at] = key
            out.append(tuple(values))
        return out


async def _insert_batch(
    conn: AsyncConnection,
    app_id: str,
    mask: CompiledMask,
    alphabet: str,
    count: int,
    seen: set[str],
    insert: _BulkInsert,
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
                await conn.exec_driver_sql(insert.sql, insert.rows(pending))
        except IntegrityError:
            taken = await _existing_keys(conn, app_id, pending)
            if not taken:
                raise
            pending = [key for key in pending if key not in taken]
            pending += _fresh_keys(mask, alphabet, len(taken), seen)
            continue
        return pending
    raise exists("the mask cannot yield enough new keys for this app")


@dataclass(frozen=True)
class GeneratedBatch:
    """The keys of one bulk generation, sorted; `replayed`: an idempotent retry returned an
    earlier batch instead of creating one."""

    batch_id: str
    keys: list[str]
    replayed: bool = False


def _check_idempotency_key(value: str | None) -> str | None:
    if value is None:
        return None
    text = trim(value)
    if not text:
        return None
    check_length(text, "idempotency_key", low=1, high=MAX_IDEMPOTENCY_KEY)
    if any(not ch.isprintable() for ch in text):
        raise invalid("idempotency_key", "idempotency_key must be printable text")
    return text


def _request_digest(app_id: str, subscription_id: str, term: Term, **params: Any) -> str:
    """What a retry must repeat exactly: SHA-256 of the normalised parameters."""
    fixed = None if term.fixed_expiry is None else as_utc(term.fixed_expiry).isoformat()
    data = {
        "app_id": app_id,
        "subscription_id": subscription_id,
        "duration_days": term.duration_days,
        "fixed_expiry": fixed,
        **params,
    }
    raw = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(raw.encode()).hexdigest()


async def _replay(
    conn: AsyncConnection, owner_account_id: str, key: str, digest: str, now: datetime
) -> GeneratedBatch | None:
    """The batch an earlier call with this idempotency key created within the window; a
    key past its window is released (so the new batch can take it)."""
    prior = (
        await conn.execute(
            select(license_batches).where(
                and_(
                    license_batches.c.owner_account_id == owner_account_id,
                    license_batches.c.idempotency_key == key,
                )
            )
        )
    ).first()
    if prior is None:
        return None
    if prior.created_at <= now - IDEMPOTENCY_WINDOW:
        await conn.execute(
            update(license_batches)
            .where(license_batches.c.id == prior.id)
            .values(idempotency_key=None)
        )
        return None
    if not secrets.compare_digest(prior.request_digest, digest):
        raise AdminError(
            "ALREADY_EXISTS",
            "this idempotency_key was already used within the last 24 hours with different "
            "parameters; use a new idempotency_key",
            ["idempotency_key"],
        )
    keys = (
        await conn.execute(
            select(licenses.c.key).where(licenses.c.batch_id == prior.id).order_by(licenses.c.key)
        )
    ).scalars()
    return GeneratedBatch(batch_id=prior.id, keys=list(keys), replayed=True)


async def generate_batch(
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
    idempotency_key: str | None = None,
    created_by: str = "cli",
    progress: Callable[[int], None] | None = None,
    max_count: int = MAX_COUNT,
) -> GeneratedBatch:
    """Generate `count` new keys from `mask`, all in one transaction (all or none).

    Term: exactly one of `days` (starts at first use), `expires` (fixed date) or `lifetime`.
    Every generation records a `license_batches` row. With an `idempotency_key`, a repeat for
    the same owner within 24 hours returns the first batch (ALREADY_EXISTS when its parameters
    differ). `progress(n)` is called after each inserted batch with the rows written so far.
    `max_count` exists for benchmarks and operator tooling; the faces keep the B.6 limit.
    """
    term = resolve_term(days=days, expires=expires, lifetime=lifetime, default_lifetime=False)
    amount = parse_int(count, "count", low=1, high=max_count)
    limit = parse_int(device_limit, "device_limit", low=0)
    compiled = compile_mask(mask)
    alphabet = charset(
        use_capital=use_capital, use_lowercase=use_lowercase, use_numbers=use_numbers
    )
    if len(alphabet) ** compiled.random_positions < amount:
        raise exists("the mask cannot yield that many distinct keys")
    text_note = check_note(note)
    idem = _check_idempotency_key(idempotency_key)
    batch_id = str(uuid.uuid4())
    now = rt.clock()
    async with rt.db.write() as conn:
        app = await load_app(conn, app_id)
        sub = await require_subscription(conn, app_id, subscription_name)
        digest = _request_digest(
            app_id,
            sub.id,
            term,
            device_limit=limit,
            count=amount,
            mask=mask,
            note=text_note,
            alphabet=alphabet,
        )
        if idem is not None:
            replayed = await _replay(conn, app.owner_account_id, idem, digest, now)
            if replayed is not None:
                return replayed
        try:
            async with conn.begin_nested():
                await conn.execute(
                    license_batches.insert().values(
                        id=batch_id,
                        app_id=app_id,
                        owner_account_id=app.owner_account_id,
                        idempotency_key=idem,
                        request_digest=digest,
                        count=amount,
                        created_by=created_by[:64],
                        created_at=now,
                    )
                )
        except IntegrityError:
            # A concurrent call with the same key won the race: its batch is the one.
            raise AdminError(
                "ALREADY_EXISTS",
                "another generation with this idempotency_key is in progress; retry",
                ["idempotency_key"],
            ) from None
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
        insert = _BulkInsert(conn, constant, int(time.time() * 1000))
        keys: list[str] = []
        seen: set[str] = set()
        while len(keys) < amount:
            size = min(INSERT_BATCH, amount - len(keys))
            keys += await _insert_batch(conn, app_id, compiled, alphabet, size, seen, insert)
            if progress is not None:
                progress(len(keys))
        # One event per batch, never per key: a 100,000-key batch is one webhook.
        await events.emit(
            conn,
            app_id,
            "key.generated",
            {
                "batch_id": batch_id,
                "count": amount,
                "subscription": sub.name,
                "created_by": created_by[:64],
            },
            now=now,
        )
    keys.sort()
    return GeneratedBatch(batch_id=batch_id, keys=keys)


async def generate_licenses(
    rt: Runtime,
    app_id: str,
    subscription_name: str,
    **options: Any,
) -> list[str]:
    """`generate_batch`, returning only the keys (the older call shape)."""
    return (await generate_batch(rt, app_id, subscription_name, **options)).keys


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
            await events.emit(
                conn,
                app_id,
                f"license.{_PAST[action]}",
                {"license_key": row.key, "reason": reason_text},
                now=now,
            )
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


# -- license edits (B.6) -----------------------------------------------------------------


@dataclass(frozen=True)
class TermChange:
    """A new term for an unused key: `days` (from first use), `expires` or `lifetime`."""

    days: int | None = None
    expires: datetime | None = None
    lifetime: bool = False


async def edit_license(
    rt: Runtime,
    app_id: str,
    key: str,
    *,
    note: str | None = None,
    device_limit: int | None = None,
    subscription: str | None = None,
    email: str | None = None,
    term: TermChange | None = None,
) -> LicenseState:
    """Change the note, device limit, subscription or email; the term only while unused.

    Nothing given: MISSING_FIELDS. Values equal to the current ones change nothing.
    """
    values: dict[str, Any] = {}
    if note is not None:
        values["note"] = check_note(note)
    if device_limit is not None:
        values["device_limit"] = parse_int(device_limit, "device_limit", low=0)
    if email is not None:
        values["email"] = check_email(email)
    new_term = None
    if term is not None:
        new_term = resolve_term(
            days=term.days, expires=term.expires, lifetime=term.lifetime, default_lifetime=True
        )
    if not values and subscription is None and new_term is None:
        raise AdminError(
            "MISSING_FIELDS",
            "give at least one of note, device_limit, subscription, email or the term",
            ["note", "device_limit", "subscription", "email"],
        )
    async with rt.db.write() as conn:
        row = await _require(conn, app_id, key)
        if subscription is not None:
            values["subscription_id"] = (await require_subscription(conn, app_id, subscription)).id
        if new_term is not None:
            if row.status != "unused":
                raise invalid("expiry_date", "the term can only be changed while the key is unused")
            values["duration_days"] = new_term.duration_days
            values["fixed_expiry"] = new_term.fixed_expiry
        changed = {k: v for k, v in values.items() if getattr(row, k) != v}
        if changed:
            await conn.execute(update(licenses).where(licenses.c.id == row.id).values(changed))
        fresh = await _find(conn, app_id, row.key)
    assert fresh is not None
    return _state(fresh)


def _shift(current: datetime, days: int | None, expires: datetime | None, sign: int) -> datetime:
    if expires is not None:
        return as_utc(expires)
    assert days is not None
    return current + sign * timedelta(days=days)


async def shift_license(
    rt: Runtime,
    app_id: str,
    key: str,
    *,
    days: int | None = None,
    expires: datetime | None = None,
    sign: int = 1,
) -> LicenseState:
    """Extend (`sign` 1) or shorten (-1) by `days`, or set the expiry to `expires`.

    A lifetime key: INVALID_INPUT. An unused duration key changes `duration_days` (never below
    1, never above the maximum); an unused fixed-date key moves its date; an active or used
    key moves `expires_at`. `expires` on an unused duration key turns it into a fixed-date key.
    """
    if sign not in (1, -1):  # pragma: no cover - internal misuse
        raise ValueError(sign)
    if (days is None) == (expires is None):
        raise AdminError("INVALID_INPUT", "give days or a new date, not both", ["days", "expires"])
    if days is not None:
        days = parse_int(days, "days", low=1, high=MAX_DAYS)
    async with rt.db.write() as conn:
        row = await _require(conn, app_id, key)
        values: dict[str, Any] = {}
        if row.status == "unused":
            if row.fixed_expiry is not None:
                values["fixed_expiry"] = _shift(row.fixed_expiry, days, expires, sign)
            elif not row.duration_days:
                raise invalid("days", "a lifetime key cannot be extended or shortened")
            elif expires is not None:
                values.update(fixed_expiry=as_utc(expires), duration_days=None)
            else:
                assert days is not None
                values["duration_days"] = min(MAX_DAYS, max(1, row.duration_days + sign * days))
        elif row.expires_at is None:
            raise invalid("days", "a lifetime key cannot be extended or shortened")
        else:
            values["expires_at"] = _shift(row.expires_at, days, expires, sign)
        await conn.execute(update(licenses).where(licenses.c.id == row.id).values(values))
        fresh = await _find(conn, app_id, row.key)
    assert fresh is not None
    return _state(fresh)


async def extend_license(
    rt: Runtime, app_id: str, key: str, *, days: int | None = None, expires: datetime | None = None
) -> LicenseState:
    return await shift_license(rt, app_id, key, days=days, expires=expires, sign=1)


async def shorten_license(
    rt: Runtime, app_id: str, key: str, *, days: int | None = None, expires: datetime | None = None
) -> LicenseState:
    return await shift_license(rt, app_id, key, days=days, expires=expires, sign=-1)


async def _clear_bindings(conn: AsyncConnection, table: Any, kind: str, holder_id: str) -> int:
    result = await conn.execute(
        delete(bindings).where(
            and_(bindings.c.holder_kind == kind, bindings.c.holder_id == holder_id)
        )
    )
    await conn.execute(update(table).where(table.c.id == holder_id).values(last_sid="", last_ip=""))
    return int(result.rowcount or 0)


async def reset_license_hwid(rt: Runtime, app_id: str, key: str) -> int:
    """Clear the key's bound SIDs and last IP/SID; for a `used` key, those of the account that
    redeemed it (A.6). Returns how many bindings were removed."""
    async with rt.db.write() as conn:
        row = await _require(conn, app_id, key)
        removed = await _clear_bindings(conn, licenses, "license", row.id)
        if row.status == "used" and row.used_by_user_id:
            removed += await _clear_bindings(conn, users, "user", row.used_by_user_id)
        await events.emit(
            conn,
            app_id,
            "hwid.reset",
            {"kind": "license", "identity": row.key, "removed": removed},
            now=rt.clock(),
        )
    return removed


async def end_license_sessions(rt: Runtime, app_id: str, key: str) -> int:
    """End the key's live client sessions; returns how many were ended."""
    async with rt.db.write() as conn:
        row = await _require(conn, app_id, key)
        return await end_sessions(conn, "license", row.id, "ended", rt.clock())


async def delete_licenses(rt: Runtime, app_id: str, filters: LicenseFilter) -> list[str]:
    """Bulk delete every license matching `filters` (at least one filter; B.6 "all unused",
    "all expired", a batch, ...): their bindings go, their sessions end. Returns the keys."""
    if filters.is_empty():
        raise AdminError(
            "MISSING_FIELDS",
            "give at least one filter (state, subscription, note, batch, used_by, search, "
            "created range) for a bulk delete",
            ["state"],
        )
    now = rt.clock()
    async with rt.db.write() as conn:
        await load_app(conn, app_id)
        query = LICENSE_QUERY.with_only_columns(licenses.c.id, licenses.c.key).where(
            and_(*license_clauses(app_id, now, filters, sqlite=rt.db.is_sqlite))
        )
        rows = (await conn.execute(query)).all()
        ids = [r.id for r in rows]
        for start in range(0, len(ids), _LOOKUP_BATCH):
            chunk = ids[start : start + _LOOKUP_BATCH]
            live = (
                await conn.execute(
                    select(sessions.c.identity_id, func.count())
                    .where(
                        sessions.c.identity_kind == "license",
                        sessions.c.identity_id.in_(chunk),
                        sessions.c.ended_at.is_(None),
                    )
                    .group_by(sessions.c.identity_id)
                )
            ).all()
            await conn.execute(
                update(sessions)
                .where(
                    and_(
                        sessions.c.identity_kind == "license",
                        sessions.c.identity_id.in_(chunk),
                        sessions.c.ended_at.is_(None),
                    )
                )
                .values(ended_at=now, end_reason="deleted")
            )
            for identity_id, count in live:
                await events.sessions_ended(
                    conn, app_id, "license", identity_id, "deleted", count, now
                )
            await conn.execute(
                delete(bindings).where(
                    and_(bindings.c.holder_kind == "license", bindings.c.holder_id.in_(chunk))
                )
            )
            await conn.execute(delete(licenses).where(licenses.c.id.in_(chunk)))
    return sorted(r.key for r in rows)


# -- subscriptions (B.5 edit, delete) -----------------------------------------------------


def check_subscription_name(value: str, field_name: str = "name") -> str:
    text = trim(value)
    check_length(text, field_name, low=1, high=64)
    check_sdk_safe(text, field_name)
    check_norm_length(text, field_name, 64)
    return text


async def edit_subscription(
    rt: Runtime,
    app_id: str,
    name: str,
    *,
    new_name: str | None = None,
    level: int | None = None,
) -> tuple[SubscriptionView, SubscriptionView]:
    """Rename and/or change the level; returns (before, after). References are by id, so a
    rename shows everywhere at once. Nothing given: MISSING_FIELDS."""
    if new_name is None and level is None:
        raise AdminError("MISSING_FIELDS", "give new_name or level", ["new_name", "level"])
    renamed = check_subscription_name(new_name, "new_name") if new_name is not None else None
    lvl = parse_int(level, "level", low=-(2**31 - 1), high=2**31 - 1) if level is not None else None
    try:
        async with rt.db.write() as conn:
            await load_app(conn, app_id)
            row = await require_subscription(conn, app_id, name)
            values: dict[str, Any] = {}
            if renamed is not None and renamed != row.name:
                if norm(renamed) != row.name_norm:
                    if await find_subscription(conn, app_id, renamed) is not None:
                        raise exists(f"this app already has a subscription named {renamed!r}")
                values.update(name=renamed, name_norm=norm(renamed))
            if lvl is not None and lvl != row.level:
                values["level"] = lvl
            if values:
                await conn.execute(
                    update(subscriptions).where(subscriptions.c.id == row.id).values(values)
                )
            fresh = (
                await conn.execute(select(subscriptions).where(subscriptions.c.id == row.id))
            ).one()
    except IntegrityError:
        raise exists("this app already has a subscription with that name") from None
    return subscription_view(row), subscription_view(fresh)


@dataclass(frozen=True)
class DeletedSubscription:
    name: str
    reassigned_to: str | None
    moved: int  # licenses, users and devices moved to `reassigned_to`


async def delete_subscription(
    rt: Runtime, app_id: str, name: str, *, reassign_to: str | None = None
) -> DeletedSubscription:
    """Delete a subscription. While licenses, users or devices use it: IN_USE, unless
    `reassign_to` names another subscription, which then takes over every reference."""
    async with rt.db.write() as conn:
        await load_app(conn, app_id)
        row = await require_subscription(conn, app_id, name)
        target = None
        if reassign_to is not None and trim(reassign_to):
            target = await find_subscription(conn, app_id, reassign_to)
            if target is None:
                raise AdminError(
                    "SUBSCRIPTION_NOT_FOUND",
                    f"no subscription named {reassign_to!r} in this app",
                    ["reassign_to"],
                )
            if target.id == row.id:
                raise invalid("reassign_to", "reassign_to must name another subscription")
        used = 0
        for table in (licenses, users, devices):
            used += int(
                (
                    await conn.execute(
                        select(func.count())
                        .select_from(table)
                        .where(table.c.subscription_id == row.id)
                    )
                ).scalar_one()
            )
        if used and target is None:
            raise AdminError(
                "IN_USE",
                f"{used} licenses, users or devices use this subscription; give reassign_to",
                ["name"],
            )
        if target is not None:
            for table in (licenses, users, devices):
                await conn.execute(
                    update(table)
                    .where(table.c.subscription_id == row.id)
                    .values(subscription_id=target.id)
                )
        await conn.execute(delete(subscriptions).where(subscriptions.c.id == row.id))
    return DeletedSubscription(
        name=row.name, reassigned_to=None if target is None else target.name, moved=used
    )
