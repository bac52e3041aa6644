"""`starts_with(column, text, sqlite=...)`: an exact, case-sensitive prefix test that SQLite
answers from an index.

Both backends test `substr(column, 1, n) = text` (SQLite's LIKE ignores case; keys are
case-sensitive). On SQLite that alone cannot use an index, so the equivalent range
`column >= text AND column < next(text)` is added, where `next` raises the last character by
one: SQLite compares text with BINARY (UTF-8 bytes, in code point order), so the range holds
exactly the strings that start with `text`, and the `(app_id, key)` index serves it.
PostgreSQL keeps the substr test alone: under a linguistic collation a range could drop
matches.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, func

_MAX = 0x10FFFF


def next_prefix(text: str) -> str | None:
    """The least string above every string that starts with `text` (None if none exists)."""
    if not text:
        return None
    code = ord(text[-1]) + 1
    if 0xD800 <= code <= 0xDFFF:  # surrogates cannot be stored; the next code point is above
        code = 0xE000
    if code > _MAX:
        return None
    return text[:-1] + chr(code)


def starts_with(column: Any, text: str, *, sqlite: bool) -> ColumnElement[bool]:
    exact: ColumnElement[bool] = func.substr(column, 1, len(text)) == text
    if not sqlite or not text:
        return exact
    upper = next_prefix(text)
    if upper is None:
        return and_(column >= text, exact)
    return and_(column >= text, column < upper, exact)
