"""Text that every database can store: no write fails on what a client sent.

Client input reaches rows (auth events, client logs, chat, variables, usernames, SIDs) and the
parameters of lookups. Two kinds of character cannot travel: a lone surrogate (`"\\ud800"` in a
JSON body parses to one) has no UTF-8 form, so the driver's encoder raises, and PostgreSQL
refuses NUL in text. Both become U+FFFD (the replacement character) in every string parameter
of every statement, on both databases, so SQLite and PostgreSQL store the same thing.
Non-characters such as U+FFFF are valid UTF-8 and are stored unchanged.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine

REPLACEMENT = "\ufffd"
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(text: str) -> str:
    """`text` with each lone surrogate and NUL replaced by U+FFFD."""
    if text.isascii():
        return text.replace("\x00", REPLACEMENT) if "\x00" in text else text
    return _UNSTORABLE.sub(REPLACEMENT, text)


def _needs(value: Any) -> bool:
    # The hot path: ASCII text without NUL (nearly every parameter) costs two C-level scans.
    if not isinstance(value, str):
        return False
    if value.isascii():
        return "\x00" in value
    return _UNSTORABLE.search(value) is not None


def _clean_one(params: Any) -> Any:
    if isinstance(params, dict):
        if not any(_needs(v) for v in params.values()):
            return params
        return {k: storable(v) if isinstance(v, str) else v for k, v in params.items()}
    if isinstance(params, tuple | list):
        for value in params:
            if _needs(value):
                break
        else:
            return params
        cleaned = [storable(v) if isinstance(v, str) else v for v in params]
        return tuple(cleaned) if isinstance(params, tuple) else cleaned
    return params


def clean_parameters(parameters: Any, executemany: bool) -> Any:
    """The statement's parameters (one set, or a list of sets for executemany), cleaned."""
    if executemany and isinstance(parameters, list | tuple):
        cleaned = [_clean_one(p) for p in parameters]
        if all(a is b for a, b in zip(cleaned, parameters, strict=True)):
            return parameters
        return cleaned if isinstance(parameters, list) else tuple(cleaned)
    return _clean_one(parameters)


def install(engine: AsyncEngine | Engine) -> None:
    """Clean every statement's string parameters before the driver sees them."""
    sync = engine.sync_engine if isinstance(engine, AsyncEngine) else engine

    @event.listens_for(sync, "before_cursor_execute", retval=True)
    def _before(
        conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
    ) -> tuple[str, Any]:
        return statement, clean_parameters(parameters, executemany)
