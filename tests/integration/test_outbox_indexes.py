"""The outbox's partial indexes are the ones the delivery queries use: the claim walks
the index of queued recipients only, the receipts' lookup the index of recipients with
an operator id, on SQLite and on PostgreSQL (in a generic plan too, where a parameter
in place of ``state = 0`` would not match the index's condition)."""

from __future__ import annotations

from pathlib import Path

import asyncpg

from passerelle.store import postgres_delivery, sqlite_delivery, sqlite_runs
from tests.support import sqlite_store


async def test_sqlite_claim_and_receipt_lookup_use_the_partial_indexes(tmp_path: Path) -> None:
    """SQLite plans the claim on `recipients_queued` (no sort) and the receipts' lookup
    on `recipients_smsc_id`, walked from the newest row per id (no sort either)."""
    store = await sqlite_store(tmp_path / "plan.db")
    try:
        conn = store._read()
        claim = [
            r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + sqlite_delivery.CLAIM, (1, 1, 9))
        ]
        lookup = [
            r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + sqlite_runs._IDS_BY_SMSC_ID, ("[]",))
        ]
    finally:
        await store.close()
    assert claim[0].startswith("SEARCH r USING INDEX recipients_queued (next_attempt_at<?)")
    assert not any("TEMP B-TREE FOR ORDER BY" in step for step in claim)
    assert "SEARCH r USING INDEX recipients_smsc_id (smsc_id=?)" in lookup
    assert not any("TEMP B-TREE" in step for step in lookup)  # newest first, no sort


async def test_postgresql_claim_uses_the_queued_index_in_a_generic_plan(
    postgres_url: str,
) -> None:
    """PostgreSQL plans the claim on `recipients_queued` even in a generic plan (as behind
    a pooler that keeps prepared statements), sequential scans being refused."""
    conn = await asyncpg.connect(postgres_url)
    try:
        await conn.execute("SET plan_cache_mode = force_generic_plan")
        await conn.execute("SET enable_seqscan = off")
        await conn.execute(f"PREPARE claim(float8, float8, int) AS {postgres_delivery._CLAIM}")
        rows = await conn.fetch("EXPLAIN EXECUTE claim(1, 2, 9)")
    finally:
        await conn.close()
    plan = "\n".join(r[0] for r in rows)
    assert "recipients_queued" in plan, plan
    assert "Seq Scan on recipients" not in plan, plan
