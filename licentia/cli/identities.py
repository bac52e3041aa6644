"""CLI commands for end users, bound devices (bindings), hardware devices and client sessions."""

from __future__ import annotations
