"""The license and user lists' filters, search field and sort as query parameters (#13 item 3).

One `ListQuery` is read from the page's query string (or a form that carries it along) and
turned into the service filters the REST API's list uses (`LicenseFilter`, `UserFilter`);
it also writes itself back as a query string for the next page, the exports, the sort links
of the column headers and the bulk forms, so every link keeps the filter. Unknown values
fall back to "any": a hand-edited URL shows the plain list, never an error page.

Parameters: `q` (search text), `in` (what it searches: see `SEARCH_IN`), `state`, `sub`
(subscription), `exp` (expiry window: `EXPIRY_WINDOWS`), `by` (created by: an exact stored
`created_by`), `sort` and `dir` (`asc`/`desc`), `cursor`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import Request

from licentia.services import list_choices, views_licenses, views_users
from licentia.services.runtime import Runtime
from licentia.services.views_licenses import LicenseFilter
from licentia.services.views_users import UserFilter

MAX_SEARCH = 64
#: What the search box searches, per list: (value, label).
SEARCH_IN = {
    "licenses": (
        ("key", "key"),
        ("used_by", "username"),
        ("email", "email"),
        ("hwid", "HWID"),
        ("ip", "IP"),
    ),
    "users": (("name", "username or email"), ("hwid", "HWID"), ("ip", "IP")),
}
#: Expiry windows: value -> (label, start offset in days, end offset in days) from now.
EXPIRY_WINDOWS: dict[str, tuple[str, int, int]] = {
    "7": ("in the next 7 days", 0, 7),
    "30": ("in the next 30 days", 0, 30),
    "90": ("in the next 90 days", 0, 90),
    "past30": ("in the last 30 days", -30, 0),
}
#: Sortable columns per list (the service's sort names) and their default direction.
SORTS = {
    "licenses": tuple(views_licenses.SORTS),
    "users": tuple(views_users.USER_SORTS),
}


@dataclass(frozen=True)
class ListQuery:
    kind: str  # "licenses" or "users"
    search: str = ""
    search_in: str = ""
    state: str = ""
    subscription: str = ""
    expiry: str = ""
    created_by: str = ""
    sort: str = "created"
    descending: bool = True
    cursor: str | None = None

    @property
    def filtered(self) -> bool:
        """Whether anything narrows the list (a bulk action on "every match" needs it)."""
        return bool(
            self.search or self.state or self.subscription or self.expiry or self.created_by
        )

    def params(self, **override: str) -> dict[str, str]:
        values = {
            "q": self.search,
            "in": self.search_in,
            "state": self.state,
            "sub": self.subscription,
            "exp": self.expiry,
            "by": self.created_by,
            "sort": "" if self.sort == "created" else self.sort,
            "dir": "" if self.descending else "asc",
        }
        values.update(override)
        return {k: v for k, v in values.items() if v}

    def query(self, **override: str) -> str:
        return urlencode(self.params(**override))

    def next_query(self, cursor: str | None) -> str:
        return self.query(cursor=cursor or "")

    def sort_query(self, column: str) -> str:
        """The header link of `column`: sorted by it, or reversed when it already is."""
        if column == self.sort:
            return self.query(sort=column, dir="desc" if not self.descending else "asc")
        return self.query(sort=column, dir="")

    def aria_sort(self, column: str) -> str:
        if column != self.sort:
            return "none"
        return "descending" if self.descending else "ascending"

    def window(self, now: datetime) -> tuple[datetime | None, datetime | None]:
        if self.expiry not in EXPIRY_WINDOWS:
            return None, None
        _, start, end = EXPIRY_WINDOWS[self.expiry]
        return now + timedelta(days=start), now + timedelta(days=end)

    def license_filter(self, now: datetime) -> LicenseFilter:
        low, high = self.window(now)
        return LicenseFilter(
            state=self.state or None,
            subscription=self.subscription or None,
            search=self.search or None,
            search_in=self.search_in or None,
            expires_from=low,
            expires_to=high,
            created_by=self.created_by or None,
        )

    def user_filter(self, now: datetime) -> UserFilter:
        low, high = self.window(now)
        return UserFilter(
            expires_from=low,
            expires_to=high,
            created_by=self.created_by or None,
            search_in=self.search_in or None,
        )


def read(
    kind: str,
    params: Mapping[str, str],
    *,
    states: tuple[str, ...],
    subscriptions: list[str],
) -> ListQuery:
    """The list query of `params` (a query string or a form carrying it)."""

    def pick(name: str, allowed: object) -> str:
        value = params.get(name, "")
        return value if isinstance(value, str) and value in allowed else ""  # type: ignore[operator]

    sort = pick("sort", SORTS[kind]) or "created"
    by = params.get("by", "")
    return ListQuery(
        kind=kind,
        search=params.get("q", "").strip()[:MAX_SEARCH],
        search_in=pick("in", {v for v, _ in SEARCH_IN[kind]}),
        state=pick("state", states),
        subscription=pick("sub", subscriptions),
        expiry=pick("exp", EXPIRY_WINDOWS),
        created_by=by[:64] if isinstance(by, str) else "",
        sort=sort,
        descending=params.get("dir", "") != "asc",
        cursor=params.get("cursor") or None,
    )


def first_page(query: ListQuery) -> ListQuery:
    return replace(query, cursor=None)


async def from_request(
    request: Request, kind: str, params: Mapping[str, str] | None = None
) -> tuple[ListQuery, list[str]]:
    """The license or user list's query (from the query string, or a form carrying it)
    and the app's subscription names. The app was authorized by the caller."""
    rt: Runtime = request.app.state.dash.runtime()
    subs = [
        s.name for s in await views_licenses.list_subscriptions(rt, request.path_params["app_id"])
    ]
    states = views_licenses.LICENSE_STATES if kind == "licenses" else views_users.USER_STATES
    source = params if params is not None else request.query_params
    return read(kind, source, states=states, subscriptions=subs), subs


async def page_context(
    rt: Runtime, owner_account_id: str, query: ListQuery, subs: list[str]
) -> dict[str, Any]:
    """What the filter bar, the sortable headers and the exports of a list need."""
    creators = await list_choices.creator_choices(rt, owner_account_id)
    return {
        "creators": creators,
        "creator_names": dict(creators),
        "lq": query,
        "search": query.search,
        "state": query.state,
        "subscriptions": subs,
        "search_fields": SEARCH_IN[query.kind],
        "windows": EXPIRY_WINDOWS,
        "filter_query": query.query(),
    }
