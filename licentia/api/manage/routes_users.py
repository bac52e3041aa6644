"""Management API routes for users (B.7), bound devices (B.8), hardware devices (B.9) and client
sessions (B.13).
"""

from fastapi import APIRouter

from licentia.api.manage.auth import Guard


def register(router: APIRouter, guard: Guard) -> None:
    """Add this module's routes to the management router."""
