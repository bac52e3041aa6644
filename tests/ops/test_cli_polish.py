"""`licentia --version`, help without type placeholders, whole table cells when piped
(issue #12 item 9)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import typer
from click.testing import CliRunner as ClickRunner
from typer.testing import CliRunner

from licentia import __version__
from licentia.cli.main import app
from tests.cli.conftest import Installation

PLACEHOLDERS = ("<bool>", "<str>", "<int", "<path>", "<dir>", "<float", "<list[")


def test_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout == f"licentia {__version__}\n"


def _commands(command: Any, path: list[str]) -> Iterator[list[str]]:
    yield path
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from _commands(sub, [*path, name])


def test_help_has_no_type_placeholders() -> None:
    runner = ClickRunner()
    root = typer.main.get_command(app)  # built once: typer rebuilds it on every invoke
    paths = list(_commands(root, []))
    assert len(paths) > 150
    for path in paths:
        result = runner.invoke(root, [*path, "--help"], terminal_width=200, prog_name="licentia")
        assert result.exit_code == 0, (path, result.stdout)
        for placeholder in PLACEHOLDERS:
            assert placeholder not in result.stdout, (path, placeholder, result.stdout)
    serve = runner.invoke(root, ["serve", "--help"], terminal_width=200).stdout
    assert "--port" in serve and "INTEGER" in serve and "TEXT" in serve


def test_piped_tables_keep_whole_values(
    install: Installation, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A shell pipe does not export COLUMNS; pytest-xdist workers inherit COLUMNS=80.
    monkeypatch.delenv("COLUMNS", raising=False)
    email = "a" * 150 + "@example.com"
    result = install.invoke("owner", "create", "--username", "wide", "--password", "pw123456")
    assert result.exit_code == 0, result.stderr
    result = install.invoke(
        "owner", "create", "--username", "wider", "--password", "pw123456", "--email", email
    )
    assert result.exit_code == 0, result.stderr
    [line] = [row for row in result.stdout.splitlines() if "email" in row]
    assert email in line, result.stdout
