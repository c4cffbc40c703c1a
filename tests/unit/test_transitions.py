"""Recipient transitions (core/transitions.py): every (state, event) pair, the impossible
ones included; the stores only persist what these give (their contract suites)."""

from __future__ import annotations

import itertools
import typing

import pytest

from passerelle.core.states import RecipientState as S
from passerelle.core.states import can_move
from passerelle.core.transitions import (
    CallbackRow,
    Change,
    DeadlinePassed,
    Event,
    Failed,
    Finish,
    Ignored,
    LedgerRow,
    Note,
    Outcome,
    ReceiptArrived,
    Recipient,
    Requeue,
    Submit,
    SubmitAccepted,
    SubmitRefused,
    apply,
    bare,
    reads_message,
)

AT = 10.0
UNIT = 3
LONG_ERR = "0x00000045 submit failed"  # cut to 16 characters in the callback event
RECEIPTS = {
    "DELIVRD": (S.DELIVERED, "000", 1),
    "UNDELIV": (S.UNDELIVERED, "001", 2),
    "EXPIRED": (S.EXPIRED, None, 2),
    "REJECTD": (S.REJECTED, "002", 2),
}
EVENTS: dict[str, Event] = {
    "accepted": SubmitAccepted("op1", "id1", AT),
    "accepted, early DELIVRD": SubmitAccepted(
        "op1", "id1", AT, ReceiptArrived(S.DELIVERED, "DELIVRD", "000", AT)
    ),
    "accepted, early ENROUTE": SubmitAccepted(
        "op1", "id1", AT, ReceiptArrived(S.SUBMITTED, "ENROUTE", None, AT)
    ),
    "refused": SubmitRefused("0x58", 50.0),
    "failed": Failed("no route", AT),
    "failed, no refund": Failed(LONG_ERR, AT, refund=False),
    **{
        f"receipt {stat}": ReceiptArrived(state, stat, err, AT)
        for stat, (state, err, _) in RECEIPTS.items()
    },
    "receipt ENROUTE": ReceiptArrived(S.SUBMITTED, "ENROUTE", None, AT),
    "deadline": DeadlinePassed(AT),
}
SUBMIT = Submit("op1", "id1", AT)
REFUND = LedgerRow(UNIT, "refund", "dispatcher", "not delivered to any operator: no route", AT)


def refused(old: S, new: S) -> Ignored:
    """The outcome of a move `can_move` forbids."""
    return Ignored(f"{old.name} may not become {new.name}")


def receipt(old: S, stat: str, writes: tuple[Submit, ...] = ()) -> Change:
    """A final receipt `stat` on a recipient in flight, with its event."""
    state, err, statut = RECEIPTS[stat]
    finish = Finish(state, stat, err, AT)
    return Change(old, state, (*writes, finish), callback=CallbackRow(statut, stat, err, AT))


def failed(old: S) -> Change:
    """Failed with its refund and its event."""
    finish = Finish(S.FAILED, None, "no route", AT, release=True)
    return Change(old, S.FAILED, (finish,), REFUND, CallbackRow(2, "FAILED", "no route", AT))


def failed_without_refund(old: S) -> Change:
    """Failed without a refund; the event's err is cut to 16 characters."""
    finish = Finish(S.FAILED, None, LONG_ERR, AT, release=True)
    return Change(old, S.FAILED, (finish,), callback=CallbackRow(2, "FAILED", LONG_ERR[:16], AT))


def in_flight(old: S) -> dict[str, Outcome]:
    """What each event does to a queued or submitted recipient."""
    accepted: dict[str, Outcome] = (
        {
            "accepted": Change(S.QUEUED, S.SUBMITTED, (SUBMIT,)),
            "accepted, early DELIVRD": receipt(S.QUEUED, "DELIVRD", (SUBMIT,)),
            "accepted, early ENROUTE": Change(S.QUEUED, S.SUBMITTED, (SUBMIT, Note("ENROUTE"))),
        }
        if old is S.QUEUED
        else {name: refused(old, S.SUBMITTED) for name in EVENTS if name.startswith("accepted")}
    )
    return {
        **accepted,
        "refused": Change(old, S.QUEUED, (Requeue(50.0, "0x58"),)),
        "failed": failed(old),
        "failed, no refund": failed_without_refund(old),
        # a queued recipient with an operator id was queued again after its claim
        # lapsed: its receipt applies as to a submitted one
        **{f"receipt {stat}": receipt(old, stat) for stat in RECEIPTS},
        "receipt ENROUTE": Change(old, old, (Note("ENROUTE"),)),
        "deadline": (
            Change(
                old,
                S.EXPIRED,
                (Finish(S.EXPIRED, "EXPIRED", "no-receipt", AT),),
                callback=CallbackRow(2, "EXPIRED", "no-receipt", AT),
            )
            if old is S.SUBMITTED
            else refused(old, S.EXPIRED)
        ),
    }


