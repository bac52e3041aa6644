"""Management API routes for the caller's account (B.1), API tokens, Elite Key settings (B.2), the
audit log (B.20), usage and the public signing key.
"""

from fastapi import APIRouter

from licentia.api.manage.auth import Guard


def register(router: APIRouter, guard: Guard) -> None:
    """Add this module's routes to the management router."""
