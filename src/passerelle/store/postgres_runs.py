"""Runs of delivery outcomes written together on PostgreSQL: submit results and receipts.

The dispatcher records one submit_sm_resp per recipient and the receipt handler one
receipt per deliver_sm, thousands a second; one transaction each would cost a commit
(a WAL flush) and half a dozen round trips per message. Each goes through a
`postgres_batch.RunBatcher` with these runs (`submitted_run`, `receipts_run`): every
outcome queued since the last commit is written in one transaction with a few
statements for the whole run, and each caller is answered after that commit. A run
that fails fails its callers: their recipients are claimed again when their lease
ends, and their receipts come again (the operator repeats an unacknowledged
deliver_sm).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from passerelle.core.states import RecipientState
from passerelle.core.transitions import Change, Ignored, ReceiptArrived, SubmitAccepted, apply
from passerelle.core.values import ReceiptMatch
from passerelle.store.postgres_changes import (
    Row,
    load_ids_by_smsc_id,
    load_many,
    lock_ids,
    persist_many,
)
from passerelle.store.receipt_runs import Receipt, match_receipts

if TYPE_CHECKING:
    from passerelle.store.postgres_base import Conn


_ANY_EARLY = "SELECT EXISTS (SELECT 1 FROM pending_receipts)"
_EARLY = (
    "SELECT p.connector, p.smsc_id, p.state, p.stat, p.err FROM pending_receipts p"
    " JOIN unnest($1::text[], $2::text[]) AS k(c, s) ON p.connector = k.c AND p.smsc_id = k.s"
    " ORDER BY p.id"
)
_FORGET_EARLY = (
    "DELETE FROM pending_receipts p USING unnest($1::text[], $2::text[]) AS k(c, s)"
    " WHERE p.connector = k.c AND p.smsc_id = k.s"
)
_KEEP_EARLY = (
    "INSERT INTO pending_receipts (connector, smsc_id, state, stat, err, received_at)"
    " SELECT * FROM unnest($1::text[], $2::text[], $3::int2[], $4::text[], $5::text[],"
    " $6::float8[])"
)


# --- the runs ---------------------------------------------------------------------------

Submitted = tuple[int, str, str, float]  # recipient id, connector, operator id, at


async def _early(conn: Conn, pairs: list[tuple[str, str]]) -> dict[tuple[str, str], Any]:
    """The newest receipt kept for each (connector, operator id) of `pairs`, if any."""
    if not await conn.fetchval(_ANY_EARLY):
        return {}
    rows = await conn.fetch(_EARLY, [c for c, _ in pairs], [s for _, s in pairs])
    return {(r[0], r[1]): r for r in rows}  # ordered by id: the newest wins


async def submitted_run(conn: Conn, items: list[Submitted]) -> list[Exception | None]:
    """Record a run of submit_sm_resp: locks, reads and writes a few statements in all."""
    pairs = [(c, s) for _, c, s, _ in items]
    await lock_ids(conn, pairs)
    early = await _early(conn, pairs)
    rows = await load_many(conn, sorted({rid for rid, _, _, _ in items}))
    changes: list[tuple[Row, Change]] = []
    states: dict[int, RecipientState] = {}
    used: list[tuple[str, str]] = []
    for rid, connector, smsc_id, now in items:
        row = rows.get(rid)
        if row is None:
            continue
        kept = early.get((connector, smsc_id))
        receipt = (
            None if kept is None else ReceiptArrived(RecipientState(kept[2]), kept[3], kept[4], now)
        )
        recipient = row.recipient
        if rid in states:  # an earlier submit of this run moved it
            recipient = replace(recipient, state=states[rid])
        change = apply(recipient, SubmitAccepted(connector, smsc_id, now, receipt))
        if isinstance(change, Ignored):
            continue
        states[rid] = change.new
        changes.append((row, change))
        if receipt is not None:
            used.append((connector, smsc_id))
    await persist_many(conn, changes)
    if used:
        await conn.execute(_FORGET_EARLY, [c for c, _ in used], [s for _, s in used])
    return [None for _ in items]


async def receipts_run(conn: Conn, items: list[Receipt]) -> list[ReceiptMatch | Exception]:
    """Record a run of receipts: matched ones change their recipient, the others are
    kept for their submit result."""
    pairs = [(c, s) for c, s, _, _, _, _ in items]
    await lock_ids(conn, pairs)
    ids = await load_ids_by_smsc_id(conn, pairs)
    rows = await load_many(conn, sorted(set(ids.values())))
    run = match_receipts(items, ids, rows)
    await persist_many(conn, run.changes)
    if run.keep:
        columns = list(zip(*run.keep, strict=True))
        await conn.execute(
            _KEEP_EARLY,
            list(columns[0]),
            list(columns[1]),
            [int(s) for s in columns[2]],
            list(columns[3]),
            list(columns[4]),
            list(columns[5]),
        )
    return list(run.outcomes)
