"""The Alembic migrations create exactly the schema `store/tables.py` declares."""

from __future__ import annotations

import warnings
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine

from licentia.store.tables import metadata

#: Expression indexes autogenerate cannot compare (it warns and skips them): checked by name.
EXPRESSION_INDEXES = {"users": {"ix_users_app_email"}}


def _compare(sync: Any) -> list[Any]:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*expression-based index.*")
        return list(compare_metadata(MigrationContext.configure(sync), metadata))


def _index_names(sync: Any, table: str) -> set[str]:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*expression-based index.*")
        found = {i["name"] for i in inspect(sync).get_indexes(table)}
    if sync.dialect.name == "sqlite":  # SQLite's reflection leaves expression indexes out
        rows = sync.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?", (table,)
        )
        found |= {r[0] for r in rows}
    return found


async def test_migrated_schema_matches_metadata(database_url: str) -> None:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(_compare)
            for table, names in EXPRESSION_INDEXES.items():
                present = await conn.run_sync(_index_names, table)
                assert names <= present, (table, names - present)
    finally:
        await engine.dispose()
    assert diff == []
