"""The dashboard's read side: app lists, counts and paged license, user, device and session
lists.

Every read is a service view (`services/views_*`), the same one the REST API and the CLI
show; this module only fixes the dashboard's page size and filter choices.
"""

from __future__ import annotations

from typing import Any

from licentia.services import admin_licenses, paging, views_apps, views_licenses, views_users
from licentia.services.runtime import Runtime
from licentia.web.list_query import ListQuery

#: Rows per list page.
PAGE_SIZE = 50
LICENSE_STATES = ("unused", "active", "used", "expired", "banned", "paused")
USER_STATES = ("active", "expired", "banned", "paused")
DEVICE_STATES = views_users.DEVICE_STATES
DEVICE_TYPES = views_users.DEVICE_TYPES
SESSION_STATES = views_users.SESSION_STATES
SESSION_KINDS = views_users.IDENTITY_KINDS
#: The Sessions tab's kind filter: "" (the default) is every signed-in session, `all` also
#: the app starts (sessions that only ran init).
ALL_SESSIONS = "all"
#: Keys per generation from the dashboard form: the service's own limit (B.6).
MAX_GENERATE = admin_licenses.MAX_COUNT
#: New keys shown on the page after a generation; every batch is also a .txt download.
MAX_INLINE_KEYS = 1000
#: Rows one bulk action (checkbox selection) may name.
MAX_SELECTION = 500


async def apps_of(
    rt: Runtime, owner_account_id: str, app_ids: frozenset[str] | None = None
) -> list[views_apps.AppSummary]:
    return await views_apps.list_apps(rt, owner_account_id, app_ids)


async def app_counts(rt: Runtime, app_id: str) -> dict[str, Any]:
    return await views_apps.app_details(rt, app_id)


async def subscription_names(rt: Runtime, app_id: str) -> list[str]:
    return [s.name for s in await views_licenses.list_subscriptions(rt, app_id)]


async def license_page(
    rt: Runtime, app_id: str, query: ListQuery
) -> paging.Page[views_licenses.LicenseView]:
    return await views_licenses.list_licenses(
        rt,
        app_id,
        query.license_filter(rt.clock()),
        cursor=query.cursor,
        limit=PAGE_SIZE,
        sort=query.sort,
        descending=query.descending,
    )


async def user_page(
    rt: Runtime, app_id: str, query: ListQuery
) -> paging.Page[views_users.UserView]:
    return await views_users.list_users(
        rt,
        app_id,
        state=query.state or None,
        subscription=query.subscription or None,
        search=query.search or None,
        more=query.user_filter(rt.clock()),
        sort=query.sort,
        descending=query.descending,
        cursor=query.cursor,
        limit=PAGE_SIZE,
    )


async def device_page(
    rt: Runtime, app_id: str, *, search: str, state: str, device_type: str, cursor: str | None
) -> paging.Page[views_users.DeviceView]:
    return await views_users.list_devices(
        rt,
        app_id,
        device_type=device_type or None,
        state=state or None,
        search=search or None,
        cursor=cursor or None,
        limit=PAGE_SIZE,
    )


async def session_page(
    rt: Runtime,
    app_id: str,
    *,
    state: str,
    kind: str,
    identity: str,
    cursor: str | None,
    limit: int = PAGE_SIZE,
) -> paging.Page[views_users.SessionView]:
    return await views_users.list_sessions(
        rt,
        app_id,
        state=state or None,
        identity_kind=None if kind in ("", ALL_SESSIONS) else kind,
        identity=None if kind == ALL_SESSIONS else identity or None,
        cursor=cursor or None,
        limit=limit,
        signed_in=kind == "",
    )
