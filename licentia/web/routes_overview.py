"""The app overview page."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from licentia.web import lists
from licentia.web.actions import app_page
from licentia.web.app import DashRoute, runtime
from licentia.web.context import render

router = APIRouter(route_class=DashRoute)


@router.get("/apps/{app_id}")
async def app_overview(request: Request, app_id: str) -> Response:
    session, access = await app_page(request, app_id, "app.info")
    counts = await lists.app_counts(runtime(request), access.app_id)
    return render(
        request, "app.html", {"app": access, "counts": counts, "tab": "overview"}, session=session
    )