def final(old: S) -> dict[str, Outcome]:
    """A final recipient ignores every event."""
    targets = {"accepted": S.SUBMITTED, "refused": S.QUEUED, "failed": S.FAILED}
    out: dict[str, Outcome] = {}
    for name in EVENTS:
        if name.startswith("receipt"):
            out[name] = Ignored("final")
        elif name == "deadline":
            out[name] = refused(old, S.EXPIRED)
        else:
            out[name] = refused(old, targets[name.split(",")[0]])
    return out


EXPECTED: dict[tuple[S, str], Outcome] = {
    (state, name): outcome
    for state in S
    for name, outcome in (final(state) if state.final else in_flight(state)).items()
}
PAIRS = list(itertools.product(S, EVENTS))
IDS = [f"{state.name}-{name}" for state, name in PAIRS]


def test_the_table_covers_every_pair() -> None:
    """Every kind of event is in the table, and every (state, event) pair has its
    expected outcome."""
    assert {type(event) for event in EVENTS.values()} == set(typing.get_args(Event))
    assert sorted(EXPECTED, key=str) == sorted(PAIRS, key=str)


@pytest.mark.parametrize(("state", "name"), PAIRS, ids=IDS)
def test_transition(state: S, name: str) -> None:
    """The outcome of `name` on a callback=1 recipient in `state` is the table's."""
    assert (
        apply(Recipient(state, callback=True, unit_cost=UNIT), EVENTS[name])
        == (EXPECTED[(state, name)])
    )


@pytest.mark.parametrize(("state", "name"), PAIRS, ids=IDS)
def test_no_event_without_callback(state: S, name: str) -> None:
    """A message sent with callback=0 gets the same change without any callback event."""
    outcome = apply(Recipient(state, callback=False, unit_cost=UNIT), EVENTS[name])
    expected = EXPECTED[(state, name)]
    if isinstance(expected, Change):
        assert isinstance(outcome, Change) and outcome.callback is None
        assert (outcome.old, outcome.new, outcome.writes, outcome.ledger) == (
            expected.old,
            expected.new,
            expected.writes,
            expected.ledger,
        )
    else:
        assert outcome == expected


@pytest.mark.parametrize(("state", "name"), PAIRS, ids=IDS)
def test_every_change_is_an_allowed_move(state: S, name: str) -> None:
    """A change moves a recipient only where `can_move` allows (directly or through
    submitted); final recipients never change, and only final states have an event."""
    outcome = EXPECTED[(state, name)]
    if isinstance(outcome, Ignored):
        return
    assert not state.final
    if outcome.new is not state:
        assert can_move(state, outcome.new) or (
            can_move(state, S.SUBMITTED) and can_move(S.SUBMITTED, outcome.new)
        )
    assert (outcome.callback is not None) is outcome.new.final
    assert outcome.ledger is None or outcome.new is S.FAILED


def test_refund_is_the_recipients_share_of_the_cost() -> None:
    """The refund moves what the recipient was charged, at the failure's time."""
    change = apply(Recipient(S.SUBMITTED, unit_cost=7), Failed("gave up", 20.0))
    assert isinstance(change, Change)
    assert change.ledger == LedgerRow(
        7, "refund", "dispatcher", "not delivered to any operator: gave up", 20.0
    )


STATE_ALONE = [(state, name) for state, name in PAIRS if not reads_message(EVENTS[name])]


@pytest.mark.parametrize(("state", "name"), STATE_ALONE)
def test_events_that_read_the_state_alone(state: S, name: str) -> None:
    """When `reads_message` says an event reads the state alone, `bare(state)` gives the
    outcome a fully read recipient gets (the batched submit path relies on it)."""
    assert bare(int(state)) == Recipient(state)
    assert apply(bare(int(state)), EVENTS[name]) == EXPECTED[(state, name)]


def test_which_events_read_the_message() -> None:
    """Submits without a kept receipt and temporary refusals read the state alone."""
    alone = sorted(name for name, event in EVENTS.items() if not reads_message(event))
    assert alone == ["accepted", "refused"]
