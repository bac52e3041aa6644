"""CLI commands for owner accounts, API tokens, the Elite Key, the audit log and usage."""

from __future__ import annotations
