"""Recipient transitions (pure): what one event does to one recipient, decided once.

The stores read a recipient (`Recipient`: its state, whether its message asked for
callbacks, what it was charged), call `apply` with an event, and persist the `Change`
they get, in one transaction; they decide nothing. `Ignored` means the event changes
nothing (a late or impossible one, such as a receipt for a final recipient).

Events and their outcomes (every move is checked with `core.states.can_move`):

- `SubmitAccepted` — queued → submitted with the operator's id (attempt counted, claim
  released). A receipt that came before the ``submit_sm_resp`` (`early`) is applied
  at once, as `ReceiptArrived` on the submitted recipient. Otherwise ignored.
- `SubmitRefused` — a temporary refusal, timeout or lost connection: queued or
  submitted → queued again for `retry_at` (attempt counted, claim released).
- `Failed` — a permanent refusal, retries exhausted or no route: queued or submitted →
  failed (``stat`` FAILED in the event, ``err`` cut to 16), refunded when `refund`
  (one recipient's share of the cost, ledger kind ``refund``): no operator took it.
- `ReceiptArrived` — a final receipt makes a recipient in flight final (``stat``,
  ``err``); a queued one (queued again after its claim lapsed, but the first submit
  reached the operator) goes through submitted. An intermediate one (ENROUTE,
  ACCEPTD) only notes its ``stat``. Final recipients ignore receipts.
- `DeadlinePassed` — a submitted recipient without its receipt becomes final as
  `core.deadline.EXPIRY` says (EXPIRED, ``no-receipt``); no refund.

Every change to a final state queues one callback event when the message asked for
callbacks; nothing else does.
"""

from __future__ import annotations

from dataclasses import dataclass

from passerelle.core.deadline import EXPIRY
from passerelle.core.states import RecipientState, can_move, statut_of

QUEUED = RecipientState.QUEUED
SUBMITTED = RecipientState.SUBMITTED
FAILED = RecipientState.FAILED
EVENT_ERR_LEN = 16  # a failure's `err` in its callback event


@dataclass(frozen=True, slots=True)
class Recipient:
    """What a transition reads about one recipient."""

    state: RecipientState
    callback: bool = False  # its message asked for callback events
    unit_cost: int = 0  # the credits it was charged (its share of the message's cost)


# --- events ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReceiptArrived:
    """An operator receipt; `state` is final, or SUBMITTED for ENROUTE / ACCEPTD."""

    state: RecipientState
    stat: str
    err: str | None
    at: float


@dataclass(frozen=True, slots=True)
class SubmitAccepted:
    """The operator accepted the submit with `smsc_id`; `early` came before it."""

    connector: str
    smsc_id: str
    at: float
    early: ReceiptArrived | None = None


@dataclass(frozen=True, slots=True)
class SubmitRefused:
    """A temporary refusal (or timeout, lost connection): try again at `retry_at`."""

    err: str
    retry_at: float


@dataclass(frozen=True, slots=True)
class Failed:
    """No operator took it: a permanent refusal, retries exhausted, or no route."""

    err: str
    at: float
    refund: bool = True


@dataclass(frozen=True, slots=True)
class DeadlinePassed:
    """The receipt deadline of a submitted recipient passed without its receipt."""

    at: float


Event = SubmitAccepted | SubmitRefused | Failed | ReceiptArrived | DeadlinePassed


# --- what to write -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Submit:
    """State SUBMITTED, `connector`, `smsc_id`, submitted at `at`; attempt counted,
    claim released."""

    connector: str
    smsc_id: str
    at: float


@dataclass(frozen=True, slots=True)
class Requeue:
    """State QUEUED, due at `next_at`, `err` kept; attempt counted, claim released."""

    next_at: float
    err: str


@dataclass(frozen=True, slots=True)
class Finish:
    """Final `state` at `at` with `err`; `stat` too unless None (a failure has none);
    `release` also drops the claim."""

    state: RecipientState
    stat: str | None
    err: str | None
    at: float
    release: bool = False


@dataclass(frozen=True, slots=True)
class Note:
    """Only the operator's `stat` changes (an intermediate receipt)."""

    stat: str


Write = Submit | Requeue | Finish | Note


