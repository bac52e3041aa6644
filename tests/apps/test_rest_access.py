"""Isolation and scopes on every app-family route: another owner's app answers 404 exactly as
a missing one, and a token whose scopes lack the route's capability gets 403 (B.0)."""

from __future__ import annotations

from typing import Any

from licentia.services import credentials
from tests.apps.conftest import FAMILY_RESOURCES, Manage, assert_error

H = "ab" * 32

#: (method, path under /apps/{app_id}, JSON body or None, capability)
ROUTES: list[tuple[str, str, Any, str]] = [
    ("GET", "", None, "app.info"),
    ("PATCH", "", {"hwid_lock": False}, "app.edit"),
    ("DELETE", "?confirm=x", None, "app.delete"),
    ("POST", "/enable", None, "app.enable"),
    ("POST", "/disable", None, "app.disable"),
    ("POST", "/rename", {"name": "N"}, "app.rename"),
    ("GET", "/secret", None, "app.secret"),
    ("POST", "/regenerate-secret", None, "app.regenerate_secret"),
    ("GET", "/variables", None, "variable.list"),
    ("GET", "/variables/k", None, "variable.get"),
    ("PUT", "/variables/k", {"value": "v"}, "variable.set"),
    ("DELETE", "/variables/k", None, "variable.delete"),
    ("GET", "/channels", None, "channel.list"),
    ("POST", "/channels", {"name": "c"}, "channel.create"),
    ("PATCH", "/channels/c", {"send_delay": 1}, "channel.edit"),
    ("DELETE", "/channels/c", None, "channel.delete"),
    ("POST", "/channels/c/clear", None, "channel.clear"),
    ("GET", "/channels/c/messages", None, "channel.messages"),
    ("DELETE", "/messages/1", None, "channel.delete_message"),
    ("POST", "/messages/delete-by-user", {"username": "u"}, "channel.delete_by_user"),
    ("GET", "/mutes", None, "channel.mutes"),
    ("POST", "/mutes", {"username": "u"}, "channel.mute"),
    ("DELETE", "/mutes/u", None, "channel.unmute"),
    ("GET", "/logs", None, "log.list"),
    ("GET", "/logs/export", None, "log.export"),
    ("POST", "/logs/purge", {"all": True}, "log.purge"),
    ("GET", "/auth-events", None, "log.list"),
    ("GET", "/auth-events/export", None, "log.export"),
    ("POST", "/auth-events/purge", {"all": True}, "log.purge"),
    ("GET", "/versions", None, "version.list"),
    ("POST", "/versions", {"version": "1.0"}, "version.add"),
    ("GET", "/versions/test?version=1.0", None, "version.test"),
    ("PATCH", "/versions/1.0", {"mode": "block"}, "version.edit"),
    ("DELETE", "/versions/1.0", None, "version.remove"),
    ("PATCH", "/version-settings", {"latest_version": "1.0"}, "version.settings"),
    ("GET", "/hashes", None, "hash.list"),
    ("POST", "/hashes", {"hash": H}, "hash.register"),
    ("DELETE", f"/hashes/{H}", None, "hash.remove"),
    ("POST", "/hash-check/enable", None, "hash.enable"),
    ("POST", "/hash-check/disable", None, "hash.disable"),
    ("GET", "/rules", None, "rule.list"),
    ("POST", "/rules", {"kind": "ip", "value": "10.0.0.1"}, "rule.add"),
    ("DELETE", "/rules?kind=ip&value=10.0.0.1", None, "rule.remove"),
    ("POST", "/rules/import", {"entries": [{"kind": "sid", "value": "S"}]}, "rule.import"),
    ("PUT", "/rules/vpn", {"enabled": True}, "rule.set_vpn_block"),
    ("PUT", "/rules/countries", {"countries": ["DE"]}, "rule.set_countries"),
    ("GET", "/rules/check?ip=10.0.0.1", None, "rule.check"),
    ("GET", "/responses", None, "response.list"),
    ("PUT", "/responses/USER_BANNED", {"message": "m"}, "response.set"),
    ("DELETE", "/responses/USER_BANNED", None, "response.reset"),
    ("POST", "/responses/reset-all", None, "response.reset_all"),
]


async def test_every_route_hides_other_owners_apps_and_checks_scopes(
    fm: Manage, stranger: Manage
) -> None:
    for method, suffix, body, capability in ROUTES:
        path = f"/apps/{fm.app_id}{suffix}"
        # Another owner's all-scopes token: the app does not exist for it.
        response = await stranger.call(method, path, json_body=body)
        assert_error(response, 404, "APP_NOT_FOUND")
        # A token of this owner whose scopes grant everything but this capability.
        resource, _, action = capability.partition(".")
        kind = "read" if credentials.is_read_action(action) else "write"
        others = [r for r in FAMILY_RESOURCES if r != resource]
        scopes = [f"{r}:{k}" for r in others for k in ("read", "write")]
        scopes.append(f"{resource}:{'write' if kind == 'read' else 'read'}")
        token = await fm.make_token(scopes)
        denied = await fm.call(method, path, token=token, json_body=body)
        assert_error(denied, 403, "PERMISSION_DENIED")
        # The exact capability as a scope is enough to get past the guard.
        exact = await fm.make_token([capability])
        allowed = await fm.call(method, path, token=exact, json_body=body)
        assert allowed.status_code not in (401, 403), (capability, allowed.text)


async def test_account_level_routes(fm: Manage, stranger: Manage) -> None:
    mine = {a["id"] for a in (await fm.get("/apps")).json()["items"]}
    theirs = {a["id"] for a in (await stranger.get("/apps")).json()["items"]}
    assert mine == {fm.app_id} and theirs == {stranger.app_id}
    token = await fm.make_token(["app:read"])
    assert_error(await fm.post("/apps", {"name": "X"}, token=token), 403, "PERMISSION_DENIED")
    assert_error(
        await fm.get("/apps", token=await fm.make_token(["app.create"])), 403, "PERMISSION_DENIED"
    )


async def test_openapi_documents_the_family(fm: Manage) -> None:
    response = await fm.client.get("/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    paths = spec["paths"]
    base = "/api/manage/v1/apps/{app_id}"
    for suffix in ("/variables/{var_key}", "/channels/{channel}/messages", "/rules/import"):
        assert base + suffix in paths
    operations = [op for path, item in paths.items() if "/apps" in path for op in item.values()]
    assert all(op.get("summary") for op in operations)
    ids = [op["operationId"] for item in paths.values() for op in item.values()]
    assert len(ids) == len(set(ids))
