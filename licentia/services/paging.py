"""Opaque keyset cursors for the management API's lists (B.0 "Lists page with cursors").

A list is ordered newest first by `(created_at, id)`; a cursor is the position of the last
item of a page, `base64url(JSON [kind, created_at, id])`. The cursor names its list kind so a
licence cursor cannot be replayed on the user list. It is not a secret: tampering with it only
moves the position within what the caller may see anyway, and every value goes into the
query as a bound parameter.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, literal, tuple_

from licentia.services.admin_common import AdminError, as_utc

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
_MAX_CURSOR = 512


def encode_cursor(kind: str, created_at: datetime, item_id: str) -> str:
    raw = json.dumps([kind, as_utc(created_at).isoformat(), item_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _bad() -> AdminError:
    return AdminError("INVALID_INPUT", "cursor must be a value returned as next_cursor", ["cursor"])


def decode_cursor(kind: str, cursor: str | None) -> tuple[datetime, str] | None:
    """The position a cursor names; None for the first page; INVALID_INPUT when malformed."""
    if not cursor:
        return None
    if len(cursor) > _MAX_CURSOR:
        raise _bad()
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value: Any = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise _bad() from None
    if (
        not isinstance(value, list)
        or len(value) != 3
        or value[0] != kind
        or not all(isinstance(part, str) for part in value)
    ):
        raise _bad()
    try:
        created_at = as_utc(datetime.fromisoformat(value[1]))
    except ValueError:
        raise _bad() from None
    return created_at, value[2]


def after(
    position: tuple[datetime, str] | None, created_col: Any, id_col: Any
) -> ColumnElement[bool] | None:
    """The WHERE clause of the page after `position` in `(created_at DESC, id DESC)` order.

    A row-value comparison, `(created_at, id) < (?, ?)`: SQLite and PostgreSQL both turn it
    into one range of the `(app_id, created_at, id)` index, where the equivalent OR form made
    SQLite walk the index from the top on every page (deep pages of a 100,000-key batch,
    which share one `created_at`, took ten times longer)."""
    if position is None:
        return None
    created_at, item_id = position
    return tuple_(created_col, id_col) < tuple_(
        literal(created_at, created_col.type), literal(item_id, id_col.type)
    )


def encode_offset(kind: str, offset: int) -> str:
    """A cursor for a list sorted by another column than `created_at`: the position as a
    row count (such a sort has no unique key to continue from; a row added meanwhile may
    shift a page by one)."""
    raw = json.dumps([kind, offset], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_offset(kind: str, cursor: str | None) -> int:
    """The row count an `encode_offset` cursor names (0 for the first page)."""
    if not cursor:
        return 0
    if len(cursor) > _MAX_CURSOR:
        raise _bad()
    try:
        value: Any = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise _bad() from None
    if (
        not isinstance(value, list)
        or len(value) != 2
        or value[0] != kind
        or not isinstance(value[1], int)
        or isinstance(value[1], bool)
        or not 0 <= value[1] <= 10_000_000
    ):
        raise _bad()
    return value[1]


def sorted_by(column: Any, id_col: Any, descending: bool, *, nullable: bool = True) -> list[Any]:
    """ORDER BY terms: `column`, then the id as tiebreak; a nullable column's empty values
    come last ascending and first descending (the exact reverse), so one index
    `(app_id, column IS NULL, column, id)` serves both directions."""
    terms = ([column.is_(None)] if nullable else []) + [column, id_col]
    return [t.desc() for t in terms] if descending else terms


T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list: its items and the cursor of the next page (None on the last)."""

    items: list[T]
    next_cursor: str | None


def check_limit(limit: int | None) -> int | None:
    """A page size within 1..MAX_LIMIT; None = everything (internal callers only)."""
    if limit is None:
        return None
    if not 1 <= limit <= MAX_LIMIT:
        raise AdminError("INVALID_INPUT", f"limit must be 1 to {MAX_LIMIT}", ["limit"])
    return limit
