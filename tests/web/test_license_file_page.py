"""Dashboard: the license page's offline license file form downloads a signed file."""

from __future__ import annotations

from licentia.crypto import tickets
from licentia.services import admin, signing_keys
from tests.web.conftest import Dash


async def test_license_page_offline_file(dash: Dash) -> None:
    assert dash.owner is not None
    app = await admin.create_app(dash.rt, dash.owner.owner_id, "FileShop")
    await admin.create_subscription(dash.rt, app.app_id, "Gold", 1)
    [key] = await admin.generate_licenses(dash.rt, app.app_id, "Gold", days=10)
    browser = await dash.signed_in()
    page = f"/apps/{app.app_id}/license/{key}"
    shown = await browser.get(page)
    assert shown.status_code == 200 and 'id="offline-file"' in shown.text
    act = f"/apps/{app.app_id}/licenses/{key}/offline-file"
    done = await browser.submit(page, act, {"hwid": "HW-DASH", "days": "5"})
    assert done.status_code == 200, done.text
    assert done.headers["content-disposition"] == f'attachment; filename="{key}.lic"'
    claims = tickets.verify(done.text.strip(), await signing_keys.public_keys(dash.rt))
    assert claims["sid"] == "HW-DASH" and claims["exp"] - claims["iat"] == 5 * 86400
    entries = [e for e in await dash.audit("license.file", dash.owner.id) if e.face == "dashboard"]
    assert len(entries) == 1
    refused = await browser.submit(page, act, {"hwid": "HW-OTHER", "days": "5"})
    assert refused.status_code == 400 and "device limit" in refused.text
    bad = await browser.submit(page, act, {"hwid": "HW-DASH", "days": "many"})
    assert bad.status_code == 400
