"""The web dashboard (issue #4): a fourth face on the services, mounted at `/dashboard`."""

from licentia.web.app import build_dashboard

__all__ = ["build_dashboard"]
