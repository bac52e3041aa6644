"""CLI commands for staff roles, staff members, rate plans, resellers and coins."""

from __future__ import annotations