@dataclass(frozen=True, slots=True)
class LedgerRow:
    """A credit movement for the recipient's account (and its message) at `at`."""

    amount: int
    kind: str
    actor: str
    reason: str
    at: float


@dataclass(frozen=True, slots=True)
class CallbackRow:
    """A callback event for the recipient, occurred at `at`."""

    statut: int
    stat: str
    err: str | None
    at: float


@dataclass(frozen=True, slots=True)
class Change:
    """What to persist: the recipient's writes in order, a ledger row, an event."""

    old: RecipientState
    new: RecipientState
    writes: tuple[Write, ...]
    ledger: LedgerRow | None = None
    callback: CallbackRow | None = None


@dataclass(frozen=True, slots=True)
class Ignored:
    """The event changes nothing; `reason` says why."""

    reason: str


Outcome = Change | Ignored

FINAL = Ignored("final")
_BARE: dict[int, Recipient] = {state: Recipient(state) for state in RecipientState}


def reads_message(event: Event) -> bool:
    """False when `event`'s outcome depends on the recipient's state alone: a store may
    then pass `bare(state)` without reading the message (a hot path does)."""
    if isinstance(event, SubmitAccepted):
        return event.early is not None
    return not isinstance(event, SubmitRefused)


def bare(state: int) -> Recipient:
    """A recipient known by its state (or its stored value) alone, for the events
    `reads_message` says so."""
    recipient = _BARE.get(state)
    return recipient if recipient is not None else Recipient(RecipientState(state))


def _refused(old: RecipientState, new: RecipientState) -> Ignored:
    return Ignored(f"{old.name} may not become {new.name}")


def _finish(rec: Recipient, finish: Finish, writes: tuple[Write, ...] = ()) -> Change:
    event = None
    if rec.callback:
        stat, err = finish.stat, finish.err
        if stat is None:  # a failure: no operator stat
            stat, err = "FAILED", (err or "")[:EVENT_ERR_LEN]
        event = CallbackRow(statut_of(finish.state), stat, err, finish.at)
    return Change(rec.state, finish.state, (*writes, finish), callback=event)


def _receipt(rec: Recipient, event: ReceiptArrived, writes: tuple[Write, ...] = ()) -> Outcome:
    """`event` on `rec`, after `writes` (a Submit, when the receipt came early)."""
    if rec.state.final:
        return FINAL
    current = SUBMITTED if writes else rec.state
    if not event.state.final:  # a note: the state does not move
        return Change(rec.state, current, (*writes, Note(event.stat)))
    # a queued one was queued again after its claim lapsed, yet its first submit
    # reached the operator: it moves as a submitted one would
    if not can_move(current, event.state) and not (
        can_move(current, SUBMITTED) and can_move(SUBMITTED, event.state)
    ):
        return _refused(current, event.state)
    return _finish(rec, Finish(event.state, event.stat, event.err, event.at), writes)


def apply(rec: Recipient, event: Event) -> Outcome:
    """The change `event` makes to `rec`, or why it changes nothing."""
    old = rec.state
    if isinstance(event, ReceiptArrived):
        return _receipt(rec, event)
    if isinstance(event, SubmitAccepted):
        if not can_move(old, SUBMITTED):
            return _refused(old, SUBMITTED)
        submit = Submit(event.connector, event.smsc_id, event.at)
        if event.early is None:
            return Change(old, SUBMITTED, (submit,))
        return _receipt(rec, event.early, (submit,))
    if isinstance(event, SubmitRefused):
        if not can_move(old, QUEUED):
            return _refused(old, QUEUED)
        return Change(old, QUEUED, (Requeue(event.retry_at, event.err),))
    if isinstance(event, Failed):
        if not can_move(old, FAILED):
            return _refused(old, FAILED)
        change = _finish(rec, Finish(FAILED, None, event.err, event.at, release=True))
        if not event.refund:
            return change
        reason = f"not delivered to any operator: {event.err}"
        ledger = LedgerRow(rec.unit_cost, "refund", "dispatcher", reason, event.at)
        return Change(old, FAILED, change.writes, ledger, change.callback)
    if not can_move(old, EXPIRY.state):
        return _refused(old, EXPIRY.state)
    return _finish(rec, Finish(EXPIRY.state, EXPIRY.stat, EXPIRY.err, event.at))
