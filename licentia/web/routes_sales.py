"""Sales and usage numbers (`services.sales`): per app (the "Sales" tab) and for the owner
across the apps the account may see (`/sales`). Each chart's table downloads as CSV.

Both need `app.usage`, the right the overview's activity charts need.
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter, Request
from fastapi.responses import Response

from licentia.services import sales
from licentia.web.actions import app_page
from licentia.web.app import DashRoute, runtime
from licentia.web.context import Refused, render
from licentia.web.routes_overview import bar_chart
from licentia.web.routes_team import OwnerCtx, owner_apps, owner_page, page

router = APIRouter(route_class=DashRoute)

_UNITS = {"generated": "key", "redeemed": "key", "coins": "coin"}
_NOTES = {
    "generated": "Keys created that day (the dashboard, REST, the CLI, resellers).",
    "redeemed": "Keys first used that day: a license-key login or a registration.",
    "coins": "Coins resellers spent that day on key generations.",
}


def _days(request: Request) -> int:
    text = request.query_params.get("days", "")
    return int(text) if text in {str(d) for d in sales.RANGES} else 30


def _charts(numbers: sales.SalesNumbers) -> list[object]:
    return [
        bar_chart(key, title, _UNITS[key], numbers.series[key], _NOTES[key])
        for key, title in sales.SERIES.items()
    ]


def _csv(numbers: sales.SalesNumbers, request: Request, name: str) -> Response:
    chart = request.query_params.get("chart", "")
    if chart not in sales.SERIES:
        raise Refused(404, "Not found", "There is no such chart.")
    filename = f"{name}-{chart}-{numbers.first_day}-{numbers.last_day}.csv"
    return Response(
        sales.series_csv(numbers, chart),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/apps/{app_id}/sales")
async def app_sales(request: Request, app_id: str) -> Response:
    session, access = await app_page(request, app_id, "app.usage")
    days = _days(request)
    numbers = await sales.sales_numbers(runtime(request), [access.app_id], days)
    context = {
        "app": access,
        "tab": "sales",
        "days": days,
        "ranges": sales.RANGES,
        "numbers": numbers,
        "charts": _charts(numbers),
        "here": f"/apps/{access.app_id}/sales",
    }
    return render(request, "sales.html", context, session=session)


@router.get("/apps/{app_id}/sales/export")
async def app_sales_export(request: Request, app_id: str) -> Response:
    _, access = await app_page(request, app_id, "app.usage")
    numbers = await sales.sales_numbers(runtime(request), [access.app_id], _days(request))
    return _csv(numbers, request, "sales")


async def _owner_numbers(
    request: Request, ctx: OwnerCtx
) -> tuple[sales.SalesNumbers, Sequence[object]]:
    apps = await owner_apps(request, ctx)
    # Coin spend of every reseller only for an account that sees every app of the owner.
    whole = ctx.rights.app_scope() is None
    numbers = await sales.sales_numbers(
        runtime(request),
        [a.id for a in apps],
        _days(request),
        owner_account_id=ctx.owner_account_id if whole else None,
    )
    return numbers, apps


@router.get("/sales")
async def owner_sales(request: Request) -> Response:
    ctx = await owner_page(request, "app.usage")
    numbers, apps = await _owner_numbers(request, ctx)
    context = {
        "ctx": ctx,
        "days": numbers.days,
        "ranges": sales.RANGES,
        "numbers": numbers,
        "charts": _charts(numbers),
        "apps": apps,
        "here": "/sales",
    }
    return await page(request, ctx.session, "sales.html", context)


@router.get("/sales/export")
async def owner_sales_export(request: Request) -> Response:
    ctx = await owner_page(request, "app.usage")
    numbers, _ = await _owner_numbers(request, ctx)
    return _csv(numbers, request, "sales-all-apps")
