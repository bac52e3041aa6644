"""CLI commands for subscriptions and license keys.

List, info, edit, extend/shorten, reset HWID, export and import.
"""

from __future__ import annotations
