"""The app overview (counts and activity charts) and the integration page."""

from __future__ import annotations

import json
import re
import secrets
import uuid
from datetime import timedelta

from sqlalchemy import update

from licentia.services import admin, signing_keys
from licentia.store.tables import accounts, apps, auth_events, sessions, staff_members, staff_roles
from tests.web.conftest import Browser, Dash, csrf_of


async def _app(dash: Dash, name: str = "Charted") -> admin.CreatedApp:
    assert dash.owner is not None
    return await admin.create_app(dash.rt, dash.owner.owner_id, name)


async def _staff(dash: Dash, permissions: list[str], app_ids: list[str] | None) -> Browser:
    """A staff member of the dashboard's owner with exactly these capabilities."""
    assert dash.owner is not None
    member = await dash.new_owner("staff")
    role_id = str(uuid.uuid4())
    async with dash.rt.db.write() as conn:
        await conn.execute(update(accounts).where(accounts.c.id == member.id).values(owner_id=None))
        await conn.execute(
            staff_roles.insert().values(
                id=role_id,
                owner_account_id=dash.owner.id,
                name="Role " + secrets.token_hex(3),
                name_norm="role " + secrets.token_hex(3),
                permissions=json.dumps(permissions),
                app_ids=json.dumps(app_ids) if app_ids is not None else None,
                created_at=dash.rt.clock(),
            )
        )
        await conn.execute(
            staff_members.insert().values(
                id=str(uuid.uuid4()),
                owner_account_id=dash.owner.id,
                account_id=member.id,
                role_id=role_id,
                created_at=dash.rt.clock(),
            )
        )
    browser = dash.browser()
    assert (await browser.sign_in(member.username)).status_code == 303
    return browser


async def _seed(dash: Dash, app_id: str) -> None:
    now = dash.rt.clock()
    async with dash.rt.db.write() as conn:
        await conn.execute(
            auth_events.insert(),
            [
                {
                    "app_id": app_id,
                    "endpoint": ep,
                    "code": code,
                    "created_at": now - timedelta(days=ago),
                }
                for ago, ep, code in [
                    (0, "register", "OK"),
                    (0, "login", "OK"),
                    (0, "login", "OK"),
                    (0, "login", "INVALID_PASSWORD"),
                    (3, "licenses", "INVALID_LICENSE"),
                    (12, "register", "OK"),
                ]
            ],
        )
        # The chart counts people: an app start (no identity) is not counted, and one user
        # with two sessions counts once a day.
        alice, bob = str(uuid.uuid4()), str(uuid.uuid4())
        await conn.execute(
            sessions.insert(),
            [
                {
                    "id_hash": secrets.token_hex(32),
                    "prefix": secrets.token_hex(4),
                    "app_id": app_id,
                    "identity_kind": kind,
                    "identity_id": ident,
                    "created_at": now - timedelta(days=opened),
                    "last_seen_at": now - timedelta(days=seen),
                }
                for kind, ident, opened, seen in [
                    ("none", None, 4, 0),
                    ("user", alice, 2, 0),
                    ("user", alice, 1, 0),
                    ("license", bob, 0, 0),
                ]
            ],
        )


def _bars(html: str, chart: str) -> list[str]:
    section = html.split(f'id="chart-{chart}"', 1)[1].split("</figure>", 1)[0]
    return re.findall(r"<title>([^<]+)</title></rect>", section)


