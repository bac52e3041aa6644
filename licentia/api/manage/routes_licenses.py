"""Management API routes for subscriptions and licenses (B.5, B.6): edit, extend/shorten, reset
HWID, end sessions, bulk delete, export and import.
"""

from fastapi import APIRouter

from licentia.api.manage.auth import Guard


def register(router: APIRouter, guard: Guard) -> None:
    """Add this module's routes to the management router."""
