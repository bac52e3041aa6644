"""Fixtures of the operations tests (issue #12): the CLI installation of tests/cli."""

from tests.cli.conftest import install

__all__ = ["install"]
