"""licentia-client as a package: no server import, HWID helpers, and the wheel builds."""

from __future__ import annotations

import ast
import importlib.util
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from licentia_client import _hwid

from tests.client.conftest import CLIENT_ROOT

pytestmark = pytest.mark.one_pass
PACKAGE = CLIENT_ROOT / "licentia_client"


def test_imports_nothing_of_the_server() -> None:
    allowed = {"licentia_client", "httpx", "cryptography"}
    for path in PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                assert top != "licentia", f"{path.name} imports {name}"
                assert top in allowed or top in sys.stdlib_module_names, f"{path.name}: {name}"


def test_hwid_parsers() -> None:
    whoami = '"desktop-7\\\\xela","S-1-5-21-3623811015-3361044348-30300820-1013"\r\n'
    assert _hwid.parse_whoami(whoami) == "S-1-5-21-3623811015-3361044348-30300820-1013"
    assert _hwid.parse_whoami("ERROR: access denied") == ""
    ioreg = '  |   "IOPlatformUUID" = "564d1c2e-8a3b-4f5e-9c7d-0123456789ab"\n'
    assert _hwid.parse_ioreg(ioreg) == "564D1C2E-8A3B-4F5E-9C7D-0123456789AB"
    assert _hwid.parse_ioreg("") == ""


def test_linux_machine_id(tmp_path: Path) -> None:
    bad, good = tmp_path / "bad", tmp_path / "good"
    bad.write_text("not-an-id\n")
    good.write_text("0123456789ABCDEF0123456789abcdef\n")
    assert _hwid.linux_machine_id((str(tmp_path / "none"), str(bad), str(good))) == (
        "0123456789abcdef0123456789abcdef"
    )
    assert _hwid.linux_machine_id((str(bad),)) == ""


def test_wheel_builds(tmp_path: Path) -> None:
    """`python -m build` (the test extras install it) makes a wheel of the package alone."""
    if importlib.util.find_spec("build") is None:
        pytest.skip("the `build` package is not installed (pip install '.[test]')")
    # Built from a copy: setuptools leaves build/ and *.egg-info/ next to the sources.
    source = tmp_path / "src"
    shutil.copytree(CLIENT_ROOT, source, ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path / "dist"
    done = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out)],
        cwd=source,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (wheel,) = out.glob("licentia_client-0.1.0-py3-none-any.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "licentia_client/__init__.py" in names and "licentia_client/py.typed" in names
    assert not any(name.startswith("licentia/") for name in names)
    metadata = zipfile.ZipFile(wheel).read("licentia_client-0.1.0.dist-info/METADATA").decode()
    assert "Requires-Dist: httpx" in metadata and "Requires-Dist: cryptography" in metadata
