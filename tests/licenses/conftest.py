"""Fixtures of the subscription and license family tests: the management API helpers
(`m`, `other`) and row helpers shared by the REST and CLI tests."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select, update

from licentia.services.runtime import Runtime
from licentia.store.tables import bindings, license_batches, licenses, sessions
from tests.manage.conftest import m, other  # noqa: F401 - fixtures

__all__ = ["add_binding", "add_session", "count_rows", "license_row", "set_row"]


async def set_row(rt: Runtime, app_id: str, key: str, **values: Any) -> None:
    async with rt.db.write() as conn:
        await conn.execute(
            update(licenses)
            .where(and_(licenses.c.app_id == app_id, licenses.c.key == key))
            .values(**values)
        )


async def license_row(rt: Runtime, app_id: str, key: str) -> Any:
    async with rt.db.read() as conn:
        return (
            await conn.execute(
                select(licenses).where(and_(licenses.c.app_id == app_id, licenses.c.key == key))
            )
        ).first()


async def count_rows(rt: Runtime, app_id: str) -> tuple[int, int]:
    """(licenses, license batches) of the app."""
    async with rt.db.read() as conn:
        keys = (
            await conn.execute(
                select(func.count()).select_from(licenses).where(licenses.c.app_id == app_id)
            )
        ).scalar_one()
        batches = (
            await conn.execute(
                select(func.count())
                .select_from(license_batches)
                .where(license_batches.c.app_id == app_id)
            )
        ).scalar_one()
    return int(keys), int(batches)


async def add_binding(rt: Runtime, app_id: str, kind: str, holder_id: str, now: datetime) -> None:
    sid = secrets.token_hex(8)
    async with rt.db.write() as conn:
        await conn.execute(
            bindings.insert().values(
                id=secrets.token_hex(16),
                app_id=app_id,
                holder_kind=kind,
                holder_id=holder_id,
                sid=sid,
                sid_norm=sid,
                first_seen_at=now,
                last_seen_at=now,
            )
        )


async def add_session(rt: Runtime, app_id: str, license_id: str, now: datetime) -> str:
    id_hash = secrets.token_hex(32)
    async with rt.db.write() as conn:
        await conn.execute(
            sessions.insert().values(
                id_hash=id_hash,
                prefix=id_hash[:8],
                app_id=app_id,
                identity_kind="license",
                identity_id=license_id,
                created_at=now,
                last_seen_at=now,
            )
        )
    return id_hash
