"""A dump of everything one owner has, in every table, to compare before and after an attack.

An owner's rows are found without a list of tables to keep up to date: starting from the
owner's account id, every row of every table (`metadata.sorted_tables`) that references a
known id (a foreign key, or one of the polymorphic id columns below) belongs to the owner,
and its own `id` (and the ids it names, such as a staff member's account) becomes known in
turn, until nothing new turns up. A new table is covered as soon as it references the owner,
an app or anything below them.

Left out: the append-only audit log (refused calls are recorded there on purpose; checked
separately) and the columns that record use, not state (when a credential was last used).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncConnection

from licentia.store.tables import audit_log, metadata

#: Id columns without a declared foreign key that still name an owner's row.
POLYMORPHIC = frozenset({"holder_id", "identity_id", "owner_account_id", "app_id", "batch_id"})
#: Use, not state: these change when a credential is presented, refused or not.
VOLATILE = {
    "api_tokens": frozenset({"last_used_at"}),
    "elite_keys": frozenset({"last_used_at", "last_used_ip"}),
    "accounts": frozenset({"last_login_at", "last_login_ip"}),
}
SKIPPED = frozenset({audit_log.name})


def _id_columns(table: Table) -> list[str]:
    names = [c.name for c in table.columns if c.foreign_keys or c.name in POLYMORPHIC]
    if "id" in table.c and table.name == "accounts":
        names.append("id")
    return names


async def _rows(conn: AsyncConnection, table: Table) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in (await conn.execute(select(table))).all()]


async def owner_rows(conn: AsyncConnection, owner_account_id: str) -> dict[str, list[Any]]:
    """Every row of every table that belongs to the owner, by table, in a stable order."""
    tables = [t for t in metadata.sorted_tables if t.name not in SKIPPED]
    everything = {t.name: await _rows(conn, t) for t in tables}
    known: set[Any] = {owner_account_id}
    picked: dict[str, dict[int, dict[str, Any]]] = {t.name: {} for t in tables}
    grew = True
    while grew:
        grew = False
        for table in tables:
            columns = _id_columns(table)
            for index, row in enumerate(everything[table.name]):
                if index in picked[table.name]:
                    continue
                if any(row.get(c) in known for c in columns):
                    picked[table.name][index] = row
                    grew = True
                    # Its own id, and the ids it names (a staff member's account).
                    known.update(
                        v for k, v in row.items() if isinstance(v, str) and k in {"id", *columns}
                    )
    out: dict[str, list[Any]] = {}
    for name, rows in picked.items():
        volatile = VOLATILE.get(name, frozenset())
        out[name] = sorted(
            repr(sorted((k, v) for k, v in row.items() if k not in volatile))
            for row in rows.values()
        )
    return out


async def audit_ok_count(conn: AsyncConnection, owner_account_id: str) -> int:
    """How many applied (result `ok`) changes the audit log holds for the owner."""
    rows = await conn.execute(
        select(audit_log.c.id).where(
            audit_log.c.owner_account_id == owner_account_id, audit_log.c.result == "ok"
        )
    )
    return len(rows.all())


def diff(before: dict[str, list[Any]], after: dict[str, list[Any]]) -> dict[str, Any]:
    """What changed, by table: rows gone and rows new (empty: nothing changed)."""
    out: dict[str, Any] = {}
    for name in sorted(set(before) | set(after)):
        old, new = set(before.get(name, [])), set(after.get(name, []))
        if old != new:
            out[name] = {"gone": sorted(old - new), "new": sorted(new - old)}
    return out
