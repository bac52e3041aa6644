"""Management API routes for app lifecycle and configuration (B.4, B.10 to B.17): variables, chat,
logs, versions, hashes, rules, custom messages.
"""

from fastapi import APIRouter

from licentia.api.manage.auth import Guard


def register(router: APIRouter, guard: Guard) -> None:
    """Add this module's routes to the management router."""
