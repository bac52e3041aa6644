"""Helpers shared by the route modules of the management API."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from licentia.services.admin_common import AdminError
from licentia.services.paging import Page

#: Service argument names -> the names this API uses for them.
FIELD_NAMES = {
    "days": "duration_days",
    "expires": "expiry_date",
    "lifetime": "duration_days",
    "count": "amount",
    "setting": "body",
}


@contextmanager
def api_fields() -> Iterator[None]:
    """Name the offending inputs of a service error as this API calls them."""
    try:
        yield
    except AdminError as exc:
        if exc.fields:
            exc.fields = sorted({FIELD_NAMES.get(f, f) for f in exc.fields})
        raise


def page_body(page: Page[Any]) -> dict[str, Any]:
    """A list answer: the page's objects as dictionaries and the cursor of the next page."""
    return {"items": [item.as_dict() for item in page.items], "next_cursor": page.next_cursor}


def term_args(expiry_date: datetime | None, duration_days: int | None) -> dict[str, Any]:
    """The service's term arguments; neither given = lifetime (A.7)."""
    if expiry_date is not None and duration_days is not None:
        raise AdminError(
            "INVALID_INPUT",
            "give expiry_date or duration_days, not both",
            ["expiry_date", "duration_days"],
        )
    if duration_days:
        return {"days": duration_days}
    if expiry_date is not None:
        return {"expires": expiry_date}
    return {"lifetime": True}


STATE_FLAGS = ("banned", "ban_reason", "paused", "paused_at")


def state_changes(before: Any, after: Any, *, with_expiry: bool) -> dict[str, list[Any]]:
    """The changed state fields; empty for an idempotent repeat (which leaves no entry)."""
    names = (*STATE_FLAGS, "expiry_date") if with_expiry else STATE_FLAGS
    changes = {
        name: [getattr(before, name), getattr(after, name)]
        for name in names
        if getattr(before, name) != getattr(after, name)
    }
    return changes if any(name in changes for name in STATE_FLAGS) else {}
