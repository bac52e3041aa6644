"""The readable audit log (issue 13, item 9): targets by name with links, changes as a
before → after table, the actor filter by username, sign-ins on request."""

from __future__ import annotations

import re

from licentia.services import admin, admin_apps
from tests.web.conftest import Dash


async def test_audit_targets_changes_and_filters(dash: Dash) -> None:
    assert dash.owner is not None
    created = await admin.create_app(dash.rt, dash.owner.owner_id, "Readable")
    app_id = created.app_id
    await admin_apps.create_subscription(dash.rt, app_id, "Premium", 1)
    await admin.create_user(dash.rt, app_id, "zoe", "pw-secret-1", "Premium", days=30)
    browser = await dash.signed_in()
    user_page = f"/apps/{app_id}/user/zoe"
    banned = await browser.submit(
        user_page, f"/apps/{app_id}/users/zoe/ban", {"reason": "chargeback", "from": "detail"}
    )
    assert banned.status_code == 303
    secret = f"/apps/{app_id}/integration"
    assert (await browser.submit(secret, secret + "/secret", {})).status_code == 200

    page = (await browser.get("/audit", params={"app_id": app_id})).text
    ban_row = page.split('data-capability="user.ban"', 1)[1].split("</table>", 1)[0]
    assert f'<a href="/dashboard/apps/{app_id}/user/zoe">zoe</a>' in ban_row
    assert re.search(r'<th scope="row">banned</th><td>no</td><td>yes</td>', ban_row)
    assert re.search(r'<th scope="row">ban reason</th><td>“”</td><td>chargeback</td>', ban_row)
    secret_row = page.split('data-capability="app.secret"', 1)[1].split("</tr>", 1)[0]
    assert f'<a href="/dashboard/apps/{app_id}">Readable</a>' in secret_row
    assert app_id not in secret_row.split('class="target"', 1)[1].split("</td>", 1)[0].replace(
        f"/apps/{app_id}", ""
    )

    # The actor filter takes a username (any case) as well as an id.
    by_name = await browser.get("/audit", params={"actor": dash.owner.username.upper()})
    assert 'data-capability="user.ban"' in by_name.text
    by_id = await browser.get("/audit", params={"actor": dash.owner.id})
    assert 'data-capability="user.ban"' in by_id.text
    nobody = await browser.get("/audit", params={"actor": "no-such-person"})
    assert "No entries match." in nobody.text
    # Action and target filters as before, named for what they are.
    only = await browser.get("/audit", params={"capability": "user", "target": "zoe"})
    assert 'data-capability="user.ban"' in only.text
    assert 'data-capability="app.secret"' not in only.text
    assert '<label for="f-capability">Action</label>' in only.text
    assert 'list="audit-actions"' in only.text and '<option value="license">' in only.text
