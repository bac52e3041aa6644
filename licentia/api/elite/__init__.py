"""The Elite Key API (management Part A), compatible with the AuthlyX Discord bot."""

from licentia.api.elite.router import build_router

__all__ = ["build_router"]
