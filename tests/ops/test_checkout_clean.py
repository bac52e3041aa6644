"""Quickstart inside a checkout leaves nothing untracked (issue #12 item 9): the data folder's
database, master key and the SQLite purge lock are all ignored by the project's .gitignore."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from licentia.config import Settings
from licentia.services import maintenance
from licentia.services.runtime import Runtime
from tests.conftest import TEST_ARGON2_ENV

ROOT = Path(__file__).resolve().parents[2]


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_quickstart_and_a_purge_leave_the_checkout_clean(tmp_path: Path) -> None:
    repo = tmp_path / "checkout"
    repo.mkdir()
    shutil.copy(ROOT / ".gitignore", repo / ".gitignore")
    _git(repo, "init", "-q")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LICENTIA_")}
    env.update(TEST_ARGON2_ENV)  # the SQLite default in ./licentia-data, as in the README
    proc = subprocess.run(
        [sys.executable, "-m", "licentia", "quickstart", "--no-serve", "--json"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stderr
    data_dir = repo / "licentia-data"

    async def purge() -> None:
        rt = Runtime.build(Settings(data_dir=data_dir))
        try:
            assert await maintenance.purge_exclusive(rt) is not None
        finally:
            await rt.close()

    asyncio.run(purge())
    made = sorted(p.name for p in data_dir.iterdir())
    assert "licentia.db" in made and "master.key" in made
    assert any(name.endswith(".purge-lock") for name in made), made
    assert _git(repo, "status", "--porcelain", "--untracked-files=all") == "?? .gitignore\n"
