"""The support console: one panel on the user, license and device pages with what the
customer did lately (`services.support`), and one-click actions that post to the detail
page's own action routes (`routes_identities`), so every change keeps its capability check,
its audit entry and its redirect back to the page.

Each part is shown only with its right: auth events and client logs `log.list`, chat
messages `channel.messages`, audit entries `audit.list`.
"""

from __future__ import annotations

from fastapi import Request

from licentia.services import dashboard_auth, support
from licentia.services.admin_common import AdminError
from licentia.services.dashboard_auth import AppAccess, DashSession
from licentia.web.app import runtime

#: Days the one-click "extend" buttons add.
QUICK_EXTEND_DAYS = (7, 30)


async def _may(request: Request, session: DashSession, access: AppAccess, capability: str) -> bool:
    try:
        await dashboard_auth.authorize_app(runtime(request), session, access.app_id, capability)
    except AdminError as exc:
        if exc.code == "PERMISSION_DENIED":
            return False
        raise
    return True


async def support_context(
    request: Request,
    session: DashSession,
    access: AppAccess,
    kind: str,
    name: str,
    *,
    used_by: str | None = None,
) -> dict[str, object]:
    """What `_support.html` shows for one customer (`name`: username, key, `type/id`)."""
    may_events = await _may(request, session, access, "log.list")
    may_chat = kind == "user" and await _may(request, session, access, "channel.messages")
    may_audit = await _may(request, session, access, "audit.list")
    found = await support.activity(
        runtime(request),
        access.app_id,
        access.owner_account_id,
        kind,
        name,
        used_by=used_by,
        with_events=may_events,
        with_chat=may_chat,
        with_audit=may_audit,
    )
    return {
        "support": found,
        "support_may": {"events": may_events, "chat": may_chat, "audit": may_audit},
        "quick_days": QUICK_EXTEND_DAYS,
    }
