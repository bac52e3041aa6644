"""The app overview (counts and activity charts) and the integration page.

Charts are inline SVG drawn here on the server (no script, no external resource): one bar
per UTC day with a `<title>` tooltip, axis labels, and a table with the same numbers as the
text alternative. The 7/30-day switch is a plain link that htmx swaps in place.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from fastapi import APIRouter, Request
from fastapi.responses import Response

from licentia.services import admin, dashboard_auth, dashboard_stats, signing_keys
from licentia.services.admin_common import AdminError
from licentia.services.dashboard_auth import AppAccess, DashSession
from licentia.services.dashboard_stats import CodeShare, DayCount
from licentia.web import lists, routes_online
from licentia.web.actions import app_page, audited
from licentia.web.app import DashRoute, runtime
from licentia.web.context import base, dash_of, render

router = APIRouter(route_class=DashRoute)

#: Chart geometry (SVG user units; the SVG scales to its box).
WIDTH = 640
HEIGHT = 190
LEFT = 44
RIGHT = 8
TOP = 10
BOTTOM = 26
SHARE_LABEL = 190
SHARE_ROW = 24


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    day: str
    value: int
    tip: str


@dataclass(frozen=True)
class Tick:
    pos: float
    text: str


@dataclass
class BarChart:
    """One day-by-day bar chart, ready for `_chart.html`."""

    key: str
    title: str
    unit: str
    note: str
    points: list[DayCount]
    total: int
    empty: bool
    summary: str = ""
    bars: list[Bar] = field(default_factory=list)
    y_ticks: list[Tick] = field(default_factory=list)
    x_ticks: list[Tick] = field(default_factory=list)
    width: int = WIDTH
    height: int = HEIGHT
    plot_left: int = LEFT
    plot_right: int = WIDTH - RIGHT
    plot_top: int = TOP
    plot_bottom: int = HEIGHT - BOTTOM


@dataclass(frozen=True)
class ShareBar:
    code: str
    count: int
    percent: str
    y: float
    width: float
    tip: str


@dataclass
class ShareChart:
    rows: list[ShareBar]
    width: int
    height: int
    label_width: int
    failed: int
    total: int
    rate: str


def _nice_max(value: int) -> int:
    """The smallest 1, 2 or 5 times a power of ten that is at least `value` (at least 1)."""
    if value <= 1:
        return 1
    power: int = 10 ** (len(str(value)) - 1)
    return next(step * power for step in (1, 2, 5, 10) if step * power >= value)


def _plural(n: int, unit: str) -> str:
    if n == 1:
        return f"{n:,} {unit}"
    return f"{n:,} {unit[:-1]}ies" if unit.endswith("ity") else f"{n:,} {unit}s"


def bar_chart(
    key: str,
    title: str,
    unit: str,
    points: Sequence[DayCount],
    note: str = "",
    *,
    peak: bool = False,
) -> BarChart:
    """Bars per day; the caption sums the days, or (`peak`) names the highest day, for
    numbers that must not be added up across days (the same session is active on many)."""
    total = sum(p.count for p in points)
    highest = max((p.count for p in points), default=0)
    summary = f"peak {highest:,} a day" if peak else f"{total:,} in {len(points)} days"
    chart = BarChart(
        key=key,
        title=title,
        unit=unit,
        note=note,
        points=list(points),
        total=total,
        empty=total == 0,
        summary=summary,
    )
    plot_w = chart.plot_right - chart.plot_left
    plot_h = chart.plot_bottom - chart.plot_top
    top = _nice_max(max((p.count for p in points), default=0))
    ticks = [0, top] if top % 2 else [0, top // 2, top]
    chart.y_ticks = [Tick(chart.plot_bottom - plot_h * t / top, f"{t:,}") for t in ticks]
    n = max(1, len(points))
    slot = plot_w / n
    every = 1 if n <= 10 else 5
    for i, point in enumerate(points):
        x = chart.plot_left + i * slot
        if (n - 1 - i) % every == 0:
            chart.x_ticks.append(Tick(round(x + slot / 2, 2), point.day[5:]))
        if point.count <= 0:
            continue
        height = max(1.0, plot_h * point.count / top)
        chart.bars.append(
            Bar(
                x=round(x + slot * 0.15, 2),
                y=round(chart.plot_bottom - height, 2),
                width=round(slot * 0.7, 2),
                height=round(height, 2),
                day=point.day,
                value=point.count,
                tip=f"{point.day}: {_plural(point.count, unit)}",
            )
        )
    return chart


def share_chart(shares: Sequence[CodeShare], failed: int, total: int) -> ShareChart:
    plot_w = WIDTH - SHARE_LABEL - 70
    rows = [
        ShareBar(
            code=s.code,
            count=s.count,
            percent=f"{s.share * 100:.1f}%",
            y=i * SHARE_ROW,
            width=round(max(1.0, plot_w * s.share), 2),
            tip=f"{s.code}: {_plural(s.count, 'failed call')} ({s.share * 100:.1f}% of failures)",
        )
        for i, s in enumerate(shares)
    ]
    rate = f"{failed / total * 100:.1f}%" if total else "0%"
    return ShareChart(
        rows=rows,
        width=WIDTH,
        height=max(1, len(rows)) * SHARE_ROW,
        label_width=SHARE_LABEL,
        failed=failed,
        total=total,
        rate=rate,
    )


def _days(request: Request) -> int:
    """7 or 30 from `?days=`; anything else is the default 7."""
    text = request.query_params.get("days", "")
    return int(text) if text in ("7", "30") else dashboard_stats.RANGES[0]


def _wants_fragment(request: Request) -> bool:
    headers = request.headers
    return (
        headers.get("hx-request") == "true" and headers.get("hx-history-restore-request") != "true"
    )


async def _may(request: Request, session: DashSession, app_id: str, capability: str) -> bool:
    """Whether the account also holds `capability` on the app (the page itself is allowed)."""
    try:
        await dashboard_auth.authorize_app(runtime(request), session, app_id, capability)
    except AdminError as exc:
        if exc.code == "PERMISSION_DENIED":
            return False
        raise
    return True


async def _charts(request: Request, access: AppAccess, days: int) -> dict[str, object]:
    stats = await dashboard_stats.overview_stats(runtime(request), access.app_id, days)
    retention = (
        f"Auth events are kept {stats.log_retention_days} days (the app's log retention);"
        " older days show zero."
    )
    return {
        "stats": stats,
        "charts": [
            bar_chart(
                "registrations",
                "Registrations",
                "registration",
                stats.registrations,
                "Successful register calls. " + retention,
            ),
            bar_chart(
                "logins",
                "Logins",
                "login",
                stats.logins,
                "Successful login, license-key and device logins. " + retention,
            ),
            bar_chart(
                "sessions",
                "Active users",
                "identity",
                stats.active_sessions,
                "Distinct users, license keys and devices with a session in use that day"
                " (app starts without a login are not counted; one user on two PCs counts"
                " once). Ended sessions are purged about a day after they end, so older"
                " days count only the sessions still stored.",
                peak=True,
            ),
            bar_chart(
                "calls",
                "Client API calls",
                "call",
                stats.api_calls,
                "Every client API request, counted per UTC day (stored every few seconds).",
            ),
        ],
        "share": share_chart(stats.failures, stats.failed_calls, stats.auth_calls),
    }


@router.get("/apps/{app_id}")
async def app_overview(request: Request, app_id: str) -> Response:
    session, access = await app_page(request, app_id, "app.info")
    days = _days(request)
    context: dict[str, object] = {"app": access, "tab": "overview", "days": days}
    context["can_usage"] = await _may(request, session, access.app_id, "app.usage")
    if context["can_usage"]:
        context.update(await _charts(request, access, days))
    if _wants_fragment(request):
        return render(request, "overview_charts.html", context, session=session)
    context["counts"] = await lists.app_counts(runtime(request), access.app_id)
    if await _may(request, session, access.app_id, "session.list"):
        context.update(await routes_online.online_context(request, access, panel=True))
    return render(request, "app.html", context, session=session)


# -- integration ---------------------------------------------------------------------------


def api_base(request: Request) -> str:
    """The client API base URL as the browser reached the server (`.../api/v2`): behind a
    trusted proxy with the scheme it forwarded (`X-Forwarded-Proto`)."""
    root = base(request)
    if root.endswith("/dashboard"):
        root = root[: -len("/dashboard")]
    return f"{dash_of(request).scheme(request)}://{request.url.netloc}{root}/api/v2"


async def _integration_page(
    request: Request,
    session: DashSession,
    access: AppAccess,
    *,
    secret: str | None = None,
) -> Response:
    rt = runtime(request)
    info = await dashboard_stats.integration_info(rt, access.app_id)
    key = None
    can_key = await _may(request, session, access.app_id, "signing-key.show")
    if can_key:
        key = await signing_keys.load_active(rt)
    context = {
        "app": access,
        "tab": "integration",
        "info": info,
        "version": info.latest_version or "1.0.0",
        "api": api_base(request),
        "can_key": can_key,
        "key_pem": key.pem if key is not None else "",
        "key_der": key.der_base64 if key is not None else "",
        "key_id": key.kid if key is not None else "",
        "can_secret": await _may(request, session, access.app_id, "app.secret"),
        "secret": secret,
    }
    return render(request, "integration.html", context, session=session)


@router.get("/apps/{app_id}/integration")
async def integration(request: Request, app_id: str) -> Response:
    session, access = await app_page(request, app_id, "app.info")
    return await _integration_page(request, session, access)


@router.post("/apps/{app_id}/integration/secret")
async def integration_secret(request: Request, app_id: str) -> Response:
    """Reveal the app secret: needs `app.secret`, and the reading is audited."""
    session, access = await app_page(request, app_id, "app.secret")
    rt = runtime(request)
    secret = await audited(
        request,
        session,
        lambda: admin.get_app_secret(rt, access.app_id),
        capability="app.secret",
        target_type="app",
        target=access.app_id,
        app_id=access.app_id,
        owner_account_id=access.owner_account_id,
    )
    return await _integration_page(request, session, access, secret=secret)
