""" "Online now": the identities of an app with a live session, on a page of its own and as
a panel of the overview. Both refresh themselves with htmx polling (`hx-trigger="every
10s"` on the fragment, no script of ours: the CSP allows none inline). The numbers come
from `services.online`.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from licentia.services import online
from licentia.services.dashboard_auth import AppAccess
from licentia.web.actions import app_page
from licentia.web.app import DashRoute, runtime
from licentia.web.context import Redirect, base, render

router = APIRouter(route_class=DashRoute)

#: How often the page and the overview panel ask for fresh numbers.
POLL_SECONDS = 5
#: Rows the overview panel lists (the page lists up to `online.MAX_ROWS`).
PANEL_ROWS = 10


async def online_context(request: Request, access: AppAccess, *, panel: bool) -> dict[str, object]:
    """What `_online.html` needs; the overview calls this too."""
    limit = PANEL_ROWS if panel else online.MAX_ROWS
    now = await online.online_now(runtime(request), access.app_id, limit=limit)
    return {
        "online": now,
        "online_rows": now.rows,
        "online_panel": panel,
        "poll_seconds": POLL_SECONDS,
    }


def _fragment(request: Request) -> bool:
    return request.headers.get("hx-request") == "true" and (
        request.headers.get("hx-history-restore-request") != "true"
    )


@router.get("/apps/{app_id}/online")
async def online_page(request: Request, app_id: str) -> Response:
    """The whole list; `?panel=1` is the overview's shorter panel (htmx refreshes). A poll
    whose dashboard session has ended sends the whole tab to the sign-in page (`HX-Redirect`)
    instead of swapping the sign-in form into the panel."""
    try:
        session, access = await app_page(request, app_id, "session.list")
    except Redirect as exc:
        if not _fragment(request):
            raise
        return Response(status_code=204, headers={"HX-Redirect": base(request) + exc.location})
    panel = request.query_params.get("panel") == "1"
    context: dict[str, object] = {"app": access, "tab": "online"}
    context.update(await online_context(request, access, panel=panel))
    template = "_online.html" if _fragment(request) else "online.html"
    return render(request, template, context, session=session)
