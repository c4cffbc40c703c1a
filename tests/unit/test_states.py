"""Recipient states and the `statut` answer (docs/api.md)."""

from __future__ import annotations

from passerelle.core.states import RecipientState as S
from passerelle.core.states import can_move, statut_of, statut_of_message


def test_single_recipient_statut() -> None:
    """In flight 0, delivered 1, anything else final 2."""
    assert [statut_of(s) for s in S] == [0, 0, 1, 2, 2, 2, 2]


def test_several_recipients() -> None:
    """0 while any in flight, 1 when all delivered, 2 otherwise."""
    assert statut_of_message([S.DELIVERED, S.SUBMITTED]) == 0
    assert statut_of_message([S.DELIVERED, S.DELIVERED]) == 1
    assert statut_of_message([S.DELIVERED, S.EXPIRED]) == 2


def test_final_states_never_move() -> None:
    """No transition leaves a final state; queued may be submitted."""
    assert can_move(S.QUEUED, S.SUBMITTED)
    assert not any(can_move(S.DELIVERED, s) for s in S)
    assert not can_move(S.QUEUED, S.DELIVERED)
