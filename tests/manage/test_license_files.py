"""REST `POST /apps/{app_id}/licenses/{key}/file` and the `offline_ticket_ttl` setting."""

from __future__ import annotations

from licentia.crypto import tickets
from licentia.services import signing_keys
from tests.manage.conftest import Manage, assert_error, changes_of


async def test_license_file_over_rest(m: Manage) -> None:
    key = await m.world.key(days=30)
    path = f"/apps/{m.app_id}/licenses/{key}/file"
    response = await m.post(path, {"hwid": "HW-REST", "days": 3})
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"key", "hwid", "expires_at", "ticket"}
    claims = tickets.verify(body["ticket"], await signing_keys.public_keys(m.rt))
    assert claims["sid"] == "HW-REST" and claims["identity"]["name"] == key
    assert changes_of((await m.audit())[-1])["hwid"] == [None, "HW-REST"]
    assert_error(await m.post(path, {"hwid": "HW-2", "days": 3}), 400, "DEVICE_LIMIT_REACHED")
    assert_error(await m.post(path, {"hwid": "HW-REST", "days": 0}), 400, "INVALID_INPUT", ["days"])
    missing = f"/apps/{m.app_id}/licenses/NOPE/file"
    assert_error(await m.post(missing, {"hwid": "H", "days": 1}), 404, "LICENSE_NOT_FOUND")


async def test_offline_ticket_ttl_setting_over_rest(m: Manage) -> None:
    response = await m.call("PATCH", f"/apps/{m.app_id}", json_body={"offline_ticket_ttl": 7200})
    assert response.status_code == 200, response.text
    assert response.json()["offline_ticket_ttl"] == 7200
    too_long = {"offline_ticket_ttl": 30 * 86400 + 1}
    response = await m.call("PATCH", f"/apps/{m.app_id}", json_body=too_long)
    assert_error(response, 400, "INVALID_INPUT", ["offline_ticket_ttl"])
