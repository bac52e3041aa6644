"""Online now, the support console of a customer, and the sessions chart/list counting
people rather than app starts (issue 13, items 1 and 2). The client calls go through the
real client API in-process, so what the pages show is what the protocol wrote."""

from __future__ import annotations

import re
from typing import Any

import httpx

from licentia.api.app import LicentiaApp
from licentia.services import admin, admin_apps, admin_content, admin_logs, views_users
from tests.conftest import FakeClock, World
from tests.web.conftest import Dash
from tests.web.test_overview_pages import _staff


async def _world(dash: Dash, app: LicentiaApp, client: httpx.AsyncClient, pem: str) -> World:
    """A client-API helper on an app of the dashboard's owner."""
    assert dash.owner is not None
    clock = dash.rt.clock
    assert isinstance(clock, FakeClock)
    world = World(app, client, clock, pem)
    created = await admin.create_app(dash.rt, dash.owner.owner_id, "Support")
    world.owner_id, world.app_id = created.owner_id, created.app_id
    world.app_name, world.secret = created.app_name, created.secret
    await admin_apps.create_subscription(dash.rt, world.app_id, "Premium", 2)
    return world


def _ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _section(html: str, ident: str) -> str:
    return html.split(f'id="{ident}"', 1)[1].split("</section>", 1)[0]