async def test_overview_counts_and_charts(dash: Dash) -> None:
    created = await _app(dash)
    await _seed(dash, created.app_id)
    browser = await dash.signed_in()
    page = await browser.get(f"/apps/{created.app_id}")
    assert page.status_code == 200
    html = page.text
    assert 'id="count-licenses"' in html and "/static/overview.css" in html
    assert "<script" not in html.split("</head>", 1)[1]  # no inline or extra script
    assert "style=" not in html
    assert "last 7 days" in html
    today = dash.rt.clock().date().isoformat()
    assert _bars(html, "registrations") == [f"{today}: 1 registration"]
    assert _bars(html, "logins") == [f"{today}: 2 logins"]
    days = [(dash.rt.clock() - timedelta(days=ago)).date().isoformat() for ago in (2, 1, 0)]
    assert _bars(html, "sessions") == [
        f"{days[0]}: 1 identity",
        f"{days[1]}: 1 identity",
        f"{days[2]}: 2 identities",
    ]
    assert "No data yet" in html.split('id="chart-calls"', 1)[1].split("</figure>", 1)[0]
    failures = html.split('id="chart-failures"', 1)[1].split("</figure>", 1)[0]
    assert "2 of 5 auth calls failed (40.0%)" in failures
    assert "INVALID_PASSWORD: 1 failed call (50.0% of failures)" in failures
    assert 'role="img"' in html and "<table" in html  # text alternative

    month = await browser.get(f"/apps/{created.app_id}?days=30")
    assert "last 30 days" in month.text
    assert len(_bars(month.text, "registrations")) == 2

    # htmx asks for the charts only.
    fragment = await browser.get(f"/apps/{created.app_id}?days=30", headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert fragment.text.lstrip().startswith('<section id="overview-charts"')
    assert 'id="count-licenses"' not in fragment.text and "<html" not in fragment.text

    # Anything but 7 or 30 is the default range, never an error.
    for bad in ("12", "abc", "-1", "9" * 40):
        odd = await browser.get(f"/apps/{created.app_id}?days={bad}")
        assert odd.status_code == 200 and "last 7 days" in odd.text


async def test_overview_of_an_empty_app(dash: Dash) -> None:
    created = await _app(dash, "Empty")
    browser = await dash.signed_in()
    html = (await browser.get(f"/apps/{created.app_id}")).text
    assert html.count("No data yet</text>") == 4
    assert "No failed calls yet" in html
    assert "0 of 0 auth calls failed (0%)" in html


async def test_overview_foreign_and_rights(dash: Dash) -> None:
    created = await _app(dash)
    other = await dash.new_owner("other")
    foreign = await admin.create_app(dash.rt, other.owner_id, "Foreign")
    browser = await dash.signed_in()
    for path in ("", "/integration"):
        assert (await browser.get(f"/apps/{foreign.app_id}{path}")).status_code == 404
        assert (await browser.get(f"/apps/no-such-app{path}")).status_code == 404

    # app.info without app.usage: counts, no charts.
    info_only = await _staff(dash, ["app.info"], [created.app_id])
    page = await info_only.get(f"/apps/{created.app_id}")
    assert page.status_code == 200 and 'id="count-users"' in page.text
    assert "does not grant <code>app.usage</code>" in page.text and "chart-logins" not in page.text
    # Neither app.info: 403.
    nothing = await _staff(dash, ["license.list"], [created.app_id])
    assert (await nothing.get(f"/apps/{created.app_id}")).status_code == 403
    assert (await nothing.get(f"/apps/{created.app_id}/integration")).status_code == 403
    # Usage granted: the charts.
    usage = await _staff(dash, ["app.info", "app.usage"], [created.app_id])
    assert 'id="chart-logins"' in (await usage.get(f"/apps/{created.app_id}")).text


async def test_integration_page_snippets(dash: Dash) -> None:
    created = await _app(dash, "Snippets")
    async with dash.rt.db.write() as conn:
        await conn.execute(
            update(apps).where(apps.c.id == created.app_id).values(latest_version="2.4.1")
        )
    key = await signing_keys.ensure_active(dash.rt)
    browser = await dash.signed_in()
    page = await browser.get(f"/apps/{created.app_id}/integration")
    assert page.status_code == 200
    html = page.text
    assert created.secret not in html  # hidden until asked for
    assert f'<code id="owner-id">{created.owner_id}</code>' in html
    assert "https://testserver/api/v2" in html
    assert key.der_base64 in html and "BEGIN PUBLIC KEY" in html
    assert f'"{created.owner_id}", "Snippets", "2.4.1", "&lt;app secret&gt;"' in html
    assert f'auth.ServerPublicKeyDerBase64 = "{key.der_base64}"' in html
    assert f'DefaultServerPublicKeyDerBase64 = "{key.der_base64}";' in html
    assert f'DEFAULT_SERVER_PUBLIC_KEY_DER_BASE64 = "{key.der_base64}";' in html
    assert "serverPublicKeyPem=PEM" in html
    assert 'PEM = """' + key.pem.rstrip("\n") + '\n"""' in html
    assert '<script src="/dashboard/static/overview.js" defer></script>' in html
    assert "style=" not in html
    js = await browser.get("/static/overview.js")
    assert js.status_code == 200


async def test_reveal_secret_is_audited(dash: Dash) -> None:
    assert dash.owner is not None
    created = await _app(dash, "Secretive")
    browser = await dash.signed_in()
    page = f"/apps/{created.app_id}/integration"
    shown = await browser.submit(page, page + "/secret", {})
    assert shown.status_code == 200
    assert f'<code id="app-secret">{created.secret}</code>' in shown.text
    entries = await dash.audit("app.secret", dash.owner.id)
    assert [(e.face, e.target_type, e.target, e.app_id, e.result) for e in entries] == [
        ("dashboard", "app", created.app_id, created.app_id, "ok")
    ]
    # htmx: the same page, the box is what gets swapped in.
    html = (await browser.get(page)).text
    again = await browser.post(
        page + "/secret", {}, headers={"HX-Request": "true", "X-CSRF-Token": csrf_of(html)}
    )
    assert again.status_code == 200 and created.secret in again.text
    assert len(await dash.audit("app.secret", dash.owner.id)) == 2


async def test_reveal_secret_refusals(dash: Dash) -> None:
    assert dash.owner is not None
    created = await _app(dash, "Guarded")
    other = await dash.new_owner("other")
    foreign = await admin.create_app(dash.rt, other.owner_id, "Foreign")
    browser = await dash.signed_in()
    page = f"/apps/{created.app_id}/integration"
    no_csrf = await browser.post(page + "/secret", {})
    assert no_csrf.status_code == 403 and created.secret not in no_csrf.text
    wrong = await browser.post(page + "/secret", {"csrf_token": "x" * 40})
    assert wrong.status_code == 403
    token = csrf_of((await browser.get(page)).text)
    gone = await browser.post(f"/apps/{foreign.app_id}/integration/secret", {"csrf_token": token})
    assert gone.status_code == 404 and foreign.secret not in gone.text
    assert await dash.audit("app.secret", dash.owner.id) == []
    assert await dash.audit("app.secret", other.id) == []

    # Staff with app.info only: the page, but no secret and no key.
    staff = await _staff(dash, ["app.info"], [created.app_id])
    html = (await staff.get(page)).text
    assert "does not grant <code>app.secret</code>" in html
    assert "does not grant <code>signing-key.show</code>" in html
    assert 'auth.ServerPublicKeyDerBase64 = "&lt;your der_base64&gt;"' in html
    refused = await staff.submit(page, page + "/secret", {})
    assert refused.status_code == 403 and created.secret not in refused.text
    assert await dash.audit("app.secret", dash.owner.id) == []
    # Staff with app.secret: allowed and audited with the staff member as actor.
    keeper = await _staff(dash, ["app.info", "app.secret", "signing-key.show"], [created.app_id])
    shown = await keeper.submit(page, page + "/secret", {})
    assert shown.status_code == 200 and created.secret in shown.text
    assert "BEGIN PUBLIC KEY" in shown.text or "no active signing key" in shown.text
    assert len(await dash.audit("app.secret", dash.owner.id)) == 1
