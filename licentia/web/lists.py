"""The dashboard's read side: app lists, counts and paged license and user lists.

Every read is a service view (`services/views_*`), the same one the REST API and the CLI
show; this module only fixes the dashboard's page size and filter choices.
"""

from __future__ import annotations

from typing import Any

from licentia.services import paging, views_apps, views_licenses, views_users
from licentia.services.runtime import Runtime

#: Rows per list page.
PAGE_SIZE = 50
LICENSE_STATES = ("unused", "active", "used", "expired", "banned", "paused")
USER_STATES = ("active", "expired", "banned", "paused")
#: Keys per generation from the dashboard form; larger batches belong to the CLI or the API,
#: whose output is a file rather than a page.
MAX_GENERATE = 1000


async def apps_of(
    rt: Runtime, owner_account_id: str, app_ids: frozenset[str] | None = None
) -> list[views_apps.AppSummary]:
    return await views_apps.list_apps(rt, owner_account_id, app_ids)


async def app_counts(rt: Runtime, app_id: str) -> dict[str, Any]:
    return await views_apps.app_details(rt, app_id)


async def subscription_names(rt: Runtime, app_id: str) -> list[str]:
    return [s.name for s in await views_licenses.list_subscriptions(rt, app_id)]


async def license_page(
    rt: Runtime, app_id: str, *, search: str, state: str, cursor: str | None
) -> paging.Page[views_licenses.LicenseView]:
    filters = views_licenses.LicenseFilter(state=state or None, search=search or None)
    return await views_licenses.list_licenses(
        rt, app_id, filters, cursor=cursor or None, limit=PAGE_SIZE
    )


async def user_page(
    rt: Runtime, app_id: str, *, search: str, state: str, cursor: str | None
) -> paging.Page[views_users.UserView]:
    return await views_users.list_users(
        rt,
        app_id,
        state=state or None,
        search=search or None,
        cursor=cursor or None,
        limit=PAGE_SIZE,
    )
