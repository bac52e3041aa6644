"""The audit log (management B.20): who changed what, through which face, with what result.

Append-only: `record` writes one entry inside the caller's transaction, so an entry exists
exactly when its change was committed; `record_standalone` writes a refused call (whose own
transaction rolled back) in a transaction of its own. Entries are never edited.

Terms:

* **actor kind**: `account`, `token`, `elite-key`, `cli`, `portal` or `system`; **actor** the
  id or name within that kind (an account id, a token id, `cli`, ...).
* **face**: where the call came in: `rest`, `dashboard`, `cli`, `elite-key` or `portal`.
* **changes**: `{"field": [before, after]}`. A field whose name contains `password`,
  `secret`, `key` or `token` is stored as `"changed"` only, whatever the caller passed.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, and_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from licentia.domain.timeutil import iso_z, utcnow
from licentia.services.admin_common import AdminError, as_utc, invalid, not_found, trim
from licentia.services.runtime import Runtime
from licentia.store.tables import accounts, api_tokens, apps, audit_log

ACTOR_KINDS = frozenset({"account", "token", "elite-key", "cli", "portal", "system"})
FACES = frozenset({"rest", "dashboard", "cli", "elite-key", "portal"})
#: Substrings of a field name that mark its values as secret (logged only as "changed").
SECRET_MARKERS = ("password", "secret", "key", "token")
CHANGED = "changed"
#: Sign-ins and sign-outs: many a day, so the dashboard's audit page hides them on request.
SIGN_INS = ("owner.sign_in", "owner.sign_out", "portal.sign_in", "portal.sign_out")
MAX_LIMIT = 500
EXPORT_FORMATS = ("csv", "json")
EXPORT_MAX_ROWS = 100_000
CSV_COLUMNS = (
    "id",
    "created_at",
    "actor_kind",
    "actor",
    "face",
    "actor_ip",
    "app_id",
    "capability",
    "target_type",
    "target",
    "changes",
    "details",
    "result",
    "request_id",
)
# Spreadsheets run cells starting with these as formulas (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Actor:
    """Who acts and through which face; passed by every face to the services it calls."""

    kind: str
    name: str
    face: str
    ip: str = ""
    request_id: str = ""
    #: Further facts kept with the entry (Elite Key: `domain`, `url_prefix`).
    details: Mapping[str, Any] = field(default_factory=dict)


CLI_ACTOR = Actor(kind="cli", name="cli", face="cli")


@dataclass(frozen=True)
class AuditEntry:
    id: int
    created_at: datetime
    actor_kind: str
    actor: str
    face: str
    actor_ip: str
    owner_account_id: str | None
    app_id: str | None
    capability: str
    target_type: str
    target: str
    changes: dict[str, Any] | None
    details: dict[str, Any] | None
    result: str
    request_id: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "created_at": self.created_at,
            "actor_kind": self.actor_kind,
            "actor": self.actor,
            "face": self.face,
            "actor_ip": self.actor_ip,
            "app_id": self.app_id,
            "capability": self.capability,
            "target_type": self.target_type,
            "target": self.target,
            "changes": self.changes,
            "details": self.details,
            "result": self.result,
            "request_id": self.request_id,
        }


# -- writing -----------------------------------------------------------------------------


def is_secret_field(name: str) -> bool:
    lowered = name.lower()
    return any(marker in lowered for marker in SECRET_MARKERS)


def _plain(value: Any) -> Any:
    """A JSON-ready copy of a change value (timestamps as `YYYY-MM-DDTHH:MM:SSZ`)."""
    if isinstance(value, datetime):
        return iso_z(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [_plain(v) for v in value]
        return sorted(items, key=str) if isinstance(value, set | frozenset) else items
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def field_changes(before: Any, after: Any, fields: tuple[str, ...]) -> dict[str, list[Any]]:
    """`{field: [before, after]}` of the named attributes that differ; with no `before` (a
    creation) every field, from None."""
    return {
        f: [None if before is None else getattr(before, f), getattr(after, f)]
        for f in fields
        if before is None or getattr(before, f) != getattr(after, f)
    }


def redact(changes: Mapping[str, Any]) -> dict[str, Any]:
    """`{"field": [before, after]}` with every secret field reduced to `"changed"`."""
    out: dict[str, Any] = {}
    for name, value in changes.items():
        out[str(name)] = CHANGED if is_secret_field(str(name)) else _plain(value)
    return out


def _dumps(value: Mapping[str, Any] | None) -> str | None:
    if not value:
        return None
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _clip(value: str, size: int) -> str:
    return value if len(value) <= size else value[: size - 1] + "…"


async def record(
    conn: AsyncConnection,
    *,
    actor_kind: str,
    actor: str,
    face: str,
    owner_account_id: str | None,
    capability: str,
    target_type: str,
    target: str,
    changes: Mapping[str, Any] | None = None,
    result: str = "ok",
    actor_ip: str = "",
    app_id: str | None = None,
    request_id: str = "",
    details: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> None:
    """Append one entry in the caller's transaction. Secret fields of `changes` are redacted.

    `now` should be the runtime clock's time (`rt.clock()`); the wall clock when omitted.
    """
    if actor_kind not in ACTOR_KINDS:
        raise ValueError(f"unknown actor kind {actor_kind!r}")
    if face not in FACES:
        raise ValueError(f"unknown face {face!r}")
    await conn.execute(
        audit_log.insert().values(
            created_at=now if now is not None else utcnow(),
            actor_kind=actor_kind,
            actor=_clip(actor, 128),
            face=face,
            actor_ip=_clip(actor_ip, 64),
            owner_account_id=owner_account_id,
            app_id=app_id,
            capability=_clip(capability, 64),
            target_type=_clip(target_type, 32),
            target=_clip(target, 256),
            changes=_dumps(redact(changes) if changes else None),
            details=_dumps({k: _plain(v) for k, v in details.items()} if details else None),
            result=_clip(result, 40),
            request_id=_clip(request_id, 128),
        )
    )


async def record_as(
    conn: AsyncConnection,
    who: Actor,
    *,
    now: datetime,
    owner_account_id: str | None,
    capability: str,
    target_type: str,
    target: str,
    changes: Mapping[str, Any] | None = None,
    result: str = "ok",
    app_id: str | None = None,
) -> None:
    """`record` with the actor fields taken from an `Actor`."""
    await record(
        conn,
        actor_kind=who.kind,
        actor=who.name,
        face=who.face,
        actor_ip=who.ip,
        request_id=who.request_id,
        details=who.details,
        owner_account_id=owner_account_id,
        capability=capability,
        target_type=target_type,
        target=target,
        changes=changes,
        result=result,
        app_id=app_id,
        now=now,
    )


async def record_standalone(
    rt: Runtime,
    who: Actor,
    *,
    owner_account_id: str | None,
    capability: str,
    result: str,
    target_type: str = "",
    target: str = "",
    app_id: str | None = None,
) -> None:
    """Record a refused call (its own transaction rolled back) in a transaction of its own."""
    async with rt.db.write() as conn:
        await record_as(
            conn,
            who,
            now=rt.clock(),
            owner_account_id=owner_account_id,
            capability=capability,
            target_type=target_type,
            target=target,
            result=result,
            app_id=app_id,
        )


# -- reading -----------------------------------------------------------------------------


def entry_of(row: Any) -> AuditEntry:
    """An `audit_log` row as an entry (for services that read the log themselves)."""
    return _entry(row)


def _entry(row: Any) -> AuditEntry:
    return AuditEntry(
        id=int(row.id),
        created_at=row.created_at,
        actor_kind=row.actor_kind,
        actor=row.actor,
        face=row.face,
        actor_ip=row.actor_ip,
        owner_account_id=row.owner_account_id,
        app_id=row.app_id,
        capability=row.capability,
        target_type=row.target_type,
        target=row.target,
        changes=json.loads(row.changes) if row.changes else None,
        details=json.loads(row.details) if row.details else None,
        result=row.result,
        request_id=row.request_id,
    )


async def _owner_account_id(conn: AsyncConnection, owner_id: str) -> str:
    row = (
        await conn.execute(select(accounts.c.id).where(accounts.c.owner_id == trim(str(owner_id))))
    ).first()
    if row is None:
        raise not_found("owner", f"no owner with owner id {owner_id!r}")
    return str(row.id)


def _parse_cursor(cursor: str | None) -> int | None:
    if cursor is None or cursor == "":
        return None
    text = cursor.strip()
    if not text.isdigit() or len(text) > 18:
        raise invalid("cursor", "cursor must be a value returned as next_cursor")
    return int(text)


async def _actor_values(conn: AsyncConnection, actor: str) -> list[str]:
    """What the `actor` column may hold for an actor filter: the text itself (an account or
    token id, `cli`), and the id of the account whose username it is (any case)."""
    text = actor.strip()
    rows = (
        await conn.execute(
            select(accounts.c.id).where(accounts.c.username_norm == text.casefold()).limit(5)
        )
    ).all()
    return [text, *(str(r.id) for r in rows)]


def _query(
    account_id: str,
    *,
    actor: list[str] | None,
    capability: str | None,
    target: str | None,
    app_id: str | None,
    since: datetime | None,
    until: datetime | None,
    sign_ins: bool = True,
) -> Select[Any]:
    if since is not None and until is not None and as_utc(until) <= as_utc(since):
        raise AdminError("INVALID_INPUT", "until must be after since", ["since", "until"])
    clauses: list[Any] = [audit_log.c.owner_account_id == account_id]
    if actor:
        clauses.append(audit_log.c.actor.in_(actor))
    if capability:
        cap = capability.strip().lower()
        if cap.endswith(".*"):
            cap = cap[:-2]
        if "." in cap:
            clauses.append(audit_log.c.capability == cap)
        else:  # a resource name: every action of it
            clauses.append(audit_log.c.capability.startswith(cap + ".", autoescape=True))
    if target:
        clauses.append(audit_log.c.target == target)
    if app_id:
        clauses.append(audit_log.c.app_id == app_id)
    if not sign_ins and not (capability and "sign_" in capability):
        clauses.append(audit_log.c.capability.not_in(SIGN_INS))
    if since is not None:
        clauses.append(audit_log.c.created_at >= as_utc(since))
    if until is not None:
        clauses.append(audit_log.c.created_at < as_utc(until))
    return select(audit_log).where(and_(*clauses))


async def list_entries(
    rt: Runtime,
    owner_id: str,
    *,
    actor: str | None = None,
    capability: str | None = None,
    target: str | None = None,
    app_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    cursor: str | None = None,
    limit: int = 50,
    sign_ins: bool = True,
) -> tuple[list[AuditEntry], str | None]:
    """One page of the owner's entries, newest first, and the cursor of the next (or None).

    `capability` is a capability name (`license.ban`) or a resource name (`license`, every
    action of it). `actor` is an id (account, token, `cli`) or an account's username.
    `since` is inclusive, `until` exclusive. `sign_ins=False` leaves out dashboard and
    portal sign-ins and sign-outs (`SIGN_INS`) unless `capability` asks for them.
    """
    if isinstance(limit, bool) or not 1 <= limit <= MAX_LIMIT:
        raise invalid("limit", f"limit must be between 1 and {MAX_LIMIT}")
    after = _parse_cursor(cursor)
    async with rt.db.read() as conn:
        account_id = await _owner_account_id(conn, owner_id)
        query = _query(
            account_id,
            actor=await _actor_values(conn, actor) if actor else None,
            capability=capability,
            target=target,
            app_id=app_id,
            since=since,
            until=until,
            sign_ins=sign_ins,
        )
        if after is not None:
            query = query.where(audit_log.c.id < after)
        rows = (await conn.execute(query.order_by(audit_log.c.id.desc()).limit(limit + 1))).all()
    entries = [_entry(r) for r in rows[:limit]]
    next_cursor = str(entries[-1].id) if len(rows) > limit else None
    return entries, next_cursor


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return iso_z(value)
    if isinstance(value, dict):
        text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    else:
        text = str(value)
    if text.startswith(_FORMULA_START):
        return "'" + text
    return text


async def export_entries(
    rt: Runtime,
    owner_id: str,
    *,
    fmt: str = "csv",
    actor: str | None = None,
    capability: str | None = None,
    target: str | None = None,
    app_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    sign_ins: bool = True,
) -> str:
    """Every matching entry, newest first, as CSV (header row first) or a JSON array.

    CSV cells that a spreadsheet would run as a formula are prefixed with `'`.
    """
    if fmt not in EXPORT_FORMATS:
        raise invalid("format", f"format must be one of {', '.join(EXPORT_FORMATS)}")
    entries: list[AuditEntry] = []
    cursor: str | None = None
    while True:
        page, cursor = await list_entries(
            rt,
            owner_id,
            actor=actor,
            capability=capability,
            target=target,
            app_id=app_id,
            since=since,
            until=until,
            cursor=cursor,
            limit=MAX_LIMIT,
            sign_ins=sign_ins,
        )
        entries.extend(page)
        if cursor is None or len(entries) >= EXPORT_MAX_ROWS:
            break
    if fmt == "json":
        return json.dumps(
            [{k: _plain(v) for k, v in e.as_dict().items()} for e in entries], ensure_ascii=False
        )
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for entry in entries:
        data = entry.as_dict()
        writer.writerow([_csv_cell(data[column]) for column in CSV_COLUMNS])
    return buffer.getvalue()


async def prune_entries(rt: Runtime, older_than: datetime) -> int:
    """Delete entries older than the operator's retention period; returns how many."""
    async with rt.db.write() as conn:
        result = await conn.execute(
            audit_log.delete().where(audit_log.c.created_at < as_utc(older_than))
        )
    return int(result.rowcount or 0)


