"""Fixtures of the operator family: the Elite Key bot, the management helpers and the CLI
installation of the other areas, reused as they are."""

from tests.cli.conftest import install
from tests.elite.conftest import bot, elite_key

__all__ = ["bot", "elite_key", "install"]
