"""Fixtures for end-to-end tests: a fresh Licentia installation per test module.

Database: PostgreSQL when `LICENTIA_TEST_DATABASE_URL` names one (a new database
`licentia_e2e_<random>` is created on that server for the module and dropped afterwards),
otherwise a SQLite file in a temporary directory.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .serverproc import (
    ServerEnv,
    create_postgres_database,
    drop_postgres_database,
    postgres_admin_url,
    sqlite_url,
)


@pytest.fixture(scope="module")
def e2e_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerEnv]:
    """A migrated, empty Licentia installation (data dir + database) for one test module."""
    data_dir = tmp_path_factory.mktemp("licentia-e2e")
    admin_url = postgres_admin_url()
    db_name = None
    if admin_url is not None:
        database_url, db_name = create_postgres_database(admin_url)
    else:
        database_url = sqlite_url(data_dir / "licentia.db")
    env = ServerEnv(data_dir=data_dir, database_url=database_url)
    try:
        env.run("migrate")
        yield env
    finally:
        env.close()
        if admin_url is not None and db_name is not None:
            drop_postgres_database(admin_url, db_name)