async def test_online_now_and_support_console(
    dash: Dash, app: LicentiaApp, client: httpx.AsyncClient, public_pem: str
) -> None:
    world = await _world(dash, app, client, public_pem)
    _, key = await world.register("mara", "pw-mara-1", sid="SID-A", ip="198.51.100.7")
    session = await world.init()
    login = {"session_id": session, "username": "mara", "password": "pw-mara-1", "sid": "SID-A"}
    _ok(await world.post("login", {**login, "ip": "198.51.100.9"}))
    _ok(await world.post("logs", {"session_id": session, "message": "crashed at start"}))
    # A wrong password, a second PC over the device limit, and a program that only started.
    failed = await world.init()
    wrong = await world.post("login", {**login, "session_id": failed, "password": "nope"})
    assert wrong.json()["code"] == "INVALID_PASSWORD"
    other = await world.post("login", {**login, "session_id": failed, "sid": "SID-B"})
    assert other.json()["code"] == "DEVICE_LIMIT_REACHED"
    await admin_content.create_channel(dash.rt, world.app_id, "general", send_delay=0)
    _ok(await world.post("chats/send", {"session_id": session, "channel_name": "general",
                                        "message": "hello support"}))  # fmt: skip

    browser = await dash.signed_in()
    app_path = f"/apps/{world.app_id}"
    page = await browser.get(app_path + "/online")
    assert page.status_code == 200
    online = _section(page.text, "online")
    assert '<span class="count" id="online-count">1</span>' in online
    assert "1 identity with a live session (2 sessions" in online
    assert "1 app start without a login" in online
    assert '>mara</a> <span class="small">(2 sessions)</span>' in online
    assert "SID-A" in online and "203.0.113.24" in online
    assert 'hx-trigger="every 5s"' in online and "<script" not in page.text.split("</head>")[1]
    # htmx polls the fragment alone.
    fragment = await browser.get(app_path + "/online?panel=1", headers={"HX-Request": "true"})
    assert fragment.text.lstrip().startswith('<section class="card online" id="online"')
    assert "<html" not in fragment.text and "online?panel=1" in fragment.text
    overview = await browser.get(app_path)
    assert 'id="online-count">1<' in overview.text
    # A poll after the dashboard session is gone moves the tab to the sign-in page.
    stranger = dash.browser()
    gone = await stranger.get(app_path + "/online?panel=1", headers={"HX-Request": "true"})
    assert gone.status_code == 204 and "/dashboard/signin?next=" in gone.headers["hx-redirect"]

    # The Sessions tab lists signed-in sessions by default; app starts on request.
    listed = await browser.get(app_path + "/sessions")
    everything = await browser.get(app_path + "/sessions?kind=all")
    assert listed.text.count("<tr data-session=") == 2
    assert everything.text.count("<tr data-session=") == 3

    user_page = (await browser.get(app_path + "/user/mara")).text
    support = _section(user_page, "support")
    assert re.search(r'id="reported-ip">198\.51\.100\.9<', support)
    assert re.search(r'id="device-limit-hits">1 \(last ', support)
    events = support.split('id="support-events"', 1)[1].split("</table>", 1)[0]
    assert "INVALID_PASSWORD" in events and "DEVICE_LIMIT_REACHED" in events
    assert "(says 198.51.100.7)" in events  # the register call's reported IP
    assert "crashed at start" in support and "#general: hello support" in support
    assert 'id="hwid-resets">none<' in support

    # One-click extend: the console's button posts the page's own extend action.
    assert 'name="shift_days" value="7"' in support
    before = (await views_users.get_user(dash.rt, world.app_id, "mara")).expiry_date
    extended = await browser.submit(
        app_path + "/user/mara",
        app_path + "/users/mara/extend",
        {"from": "detail", "shift_days": "7"},
    )
    assert extended.status_code == 303
    after = (await views_users.get_user(dash.rt, world.app_id, "mara")).expiry_date
    assert before is not None and after is not None and (after - before).days == 7

    # A one-click reset from the console is audited and shows up on the page.
    reset = await browser.submit(
        app_path + "/user/mara", app_path + "/users/mara/reset_hwid", {"from": "detail"}
    )
    assert reset.status_code == 303
    support = _section((await browser.get(app_path + "/user/mara")).text, "support")
    assert 'id="hwid-resets">1, last ' in support
    audit_rows = support.split('id="support-audit"', 1)[1].split("All entries in the audit", 1)[0]
    assert "user.reset_hwid" in audit_rows and '<th scope="row">bound devices</th>' in audit_rows

    # The key's page says when the account that redeemed it is banned.
    lic_path = f"{app_path}/license/{key}"
    before = _section((await browser.get(lic_path)).text, "support")
    assert "banned" not in before.split('id="quick-actions"')[0]
    await admin.ban_user(dash.rt, world.app_id, "mara", "chargeback")
    redeemer = _section((await browser.get(lic_path)).text, "support")
    assert "that user is <strong>banned</strong> (chargeback)" in redeemer

    # The reported IP is kept on the auth event itself, and the IP filter finds it.
    found = await admin_logs.list_auth_events(
        dash.rt, world.app_id, admin_logs.EventFilter(ip="198.51.100.9")
    )
    assert [(e.endpoint, e.code, e.reported_ip) for e in found.items] == [
        ("login", "OK", "198.51.100.9")
    ]
    assert found.items[0].client_ip == "203.0.113.24"


async def test_support_parts_follow_rights(
    dash: Dash, app: LicentiaApp, client: httpx.AsyncClient, public_pem: str
) -> None:
    world = await _world(dash, app, client, public_pem)
    await world.register("lena", "pw-lena-1", sid="SID-L")
    reader = await _staff(dash, ["user.info", "app.info"], [world.app_id])
    page = await reader.get(f"/apps/{world.app_id}/user/lena")
    assert page.status_code == 200
    support = _section(page.text, "support")
    assert "support-events" not in support and "login-facts" not in support
    assert "Chat messages" not in support and "hwid-resets" not in support
    # Online now needs session.list.
    assert (await reader.get(f"/apps/{world.app_id}/online")).status_code == 403
    overview = await reader.get(f"/apps/{world.app_id}")
    assert overview.status_code == 200 and 'id="online"' not in overview.text
    logs = await _staff(dash, ["user.info", "log.list"], [world.app_id])
    support = _section((await logs.get(f"/apps/{world.app_id}/user/lena")).text, "support")
    assert "support-events" in support and "hwid-resets" not in support
