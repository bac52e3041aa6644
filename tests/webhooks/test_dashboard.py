"""The dashboard's Webhooks page: add (secret shown once), switch off, test, delivery log,
resend, remove; every change audited with face `dashboard`."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest

from licentia.api.app import LicentiaApp
from licentia.services import admin, webhooks
from tests.web.conftest import Dash, csrf_of


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"webhook_poll_interval": 0}


@pytest.fixture
async def dash(app: LicentiaApp) -> AsyncIterator[Dash]:
    helper = Dash(app)
    helper.owner = await helper.new_owner()
    helper.username = helper.owner.username
    yield helper
    await helper.close()


async def test_webhooks_page(dash: Dash) -> None:
    assert dash.owner is not None
    app_id = (await admin.create_app(dash.rt, dash.owner.owner_id, "Hooks")).app_id
    owner = await dash.signed_in()
    page = f"/apps/{app_id}/webhooks"
    listing = await owner.get(page)
    assert listing.status_code == 200 and "No webhooks yet." in listing.text
    refused = await owner.submit(page, page, {"url": "http://192.168.1.5/x"})
    assert refused.status_code == 400 and "private" in refused.text
    created = await owner.submit(
        page,
        page,
        {"url": "https://hooks.example.com/in", "events": "license.*", "format": "discord"},
    )
    assert created.status_code == 200
    secret = re.search(r'id="shown-secret">(whsec_[^<]+)<', created.text)
    assert secret, "the secret is shown once"
    [hook] = await webhooks.list_endpoints(dash.rt, app_id)
    assert (hook.url, hook.events, hook.format) == (
        "https://hooks.example.com/in",
        ["license.*"],
        "discord",
    )
    assert secret.group(1) not in (await owner.get(page)).text
    csrf = csrf_of((await owner.get(page)).text)
    off = await owner.post(f"{page}/{hook.id}/toggle", {"csrf_token": csrf})
    assert off.status_code == 303
    assert (await webhooks.get_endpoint(dash.rt, app_id, hook.id)).enabled is False
    sent = await owner.post(f"{page}/{hook.id}/test", {"csrf_token": csrf})
    assert sent.status_code == 303
    log = await owner.get(f"{page}/{hook.id}")
    assert "webhook.test" in log.text and "none yet" in log.text
    [delivery] = await webhooks.list_deliveries(dash.rt, app_id, hook.id)
    resent = await owner.post(
        f"{page}/{hook.id}/deliveries/{delivery.id}/resend", {"csrf_token": csrf}
    )
    assert resent.status_code == 303
    no_csrf = await owner.post(f"{page}/{hook.id}/delete", {})
    assert no_csrf.status_code in (400, 403)
    unconfirmed = await owner.post(f"{page}/{hook.id}/delete", {"csrf_token": csrf})
    assert unconfirmed.status_code == 400 and await webhooks.list_endpoints(dash.rt, app_id)
    gone = await owner.post(f"{page}/{hook.id}/delete", {"csrf_token": csrf, "confirm": "yes"})
    assert gone.status_code == 303 and await webhooks.list_endpoints(dash.rt, app_id) == []
    account = (await admin.get_owner(dash.rt, dash.owner.owner_id)).id
    for capability in (
        "webhook.create",
        "webhook.edit",
        "webhook.send_test",
        "webhook.resend",
        "webhook.delete",
    ):
        [entry] = await dash.audit(capability, account)
        assert entry.face == "dashboard"
