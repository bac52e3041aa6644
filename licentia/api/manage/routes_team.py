"""Management API routes for staff roles and staff (B.18), rate plans, resellers and coins (B.19),
and the reseller's own view.
"""

from fastapi import APIRouter

from licentia.api.manage.auth import Guard


def register(router: APIRouter, guard: Guard) -> None:
    """Add this module's routes to the management router."""
