"""`store.prefix.starts_with`: on SQLite the index range must select exactly the strings the
substr test selects, for any prefix (the last character raised, surrogates and the highest
code point included), and the plan must be an index search."""

from __future__ import annotations

from sqlalchemy import Column, Index, MetaData, String, Table, create_engine, select, text

from licentia.store.prefix import next_prefix, starts_with

meta = MetaData()
items = Table("items", meta, Column("k", String, nullable=False), Index("ix_items_k", "k"))
VALUES = [
    "AB-1", "AB-10", "AB-2", "AB", "ab-1", "AC", "A", "", "Z\U0010ffff", "Z\U0010ffffa",
    "\ud7ff!", "\ue000", "é1", "éz", "f", "AB\U0010ffff",
]  # fmt: skip


def test_next_prefix() -> None:
    assert next_prefix("AB") == "AC"
    assert next_prefix("") is None
    assert next_prefix("a\U0010ffff") is None
    assert next_prefix("\ud7ff") == "\ue000"


def test_sqlite_range_matches_substr_exactly() -> None:
    engine = create_engine("sqlite://")
    meta.create_all(engine)
    stored = [v for v in VALUES if not any(0xD800 <= ord(c) <= 0xDFFF for c in v)]
    with engine.begin() as conn:
        conn.execute(items.insert(), [{"k": v} for v in stored])
        for prefix in ["AB", "AB-1", "A", "", "Z\U0010ffff", "\ud7ff", "é", "zz", "AB\U0010ffff"]:
            ranged = starts_with(items.c.k, prefix, sqlite=True)
            got = sorted(conn.execute(select(items.c.k).where(ranged)).scalars())
            assert got == sorted(v for v in stored if v.startswith(prefix)), prefix
        query = select(items.c.k).where(starts_with(items.c.k, "AB", sqlite=True))
        compiled = query.compile(engine, compile_kwargs={"literal_binds": True})
        plan = conn.execute(text(f"EXPLAIN QUERY PLAN {compiled}")).all()
        assert "USING COVERING INDEX ix_items_k (k>? AND k<?)" in str(plan), plan


def test_other_backends_use_the_substr_test_alone() -> None:
    clause = starts_with(items.c.k, "AB", sqlite=False)
    assert str(clause.compile()).startswith("substr(items.k")
