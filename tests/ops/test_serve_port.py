"""`licentia serve` on a taken port: a clear error and no announcement (issue #12 item 7)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest

from tests.cli.conftest import Installation, parse_one_object


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield int(holder.getsockname()[1])


def test_serve_on_a_taken_port_announces_nothing(install: Installation, taken_port: int) -> None:
    proc = install.subprocess("serve", "--port", str(taken_port), "--json")
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    body = parse_one_object(proc.stdout)
    assert body["error"] == "PORT_IN_USE", body
    assert f"127.0.0.1:{taken_port}" in body["message"] and "--port" in body["message"]
    assert "serving" not in proc.stdout
    assert "Errno" not in proc.stderr and "Traceback" not in proc.stderr

    human = install.subprocess("serve", "--port", str(taken_port))
    assert human.returncode == 1
    assert "Licentia on" not in human.stdout + human.stderr
    assert human.stderr.startswith("error: cannot listen on 127.0.0.1:")
    assert "already in use" in human.stderr


def test_quickstart_on_a_taken_port_fails_before_printing(
    install: Installation, taken_port: int
) -> None:
    proc = install.subprocess("quickstart", "--port", str(taken_port), "--json")
    assert proc.returncode == 1
    assert json.loads(proc.stdout)["error"] == "PORT_IN_USE"
    human = install.subprocess("quickstart", "--port", str(taken_port))
    assert human.returncode == 1 and "Secret" not in human.stdout
