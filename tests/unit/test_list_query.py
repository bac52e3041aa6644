"""Pure parts of the sorted and filtered lists (#13 item 3): the position cursor of a sorted
list, the ORDER BY terms of one index in both directions, and the dashboard's list query
read from a hand-edited address."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import Column, DateTime, MetaData, String, Table, select
from sqlalchemy.dialects import postgresql, sqlite

from licentia.services import paging
from licentia.services.admin_common import AdminError
from licentia.web import list_query


def _raw(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def test_offset_cursor_round_trip_and_refusals() -> None:
    cursor = paging.encode_offset("user-expiry-asc", 150)
    assert paging.decode_offset("user-expiry-asc", cursor) == 150
    assert paging.decode_offset("user-expiry-asc", None) == 0
    for bad in (
        paging.encode_offset("user-expiry-desc", 50),  # another sort's cursor
        paging.encode_cursor("user", datetime(2026, 1, 1, tzinfo=UTC), "id"),  # a keyset one
        _raw(["user-expiry-asc", True]),
        _raw(["user-expiry-asc", -1]),
        _raw(["user-expiry-asc", 10**9]),
        _raw(["user-expiry-asc", "50"]),
        "!!not base64!!",
        "A" * 600,
    ):
        with pytest.raises(AdminError) as refused:
            paging.decode_offset("user-expiry-asc", bad)
        assert refused.value.code == "INVALID_INPUT"


def test_sort_terms_are_one_index_read_both_ways() -> None:
    table = Table("t", MetaData(), Column("id", String), Column("at", DateTime))
    up = paging.sorted_by(table.c.at, table.c.id, False)
    down = paging.sorted_by(table.c.at, table.c.id, True)
    for dialect in (sqlite.dialect(), postgresql.dialect()):
        asc = str(select(table.c.id).order_by(*up).compile(dialect=dialect))
        desc = str(select(table.c.id).order_by(*down).compile(dialect=dialect))
        assert asc.endswith("ORDER BY t.at IS NULL, t.at, t.id")
        assert desc.endswith("ORDER BY t.at IS NULL DESC, t.at DESC, t.id DESC")
    plain = paging.sorted_by(table.c.at, table.c.id, False, nullable=False)
    assert len(plain) == 2


def test_list_query_from_a_hand_edited_address() -> None:
    query = list_query.read(
        "licenses",
        {"q": "  ABC  ", "in": "hwid", "state": "nope", "sub": "Gold", "exp": "30", "by": "cli",
         "sort": "expiry", "dir": "asc", "cursor": "c"},
        states=("banned",),
        subscriptions=["Gold"],
    )  # fmt: skip
    assert (query.search, query.search_in, query.state, query.subscription) == (
        "ABC", "hwid", "", "Gold",
    )  # fmt: skip
    assert query.sort == "expiry" and not query.descending and query.filtered
    # Links keep the filter; a header link reverses its own column and starts at page one.
    assert "cursor" not in query.query() and "sub=Gold" in query.query()
    assert "dir=desc" in query.sort_query("expiry") and "sort=key" in query.sort_query("key")
    now = datetime(2026, 12, 8, tzinfo=UTC)
    filters = query.license_filter(now)
    assert filters.expires_to is not None and (filters.expires_to - now).days == 30
    unknown = list_query.read(
        "users", {"sort": "password", "in": "key", "exp": "999"}, states=(), subscriptions=[]
    )
    assert (unknown.sort, unknown.search_in, unknown.expiry, unknown.filtered) == (
        "created", "", "", False,
    )  # fmt: skip


pytestmark = pytest.mark.one_pass
