"""Recipient delivery states, their allowed transitions, and the `statut` answer."""

from __future__ import annotations

import enum
from collections.abc import Iterable


class RecipientState(enum.IntEnum):
    """Where one recipient of a message stands. Stored as its integer value."""

    QUEUED = 0  # accepted, waiting for the dispatcher
    SUBMITTED = 1  # handed to an operator, waiting for its receipt
    DELIVERED = 2  # receipt DELIVRD
    UNDELIVERED = 3  # receipt UNDELIV / UNKNOWN
    EXPIRED = 4  # receipt EXPIRED
    REJECTED = 5  # receipt REJECTD, or a permanent submit error after acceptance
    FAILED = 6  # could not be handed to any operator (refunded)

    @property
    def final(self) -> bool:
        """True when no further change is expected."""
        return self not in (RecipientState.QUEUED, RecipientState.SUBMITTED)


ALLOWED: dict[RecipientState, frozenset[RecipientState]] = {
    RecipientState.QUEUED: frozenset(
        {RecipientState.QUEUED, RecipientState.SUBMITTED, RecipientState.FAILED}
    ),
    RecipientState.SUBMITTED: frozenset(
        {
            RecipientState.QUEUED,  # a temporary error: submit again later
            RecipientState.DELIVERED,
            RecipientState.UNDELIVERED,
            RecipientState.EXPIRED,
            RecipientState.REJECTED,
            RecipientState.FAILED,
        }
    ),
}


def can_move(old: RecipientState, new: RecipientState) -> bool:
    """True when `old` may become `new` (final states never change)."""
    return new in ALLOWED.get(old, frozenset())


def statut_of(state: RecipientState) -> int:
    """The legacy `statut` of one recipient: 0 in flight, 1 delivered, 2 not delivered."""
    if not state.final:
        return 0
    return 1 if state is RecipientState.DELIVERED else 2


def statut_of_message(states: Iterable[RecipientState]) -> int:
    """0 while any recipient is in flight, 1 when all were delivered, 2 otherwise."""
    answers = {statut_of(s) for s in states}
    if not answers or 0 in answers:
        return 0
    return 1 if answers == {1} else 2