@dataclass(frozen=True)
class DisplayNames:
    """Readable names for a page of entries: actors (account and token ids) and targets
    named by an id (apps, accounts and owners, tokens), keyed `(target_type, target)`."""

    actors: dict[str, str]
    targets: dict[tuple[str, str], str]


async def display_names(rt: Runtime, entries: list[AuditEntry]) -> DisplayNames:
    """Names for the actors and id-named targets of `entries`, in one read transaction
    (names that no longer exist are left out: the page shows the stored id)."""
    account_ids = {e.actor for e in entries if e.actor_kind == "account"}
    account_ids |= {e.target for e in entries if e.target_type in ("account", "owner")}
    token_ids = {e.actor for e in entries if e.actor_kind == "token"}
    token_ids |= {e.target for e in entries if e.target_type == "token"}
    app_ids = {e.target for e in entries if e.target_type == "app"}
    owner_ids = {e.target for e in entries if e.target_type == "owner"}
    accounts_by: dict[str, str] = {}
    tokens_by: dict[str, str] = {}
    apps_by: dict[str, str] = {}
    async with rt.db.read() as conn:
        if account_ids or owner_ids:
            rows = await conn.execute(
                select(accounts.c.id, accounts.c.owner_id, accounts.c.username).where(
                    accounts.c.id.in_(account_ids) | accounts.c.owner_id.in_(owner_ids)
                )
            )
            for r in rows:
                accounts_by[str(r.id)] = r.username
                if r.owner_id:
                    accounts_by[str(r.owner_id)] = r.username
        if token_ids:
            rows = await conn.execute(
                select(api_tokens.c.id, api_tokens.c.name).where(api_tokens.c.id.in_(token_ids))
            )
            tokens_by = {str(r.id): f"token {r.name}" for r in rows}
        if app_ids:
            rows = await conn.execute(select(apps.c.id, apps.c.name).where(apps.c.id.in_(app_ids)))
            apps_by = {str(r.id): r.name for r in rows}
    actors = {**{k: v for k, v in accounts_by.items() if k in account_ids}, **tokens_by}
    targets: dict[tuple[str, str], str] = {}
    for e in entries:
        key = (e.target_type, e.target)
        if e.target_type in ("account", "owner") and e.target in accounts_by:
            targets[key] = accounts_by[e.target]
        elif e.target_type == "token" and e.target in tokens_by:
            targets[key] = tokens_by[e.target]
        elif e.target_type == "app" and e.target in apps_by:
            targets[key] = apps_by[e.target]
    return DisplayNames(actors=actors, targets=targets)
