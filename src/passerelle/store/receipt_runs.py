"""What a run of receipts does, decided once for both stores (no I/O).

A store reads, for a run of receipts, the newest recipient each (connector, operator
id) was accepted for (`ids`) and those recipients (`rows`); `match_receipts` then says,
in arrival order, what each receipt does: it changes its recipient (the `Change` of
`core.transitions`, seeing what an earlier receipt of the run did to it), changes
nothing (a receipt for a final recipient), or is kept for its submit result (no
recipient yet: the receipt came before the submit_sm_resp). The store writes the
changes and the kept receipts in the run's transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from passerelle.core.states import RecipientState
from passerelle.core.transitions import Change, Ignored, ReceiptArrived, apply
from passerelle.core.values import ReceiptMatch
from passerelle.store.sqlite_changes import Row

# connector, operator id, state, stat, err, received at
Receipt = tuple[str, str, RecipientState, str, str | None, float]


@dataclass(frozen=True, slots=True)
class ReceiptRun:
    """What a run of receipts does: one outcome per receipt, in order, the changes to
    write (in order) and the receipts to keep."""

    outcomes: list[ReceiptMatch]
    changes: list[tuple[Row, Change]]
    keep: list[Receipt]


def match_receipts(
    items: list[Receipt], ids: Mapping[tuple[str, str], int], rows: Mapping[int, Row]
) -> ReceiptRun:
    """Decide a run of receipts from the recipients they match (see the module doc)."""
    run = ReceiptRun([], [], [])
    states: dict[int, RecipientState] = {}  # moved by an earlier receipt of this run
    for item in items:
        connector, smsc_id, state, stat, err, now = item
        rid = ids.get((connector, smsc_id))
        row = rows.get(rid) if rid is not None else None
        if row is None:
            run.keep.append(item)
            run.outcomes.append(ReceiptMatch.PENDING)
            continue
        recipient = row.recipient
        if row.id in states:
            recipient = replace(recipient, state=states[row.id])
        change = apply(recipient, ReceiptArrived(state, stat, err, now))
        if isinstance(change, Ignored):
            run.outcomes.append(ReceiptMatch.IGNORED)
            continue
        states[row.id] = change.new
        run.changes.append((row, change))
        run.outcomes.append(ReceiptMatch.APPLIED)
    return run
