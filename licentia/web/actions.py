"""What every dashboard page that changes something shares.

`audited` runs one admin service call and its audit entry in one write transaction, so the
change and its entry commit together and a refused change leaves neither. `app_page` is the
first step of every app page: the signed-in session (CSRF checked on POST) and
`dashboard_auth.authorize_app`, the one authorization check (404 outside the account's
scope, 403 without the capability).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from fastapi import Request

from licentia.services import dashboard_auth
from licentia.services.dashboard_auth import AppAccess, DashSession
from licentia.web.app import runtime, signed_in
from licentia.web.context import actor

T = TypeVar("T")


async def audited(
    request: Request,
    session: DashSession,
    action: Callable[[], Awaitable[T]],
    *,
    capability: str,
    target_type: str,
    target: str,
    app_id: str | None,
    owner_account_id: str,
    changes: dict[str, Any] | None = None,
) -> T:
    """Run one admin service call and its audit entry in one write transaction."""
    rt = runtime(request)
    async with rt.db.write():
        result = await action()
        await dashboard_auth.record_action(
            rt,
            actor(request, session),
            owner_account_id=owner_account_id,
            capability=capability,
            target_type=target_type,
            target=target,
            app_id=app_id,
            changes=changes,
        )
    return result


async def app_page(request: Request, app_id: str, capability: str) -> tuple[DashSession, AppAccess]:
    session = await signed_in(request)
    access = await dashboard_auth.authorize_app(runtime(request), session, app_id, capability)
    return session, access
