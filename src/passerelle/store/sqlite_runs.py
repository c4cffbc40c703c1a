"""Runs of delivery outcomes written together on SQLite: submit results and receipts.

The dispatcher records one submit_sm_resp per recipient and the receipt handler one
receipt per deliver_sm, thousands a second. Both go to the group-commit writer as
batched items (`Writer.submit_batched`): a run of consecutive items of one kind is
read with a statement or two for the whole run instead of one per item, then written;
each caller is answered after the commit that contains it. When a run fails, the
writer redoes its items one transaction each with the one-item form (`submitted_one`,
`receipt_one`), so only a faulty item fails.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from typing import Any

from passerelle.core.states import RecipientState
from passerelle.core.transitions import (
    Ignored,
    ReceiptArrived,
    SubmitAccepted,
    apply,
    bare,
)
from passerelle.core.values import ReceiptMatch
from passerelle.store.receipt_runs import Receipt, match_receipts
from passerelle.store.sqlite_changes import SUBMIT, load, load_many, load_states, persist

SUBMITTED = int(RecipientState.SUBMITTED)

Submitted = tuple[int, str, str, float]  # recipient id, connector, operator id, at

_EARLY = (
    "SELECT state, stat, err FROM pending_receipts"
    " WHERE connector = ? AND smsc_id = ? ORDER BY id DESC LIMIT 1"
)
_FORGET_EARLY = "DELETE FROM pending_receipts WHERE connector = ? AND smsc_id = ?"
_KEEP_EARLY = (
    "INSERT INTO pending_receipts (connector, smsc_id, state, stat, err, received_at)"
    " VALUES (?, ?, ?, ?, ?, ?)"
)
# the newest recipient each (connector, operator id) of a run was accepted for, in one
# statement: per pair, the index on `smsc_id` walked from the newest row to the first of
# that connector (an operator that reuses ids costs no more than one that does not)
_IDS_BY_SMSC_ID = (
    "SELECT json_extract(k.value, '$[0]'), json_extract(k.value, '$[1]'), (SELECT r.id"
    " FROM recipients r WHERE r.smsc_id = json_extract(k.value, '$[1]')"
    " AND r.connector = json_extract(k.value, '$[0]') ORDER BY r.id DESC LIMIT 1)"
    " FROM json_each(?) AS k"
)


def _early(
    conn: sqlite3.Connection, connector: str, smsc_id: str, now: float
) -> ReceiptArrived | None:
    """The receipt kept for (`connector`, `smsc_id`) before its submit was recorded."""
    r = conn.execute(_EARLY, (connector, smsc_id)).fetchone()
    return None if r is None else ReceiptArrived(RecipientState(r[0]), r[1], r[2], now)


def submitted_many(conn: sqlite3.Connection, items: list[Submitted]) -> list[tuple[bool, Any]]:
    """Record a run of submit_sm_resp: the states read in one statement, the plain
    submits written in one; those with a receipt kept early one by one (rare)."""
    kept = conn.execute("SELECT 1 FROM pending_receipts LIMIT 1").fetchone() is not None
    states = load_states(conn, [item[0] for item in items])
    plain: list[tuple[int, str, str, float, int]] = []
    for rid, connector, smsc_id, now in items:
        state = states.get(rid)
        if state is None:
            continue
        early = _early(conn, connector, smsc_id, now) if kept else None
        if early is not None:
            event = SubmitAccepted(connector, smsc_id, now, early)
            after = _submitted_early(conn, rid, RecipientState(state), event)
            if after is not None:
                states[rid] = after
            continue
        # no receipt kept: the outcome depends on the state alone (`reads_message`)
        change = apply(bare(state), SubmitAccepted(connector, smsc_id, now))
        if isinstance(change, Ignored):
            continue
        states[rid] = change.new  # a second submit of it in this run sees that
        plain.append((SUBMITTED, connector, smsc_id, now, rid))
    conn.executemany(SUBMIT, plain)
    return [(True, None)] * len(items)


def submitted_one(conn: sqlite3.Connection, item: Submitted) -> None:
    """`submitted_many` of one item."""
    submitted_many(conn, [item])


def _submitted_early(
    conn: sqlite3.Connection, rid: int, state: RecipientState, event: SubmitAccepted
) -> int | None:
    """Record one submit_sm_resp with the receipt kept for its id, the recipient being in
    `state` (an earlier submit of the run may not be written yet); the state after it,
    None when nothing changed."""
    row = load(conn, rid)
    if row is None:
        return None
    change = apply(replace(row.recipient, state=state), event)
    if isinstance(change, Ignored):
        return None
    persist(conn, row, change)
    conn.execute(_FORGET_EARLY, (event.connector, event.smsc_id))
    return change.new


def receipts_many(conn: sqlite3.Connection, items: list[Receipt]) -> list[tuple[bool, Any]]:
    """Record a run of receipts: the recipients they match read in two statements for
    the run; a matched receipt changes its recipient, an unmatched one is kept for its
    submit result (it may come before the submit_sm_resp)."""
    pairs = sorted({(item[0], item[1]) for item in items})
    found = {
        (c, s): rid
        for c, s, rid in conn.execute(_IDS_BY_SMSC_ID, (json.dumps(pairs),))
        if rid is not None
    }
    ids = sorted(set(found.values()))
    run = match_receipts(items, found, load_many(conn, ids) if ids else {})
    for row, change in run.changes:
        persist(conn, row, change)
    conn.executemany(_KEEP_EARLY, [(c, s, int(st), t, e, at) for c, s, st, t, e, at in run.keep])
    return [(True, outcome) for outcome in run.outcomes]


def receipt_one(conn: sqlite3.Connection, item: Receipt) -> ReceiptMatch:
    """`receipts_many` of one item."""
    match: ReceiptMatch = receipts_many(conn, [item])[0][1]
    return match
