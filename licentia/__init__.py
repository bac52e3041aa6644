"""Licentia: self-hosted license and user authentication server."""

__version__ = "0.1.0"
