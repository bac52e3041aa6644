"""The apps list (the app overview is in routes_overview; licenses, users, devices and
sessions in routes_identities).

Reads go through `licentia.web.lists`; every change calls an admin service and writes its
audit entry in the same transaction (`actions.audited`), so the change and its entry commit
together and a refused change leaves neither.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from licentia.services import admin, dashboard_auth
from licentia.services.admin_common import AdminError
from licentia.services.dashboard_auth import DashSession
from licentia.web import lists
from licentia.web.actions import audited
from licentia.web.app import DashRoute, form_values, runtime, signed_in
from licentia.web.context import Refused, render

router = APIRouter(route_class=DashRoute)


# -- apps --------------------------------------------------------------------------------


async def _apps_page(
    request: Request,
    session: DashSession,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    created: admin.CreatedApp | None = None,
    status: int = 200,
) -> Response:
    rt = runtime(request)
    groups = [
        (scope, await lists.apps_of(rt, scope.owner_account_id, scope.app_ids))
        for scope in await dashboard_auth.app_scopes(rt, session.account)
    ]
    return render(
        request,
        "apps.html",
        {"groups": groups, "errors": errors or {}, "values": values or {}, "created": created},
        status=status,
        session=session,
    )


@router.get("/apps")
async def apps_list(request: Request) -> Response:
    session = await signed_in(request)
    return await _apps_page(request, session)


@router.post("/apps")
async def apps_create(request: Request) -> Response:
    session = await signed_in(request)
    form = await form_values(request)
    name = form.get("name", "")
    owner_id = session.account.owner_id
    if owner_id is None:
        raise Refused(403, "Not allowed", "Only an owner account creates apps.")
    try:
        created = await audited(
            request,
            session,
            lambda: admin.create_app(runtime(request), owner_id, name),
            capability="app.create",
            target_type="app",
            target=name.strip(),
            app_id=None,
            owner_account_id=session.account.id,
            changes={"name": [None, name.strip()]},
        )
    except AdminError as exc:
        if exc.is_not_found:
            raise
        return await _apps_page(
            request, session, errors={"name": exc.message}, values={"name": name}, status=400
        )
    return await _apps_page(request, session, created=created)
