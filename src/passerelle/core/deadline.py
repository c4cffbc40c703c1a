"""The receipt deadline (pure): no submitted recipient waits for its receipt for ever.

A recipient handed to an operator (state SUBMITTED, since ``submitted_at``) whose
receipt has not come once the deadline has passed becomes final as `EXPIRY` says:
state EXPIRED, ``stat`` EXPIRED, ``err`` ``no-receipt``, so `statut` answers 2 and a
callback event is queued like for any final receipt. It is not refunded: an operator
accepted it. A receipt arriving later changes nothing (final states never move).

The store selects the overdue recipients with `overdue_cutoff`; `is_overdue` is the
same rule for one recipient, and `check_every` how often the delivery role looks.
"""

from __future__ import annotations

from dataclasses import dataclass

from passerelle.core.states import RecipientState

DEFAULT_DEADLINE_S = 72 * 3600.0
NO_RECEIPT = "no-receipt"
MIN_CHECK_S = 1.0
MAX_CHECK_S = 60.0


@dataclass(frozen=True, slots=True)
class Expiry:
    """The final state given to a recipient whose receipt never came."""

    state: RecipientState
    stat: str
    err: str


EXPIRY = Expiry(RecipientState.EXPIRED, "EXPIRED", NO_RECEIPT)


def overdue_cutoff(now: float, deadline: float) -> float:
    """Recipients submitted strictly before this time are overdue at `now`."""
    return now - deadline


def is_overdue(
    state: RecipientState, submitted_at: float | None, now: float, deadline: float
) -> bool:
    """True when a recipient in `state`, submitted at `submitted_at`, has waited too long."""
    return (
        state is RecipientState.SUBMITTED
        and submitted_at is not None
        and submitted_at < overdue_cutoff(now, deadline)
    )


def check_every(deadline: float) -> float:
    """Seconds between two looks for overdue recipients: a tenth of the deadline, kept
    within 1 s and 60 s (a recipient is expired at most that late)."""
    return min(MAX_CHECK_S, max(MIN_CHECK_S, deadline / 10))
