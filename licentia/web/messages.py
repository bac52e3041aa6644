"""The words of the flash messages that answer every list and detail action (#13 item 4):
what was done, to what, and which fields changed from what to what."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

#: Action name -> the verb of its flash message.
DONE = {
    "ban": "Banned",
    "unban": "Unbanned",
    "pause": "Paused",
    "unpause": "Unpaused",
    "edit": "Saved",
    "extend": "Extended",
    "shorten": "Shortened",
    "reset_hwid": "Reset the HWIDs of",
    "end_sessions": "Ended the sessions of",
    "reset_password": "Set a new password for",
    "unbind": "Removed a device from",
}
_SHOWN_FIELDS = 4


def count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def shown(value: Any) -> str:
    if value is None or value == "":
        return "none"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = str(value)
    return text if len(text) <= 60 else text[:57] + "…"


def summary(changes: Mapping[str, Any]) -> str:
    """`: a: x → y; b: …` for up to four changed fields (the audit entry has them all)."""
    parts = []
    for name, pair in list(changes.items())[:_SHOWN_FIELDS]:
        if isinstance(pair, list | tuple) and len(pair) == 2:
            parts.append(f"{name.replace('_', ' ')}: {shown(pair[0])} → {shown(pair[1])}")
    more = len(changes) - _SHOWN_FIELDS
    tail = f" (and {more} more)" if more > 0 else ""
    return (": " + "; ".join(parts) + tail + ".") if parts else "."
