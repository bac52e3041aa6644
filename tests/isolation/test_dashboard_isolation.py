"""Tenant isolation in the dashboard (issue #14): every changing dashboard route (found in the
dashboard app's routes) is posted, with a valid CSRF token, by another owner's session and by
the victim's own under-privileged and app-limited staff sessions, aimed at the victim's
objects. The victim's whole state must be the same after each post."""

from __future__ import annotations

import re
from typing import Any

import pytest

from licentia.api.app import LicentiaApp
from licentia.services import admin_staff
from tests.isolation import state
from tests.isolation.conftest import Victim
from tests.isolation.requests import api_routes
from tests.web.conftest import Browser, Dash, csrf_of
from tests.web.conftest import dash as dash  # the dashboard tests' fixture
from tests.web.test_team_pages import _member, _signed_in_as

#: Values of the `{action}` / `{verb}` path segments: every verb a dashboard form posts.
VERBS = (
    "ban unban pause unpause extend shorten delete edit reset reset-hwid end-sessions remove "
    "role add set create clear enable disable import rename regenerate-secret coins allow deny "
    "mute unmute register settings"
).split()
_PARAM = re.compile(r"{(\w+)(?::\w+)?}")
#: Where a session starts and ends, the signed-in account's own settings (`/account/...`) and
#: the colour theme (a cookie of the browser; no stored row): not an attack on anyone else's
#: objects.
SKIP_PREFIXES = ("/signin", "/signout", "/account/", "/theme")


def _form(victim: Victim, csrf: str) -> dict[str, Any]:
    names = victim.names
    return {
        "csrf_token": csrf,
        "days": "30",
        "duration_days": "30",
        "expiry_date": "2031-01-01",
        "reason": "attack",
        "note": "attacked",
        "name": "Attacked",
        "subscription": "Premium",
        "key": list(names["keys"].values()),
        "amount": "3",
        "count": "3",
        "confirm": "yes",
        "do": "ban",
        "q": "A-",
        "state": "unused",
        "username": names["username"],
        "password": "attack-password-1",
        "role_id": names["role_id"],
        "value": "attacked",
        "message": "attacked",
        "device_type": names["device_type"],
        "device_id": names["device_id"],
        "perm_extra": "license:write app:write",
        "scope": "all",
    }


def _paths(app: LicentiaApp, victim: Victim) -> list[list[str]]:
    """Per changing route, the paths to post (one per verb when the route takes one)."""
    names = victim.names
    values = {
        "app_id": names["app_id"],
        "key": names["key"],
        "username": names["username"],
        "device_type": names["device_type"],
        "device_id": names["device_id"],
        "channel": names["channel"],
        "message_id": names["message_id"],
        "role_id": names["role_id"],
        "plan_id": names["plan_id"],
        "price_id": names["price_id"],
        "token_id": names["token_id"],
        "session_id": names["session"],
        "list_name": names["list_name"],
        "webhook_id": names["webhook_id"],
        "delivery_id": names["delivery_id"],
    }
    dashboard = next(r for r in app.web.routes if getattr(r, "path", "") == "/dashboard")
    out: list[list[str]] = []
    for route in api_routes(dashboard.app.routes):  # type: ignore[attr-defined]
        if "POST" not in route.methods or route.path.startswith(SKIP_PREFIXES):
            continue
        params = _PARAM.findall(route.path)
        unknown = set(params) - set(values) - {"action", "verb", "public_id"}
        assert not unknown, f"{route.path}: add a victim value for {unknown}"
        verbs = VERBS if {"action", "verb"} & set(params) else ["-"]
        group: list[str] = []
        for verb in verbs:
            public = names["reseller" if route.path.startswith("/resellers") else "staff"]

            def fill(m: re.Match[str], verb: str = verb, public: str = public) -> str:
                name = m.group(1)
                if name in ("action", "verb"):
                    return verb
                return public if name == "public_id" else str(values[name])

            group.append(_PARAM.sub(fill, route.path))
        out.append(group)
    return out


async def _staff_browser(dash: Dash, victim: Victim, perms: list[str], apps: Any) -> Browser:
    owner_id = victim.world.owner_id
    role = await admin_staff.create_role(victim.rt, owner_id, f"r{len(perms)}", perms, apps)
    member = await _member(dash, "iso")
    await admin_staff.add_staff(
        victim.rt, owner_id, type="existing", role_id=role.id, public_id=member.public_id
    )
    return await _signed_in_as(dash, member.username)


@pytest.mark.parametrize("who", ["foreign-owner", "low-staff", "app-limited-staff"])
async def test_no_dashboard_session_changes_another_owners_or_a_forbidden_object(
    app: LicentiaApp, dash: Dash, victim: Victim, who: str
) -> None:
    if who == "foreign-owner":
        dash.owner = await dash.new_owner("foreign")
        browser = await dash.signed_in()
    elif who == "low-staff":
        browser = await _staff_browser(dash, victim, ["license:read", "user:read"], None)
    else:
        perms = ["license:write", "user:write", "app:write", "role:write", "staff:write"]
        browser = await _staff_browser(dash, victim, perms, [victim.second_app_id])
    groups = _paths(app, victim)
    assert len(groups) >= 40
    csrf = csrf_of((await browser.get("/account")).text)
    before = await victim.dump()
    applied = await victim.applied()
    failures: list[str] = []
    for group in groups:
        for path in group:
            response = await browser.post(path, _form(victim, csrf))
            assert response.status_code < 500, (path, response.text[:300])
            if who != "foreign-owner" and response.status_code < 400:
                failures.append(f"{path}: {response.status_code} accepted")
            if await victim.applied() != applied:  # cheap, after every post
                failures.append(f"{path}: an applied change was audited for the victim")
                applied = await victim.applied()
        after = await victim.dump()  # every row, after each route's posts
        if after != before:
            failures.append(f"{group[0]} changed {state.diff(before, after)}")
            before = after
    assert failures == []
