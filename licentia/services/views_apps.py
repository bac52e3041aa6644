"""Read models of apps (management B.4): the owner's app list and an app's details with its
derived counts. Every face (REST, Elite Key, CLI) reads apps through these.

SQLAlchemy Core on `store.tables`, every value a bound parameter, one read transaction each.
Callers have already checked that the app is visible to them.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from licentia.services.admin_apps import get_app_settings
from licentia.services.admin_common import AdminError
from licentia.services.runtime import Runtime
from licentia.store.tables import accounts, apps, devices, licenses, subscriptions, users, variables


@dataclass(frozen=True)
class AppSummary:
    id: str
    name: str
    is_enabled: bool
    created_at: datetime


async def list_apps(
    rt: Runtime, owner_account_id: str, app_ids: Collection[str] | None = None
) -> list[AppSummary]:
    """The owner's apps by name (case-insensitively); `app_ids` limits them (token scope)."""
    query = select(apps.c.id, apps.c.name, apps.c.is_enabled, apps.c.created_at).where(
        apps.c.owner_account_id == owner_account_id
    )
    if app_ids is not None:
        query = query.where(apps.c.id.in_(sorted(app_ids)))
    async with rt.db.read() as conn:
        rows = (await conn.execute(query.order_by(apps.c.name_norm, apps.c.id))).all()
    return [
        AppSummary(id=r.id, name=r.name, is_enabled=r.is_enabled, created_at=r.created_at)
        for r in rows
    ]


def _count(table: Any, app_id: str) -> Any:
    return select(func.count()).select_from(table).where(table.c.app_id == app_id).scalar_subquery()


async def app_details(rt: Runtime, app_id: str) -> dict[str, Any]:
    """Name, creation time, the owner's plan label and the derived counts of an app (B.4)."""
    query = (
        select(
            apps.c.name,
            apps.c.created_at,
            accounts.c.plan_label.label("plan_name"),
            _count(users, app_id).label("total_users"),
            _count(licenses, app_id).label("total_licenses"),
            _count(devices, app_id).label("total_devices"),
            _count(subscriptions, app_id).label("total_subscriptions"),
            _count(variables, app_id).label("total_variables"),
        )
        .join(accounts, accounts.c.id == apps.c.owner_account_id)
        .where(apps.c.id == app_id)
    )
    async with rt.db.read() as conn:
        row = (await conn.execute(query)).first()
    if row is None:
        raise AdminError("APP_NOT_FOUND", f"no app with id {app_id!r}")
    out = dict(row._mapping)
    for name in list(out):
        if name.startswith("total_"):
            out[name] = int(out[name])
    return out


async def app_view(rt: Runtime, app_id: str) -> dict[str, Any]:
    """Everything about one app: its id, every setting, `config_rev` and the details above."""
    settings = await get_app_settings(rt, app_id)
    details = await app_details(rt, app_id)
    return {"id": app_id, **settings, **details}
