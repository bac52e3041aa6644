"""The deployment examples in deploy/ (issue #12 item 5): the systemd unit passes
`systemd-analyze verify` (where systemd is installed), runs one worker (right for SQLite, the
default) and sets the open-files limit; docs/operations.md shows the unit as shipped; the nginx
and Caddy examples forward the scheme; the README's setup example no longer runs several
workers on SQLite."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
UNIT = DEPLOY / "licentia.service"
EXEC = "/opt/licentia/venv/bin/licentia"


def _unit_lines() -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if line and not line.startswith(("#", "[")) and "=" in line:
            key, _, value = line.partition("=")
            values.setdefault(key, []).append(value)
    return values


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_unit_verifies(tmp_path: Path) -> None:
    # verify checks that ExecStart is executable: point it at a stand-in of the same name.
    stand_in = tmp_path / "bin" / "licentia"
    stand_in.parent.mkdir()
    stand_in.write_text("#!/bin/sh\nexit 0\n")
    stand_in.chmod(0o755)
    unit = tmp_path / "licentia.service"
    text = UNIT.read_text()
    assert EXEC in text
    unit.write_text(text.replace(EXEC, str(stand_in)))
    env = dict(os.environ, SYSTEMD_LOG_LEVEL="notice", SYSTEMD_LOG_COLOR="0")
    proc = subprocess.run(
        ["systemd-analyze", "verify", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    output = (proc.stdout + proc.stderr).strip()
    assert proc.returncode == 0 and not output, output


def test_unit_runs_one_worker_with_an_open_files_limit() -> None:
    values = _unit_lines()
    (exec_start,) = values["ExecStart"]
    assert exec_start.startswith(EXEC + " serve")
    workers = re.search(r"--workers[ =](\d+)", exec_start)
    assert workers is None or workers.group(1) == "1"
    assert "LICENTIA_WORKERS=1" in values["Environment"]
    assert int(values["LimitNOFILE"][0]) >= 65536
    assert values["Restart"] == ["on-failure"] and values["UMask"] == ["0077"]


def test_operations_doc_shows_the_shipped_unit() -> None:
    doc = (ROOT / "docs" / "operations.md").read_text()
    section = doc[doc.index("## systemd") :]
    block = section[section.index("```ini\n") + len("```ini\n") :]
    assert block[: block.index("```\n")] == UNIT.read_text()


def test_proxy_examples_forward_the_scheme() -> None:
    nginx = (DEPLOY / "nginx.conf").read_text()
    assert "proxy_set_header X-Forwarded-Proto $scheme;" in nginx
    assert "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;" in nginx
    assert "proxy_pass http://127.0.0.1:8080;" in nginx
    caddy = (DEPLOY / "Caddyfile").read_text()
    assert "reverse_proxy 127.0.0.1:8080" in caddy
    assert "header_up X-Forwarded-Proto {scheme}" in caddy


def test_readme_setup_does_not_run_several_workers_on_sqlite() -> None:
    readme = (ROOT / "README.md").read_text()
    setup = readme[readme.index("## Setting up a server") :]
    block = setup[setup.index("```sh\n") : setup.index("```\n", setup.index("```sh\n") + 5)]
    assert "licentia serve" in block
    assert not re.search(r"--workers[ =]([2-9]|\d\d)", block)
