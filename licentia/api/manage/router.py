"""Routes of the native REST management API, `/api/manage/v1` (management Part B).

The routes live in one module per resource family (`routes_licenses`, `routes_users`,
`routes_apps`, `routes_team`, `routes_admin`); this module builds the router, registers them
and answers unknown paths.

Each route names its capability (`license.ban`); `auth.Guard` authenticates the token,
hides other owners' apps (404) and checks the capability (403). Each change calls the admin
service, then writes its audit entry with the token as actor (face `rest`, client IP, request
id). `ManageRoute` runs every changing call in one write transaction that the services join,
so the change and its entry commit together.
"""

# No `from __future__ import annotations` here: FastAPI reads the route signatures at
# definition time, and their `Depends(guard.app(...))` refer to local names.

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.routing import Match

from licentia.api.manage import (
    routes_admin,
    routes_apps,
    routes_licenses,
    routes_team,
    routes_users,
    routes_webhooks,
)
from licentia.api.manage.auth import Guard
from licentia.api.manage.errors import ErrorOut, route_class
from licentia.services.admin_common import AdminError
from licentia.services.runtime import Runtime

PREFIX = "/api/manage/v1"

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "INVALID_TOKEN: missing, invalid, expired or revoked"},
    "4XX": {
        "model": ErrorOut,
        "description": "An error `{code, message, fields?}` with the status of its code: 400 "
        "INVALID_INPUT / MISSING_FIELDS, 403 PERMISSION_DENIED, 404 *_NOT_FOUND (also for "
        "another owner's objects), 409 ALREADY_EXISTS",
    },
}


def build_router(get_runtime: Callable[[], Runtime | None]) -> APIRouter:
    """The management API's routes, prefixed with `PREFIX`. `get_runtime` is called per
    request (the runtime exists once the app has started)."""
    guard = Guard(get_runtime)
    router = APIRouter(prefix=PREFIX, route_class=route_class(get_runtime), responses=_ERRORS)

    # Apps (list, create, info, edit, ...) are in routes_apps.

    # Subscriptions and licenses are in routes_licenses.

    # Further resources, one module per family; each adds its routes to this router
    # (before the catch-all below, which would otherwise answer their paths).
    modules = (
        routes_licenses,
        routes_users,
        routes_apps,
        routes_team,
        routes_admin,
        routes_webhooks,
    )
    for module in modules:
        module.register(router, guard)

    # -- everything else -----------------------------------------------------------------

    @router.api_route(
        "/{path:path}",
        methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
        include_in_schema=False,
    )
    async def unknown(request: Request, path: str) -> Response:
        """404 NOT_FOUND for unknown paths, 405 METHOD_NOT_ALLOWED for known ones."""
        for route in router.routes:
            if getattr(route, "endpoint", None) is unknown:
                continue
            if route.matches(request.scope)[0] is Match.PARTIAL:
                raise AdminError("METHOD_NOT_ALLOWED", f"{request.method} is not allowed here")
        raise AdminError("NOT_FOUND", "Unknown endpoint")

    return router
