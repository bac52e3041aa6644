"""Dashboard: the "offline license file" button of the license page (docs/tickets.md).

Kept apart from `routes_identities` (one small route, one partial template) and included
before it, so its path is not taken by the generic `/licenses/{key}/{action}` route.
"""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from fastapi.responses import Response

from licentia.domain.timeutil import iso_z
from licentia.services import dashboard_auth, tickets
from licentia.services.admin_common import AdminError
from licentia.web.actions import app_page
from licentia.web.app import DashRoute, runtime
from licentia.web.context import actor

router = APIRouter(route_class=DashRoute)
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")


@router.post("/apps/{app_id}/licenses/{key}/offline-file")
async def license_offline_file(request: Request, app_id: str, key: str) -> Response:
    """Sign a license file for the HWID and days of the form and send it as a download."""
    session, access = await app_page(request, app_id, "license.file")
    form = await request.form()
    hwid = str(form.get("hwid", ""))
    days_text = str(form.get("days", "")).strip()
    if not days_text.isdigit():
        raise AdminError("INVALID_INPUT", "days must be a whole number of days", ["days"])
    rt = runtime(request)
    async with rt.db.write():
        made = await tickets.license_file(rt, access.app_id, key, hwid, int(days_text))
        await dashboard_auth.record_action(
            rt,
            actor(request, session),
            owner_account_id=access.owner_account_id,
            capability="license.file",
            target_type="license",
            target=made.key,
            app_id=access.app_id,
            changes={"hwid": [None, made.hwid], "expires_at": [None, iso_z(made.expires_at)]},
        )
    filename = _UNSAFE_NAME.sub("_", made.key)[:64] or "license"
    return Response(
        content=made.ticket + "\n",
        media_type="text/plain; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}.lic"'},
    )
