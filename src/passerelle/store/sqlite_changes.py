"""SQLite side of `core.transitions`: read what a transition needs, persist its change.

Run by the writer thread inside the transaction of the operation that asked for the
transition, so the read and the write see the same rows. Nothing here decides: the
recipient's writes, the refund and the callback event are the `Change`'s.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from passerelle.core.states import RecipientState
from passerelle.core.transitions import Change, Finish, Note, Recipient, Requeue, Submit
from passerelle.core.values import CallbackState

_COLUMNS = (
    "SELECT r.id, r.state, m.callback, m.cost / m.recipient_count, m.account_id, r.msgid,"
    " r.dest FROM recipients r JOIN messages m ON m.msgid = r.msgid"
)
BY_ID = _COLUMNS + " WHERE r.id = ?"
BY_IDS = _COLUMNS + " WHERE r.id IN (SELECT value FROM json_each(?))"  # noqa: S608
STATES = "SELECT id, state FROM recipients WHERE id IN (SELECT value FROM json_each(?))"

SUBMIT = (
    "UPDATE recipients SET state = ?, connector = ?, smsc_id = ?, submitted_at = ?,"
    " claimed_until = NULL, attempts = attempts + 1 WHERE id = ?"
)
_REQUEUE = (
    "UPDATE recipients SET state = ?, next_attempt_at = ?, err = ?, claimed_until = NULL,"
    " attempts = attempts + 1 WHERE id = ?"
)
_FINISH = (
    "UPDATE recipients SET state = ?, stat = coalesce(?, stat), err = ?, final_at = ?,"
    " claimed_until = CASE WHEN ? THEN NULL ELSE claimed_until END WHERE id = ?"
)
_NOTE = "UPDATE recipients SET stat = ? WHERE id = ?"
_CREDIT = "UPDATE accounts SET credits = credits + ? WHERE id = ?"
_LEDGER = (
    "INSERT INTO ledger (account_id, at, delta, kind, actor, reason, msgid)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_EVENT = (
    "INSERT INTO callback_events (account_id, msgid, dest, statut, stat, err, occurred_at,"
    " created_at, state, attempts, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?)"
)
PENDING_EVENT = int(CallbackState.PENDING)
QUEUED = int(RecipientState.QUEUED)
# the condition of the partial index `recipients_queued`, written out in the queries
# that should use it (SQLite, and PostgreSQL's generic plans, match a literal only)
IS_QUEUED = f"state = {QUEUED}"
SUBMITTED = int(RecipientState.SUBMITTED)


@dataclass(frozen=True, slots=True)
class Row:
    """A recipient as a transition reads it, and where its ledger row and event go."""

    id: int
    recipient: Recipient
    account_id: int
    msgid: int
    dest: str


_STATES = {int(state): state for state in RecipientState}


def row_of(r: Sequence[Any]) -> Row:
    """A recipient row of `_COLUMNS` as a transition reads it."""
    return Row(r[0], Recipient(_STATES[r[1]], bool(r[2]), r[3]), r[4], r[5], r[6])


def load(conn: sqlite3.Connection, recipient_id: int) -> Row | None:
    """The recipient with this id, or None."""
    r = conn.execute(BY_ID, (recipient_id,)).fetchone()
    return None if r is None else row_of(r)


def load_many(conn: sqlite3.Connection, recipient_ids: Sequence[int]) -> dict[int, Row]:
    """The recipients with these ids (one statement), by id; missing ones are absent."""
    rows = conn.execute(BY_IDS, (json.dumps(list(recipient_ids)),)).fetchall()
    return {r[0]: row_of(r) for r in rows}


def load_states(conn: sqlite3.Connection, recipient_ids: Sequence[int]) -> dict[int, int]:
    """The states of the recipients with these ids (one statement), by id."""
    return dict(conn.execute(STATES, (json.dumps(list(recipient_ids)),)).fetchall())


def persist(conn: sqlite3.Connection, row: Row, change: Change) -> None:
    """Write `change` to `row`: the recipient's fields, then its refund and its event."""
    for w in change.writes:
        if isinstance(w, Submit):
            conn.execute(SUBMIT, (SUBMITTED, w.connector, w.smsc_id, w.at, row.id))
        elif isinstance(w, Requeue):
            conn.execute(_REQUEUE, (QUEUED, w.next_at, w.err, row.id))
        elif isinstance(w, Finish):
            conn.execute(_FINISH, (int(w.state), w.stat, w.err, w.at, w.release, row.id))
        elif isinstance(w, Note):
            conn.execute(_NOTE, (w.stat, row.id))
    entry = change.ledger
    if entry is not None:
        conn.execute(_CREDIT, (entry.amount, row.account_id))
        what = (entry.amount, entry.kind, entry.actor, entry.reason)
        conn.execute(_LEDGER, (row.account_id, entry.at, *what, row.msgid))
    event = change.callback
    if event is not None:
        conn.execute(
            _EVENT,
            (
                row.account_id,
                row.msgid,
                row.dest,
                event.statut,
                event.stat,
                event.err,
                event.at,
                event.at,
                PENDING_EVENT,
                event.at,
            ),
        )
