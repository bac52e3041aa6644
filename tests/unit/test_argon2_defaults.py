"""The production argon2id parameters, checked once for the whole suite.

Every other test runs with deliberately cheap argon2id parameters (`tests.conftest.TEST_ARGON2_*`)
so that the suite stays fast; this file is what keeps the real defaults (OWASP: m=19 MiB, t=2,
p=1) from drifting unnoticed.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from licentia.config import Settings
from licentia.crypto.passwords import Passwords
from licentia.services.runtime import Runtime
from tests.conftest import TEST_ARGON2_MEMORY_KIB, TEST_ARGON2_TIME_COST, TEST_MASTER_KEY

PRODUCTION_PARAMS = "m=19456,t=2,p=1"


def _params(encoded: str) -> str:
    match = re.fullmatch(r"\$argon2id\$v=19\$(m=\d+,t=\d+,p=\d+)\$[^$]+\$[^$]+", encoded)
    assert match, encoded
    return match.group(1)


def test_settings_default_to_the_production_parameters(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("ARGON2_MEMORY_KIB", "ARGON2_TIME_COST", "ARGON2_PARALLELISM"):
        monkeypatch.delenv(f"LICENTIA_{name}", raising=False)
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}",
        master_key=TEST_MASTER_KEY,
    )
    assert (
        settings.argon2_memory_kib,
        settings.argon2_time_cost,
        settings.argon2_parallelism,
    ) == (19456, 2, 1)
    rt = Runtime.build(settings)
    hashed = rt.passwords.hash_sync("correct horse")
    assert _params(hashed) == PRODUCTION_PARAMS
    assert rt.passwords.verify_sync(hashed, "correct horse")
    assert not rt.passwords.verify_sync(hashed, "wrong horse")


def test_passwords_default_to_the_production_parameters() -> None:
    passwords = Passwords()
    hashed = passwords.hash_sync("pw")
    assert _params(hashed) == PRODUCTION_PARAMS
    assert not passwords.needs_rehash(hashed)


def test_cheap_test_hashes_would_be_upgraded_in_production() -> None:
    """A hash made with the suite's parameters is flagged for rehash by the real hasher."""
    cheap = Passwords(time_cost=TEST_ARGON2_TIME_COST, memory_kib=TEST_ARGON2_MEMORY_KIB)
    hashed = cheap.hash_sync("pw")
    assert _params(hashed) == f"m={TEST_ARGON2_MEMORY_KIB},t={TEST_ARGON2_TIME_COST},p=1"
    assert Passwords().needs_rehash(hashed)
    assert Passwords().verify_sync(hashed, "pw")
