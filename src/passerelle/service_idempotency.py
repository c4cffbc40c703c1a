"""Sending once under an Idempotency-Key (the JSON API's ``POST /api/v1/messages``).

`send_once` reserves the key in the store (`IdempotencyStore.reserve_idempotency`)
before it sends: the caller that becomes the key's OWNER sends, with the key stored on
the message in the message's own transaction (`Gateway.send(idem_key=...)`), then
records the answer (`finish_idempotency`); every other call with the key replays that
answer (`replayed`), waits while the owner's lease holds (IN_PROGRESS, up to `wait`
seconds, then IdempotencyBusy: 409), or is refused when its body differs
(IdempotencyMismatch: 422). The lease is on the database's clock, so that processes
sharing a database agree on it.

Each reservation has a generation (`core.idempotency`): the owner's message carries
the key and that generation, and the store refuses a second message with the same
reference (IdempotencyDuplicate). So an owner that was too slow (its lease ran out and
another call took the key over) cannot store a second message: whichever commits second
answers the first one's msgid, as a replay; and a key used again after its row was
purged gets a new generation, so an older message with the key is never taken for its.

A crash between the message's commit and the recording of the answer leaves the key
pending with its message stored: once the lease runs out, the next reservation finds
the message by its reference and answers RECOVERED with its msgid, never sending again.
A crash before the commit leaves no message: the next reservation takes the lease over
and sends. A refusal with a legacy code (NoCredit 02, a failed check) is remembered as
its code (a retry gets the same refusal even if credits came meanwhile), except 17,
whose answer names a parameter the code cannot carry: nothing was charged, so the key
is released and a retry checks again. Any other failure (the store's) releases the key
too (unless the message was committed after all: the store then records its msgid),
and a retry sends afresh. A failure to record the answer after a send is logged, and
the send still answers its msgid (the lease running out, a retry recovers it). A
cancelled send (its client left) keeps the key pending: the message may still be
committed, and the lease running out decides as after a crash.

A call that finds the key in progress waits, polling with a growing delay (`POLL_S`
doubling up to `POLL_MAX_S`) by reading the row off the writer
(`peek_idempotency`); it reserves again only when the row is gone or its lease ran
out. `request_digest` (in `core.idempotency`) gives the `request_hash` to pass.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from passerelle import exceptions as exc
from passerelle.core.idempotency import Claim, Reservation, decide, message_ref, request_digest
from passerelle.core.message import SendRequest
from passerelle.core.values import Account
from passerelle.service import Gateway

__all__ = ["POLL_MAX_S", "POLL_S", "Outcome", "request_digest", "send_once"]

log = logging.getLogger("passerelle.idempotency")

POLL_S = 0.05  # the first wait while another call holds the key
POLL_MAX_S = 1.0  # the longest, after doubling


@dataclass(frozen=True, slots=True)
class Outcome:
    """The answer to a send: its msgid, or the refusal; `replayed` when it is the
    answer of an earlier request with the same key."""

    msgid: int | None = None
    error: exc.ApiError | None = None
    replayed: bool = False


async def send_once(
    gateway: Gateway,
    account: Account,
    request: SendRequest,
    key: str | None,
    request_hash: str,
    lease: float = 30.0,
    wait: float = 10.0,
) -> Outcome:
    """Send `request` once per `key` (no key: simply send). A refusal with a legacy code
    is an `Outcome.error`, not raised; IdempotencyMismatch and IdempotencyBusy are
    raised, and so is any other failure (after releasing the key)."""
    if key is None:
        return await _send(gateway, account, request, None)
    found = await _reserve(gateway, account.id, key, request_hash, lease, wait)
    if found.claim is Claim.OWNER:
        if found.generation is None:
            raise exc.StoreError("a reservation came without its generation")
        return await _own(gateway, account, request, key, found.generation)
    if found.claim is Claim.MISMATCH:
        raise exc.IdempotencyMismatch(key)
    if found.msgid is not None:
        return Outcome(msgid=found.msgid, replayed=True)
    return Outcome(error=exc.api_error_of(found.error_code or ""), replayed=True)


async def _reserve(
    gateway: Gateway, account_id: int, key: str, request_hash: str, lease: float, wait: float
) -> Reservation:
    """Reserve the key, waiting (up to `wait` seconds) while another call holds it."""
    store = gateway.store
    give_up = time.monotonic() + wait
    delay = POLL_S
    found = await store.reserve_idempotency(account_id, key, request_hash, gateway.now(), lease)
    while found.claim is Claim.IN_PROGRESS:
        left = give_up - time.monotonic()
        if left <= 0:
            raise exc.IdempotencyBusy(key)
        await asyncio.sleep(min(delay, left))
        delay = min(2 * delay, POLL_MAX_S)
        row = await store.peek_idempotency(account_id, key)
        answer = None if row is None else decide(row, request_hash, gateway.now())
        if answer is None:  # gone, or its lease ran out: reserve (recover or take over)
            answer = await store.reserve_idempotency(
                account_id, key, request_hash, gateway.now(), lease
            )
        found = answer
    return found


async def _send(
    gateway: Gateway, account: Account, request: SendRequest, ref: str | None
) -> Outcome:
    try:
        return Outcome(msgid=await gateway.send(account, request, idem_key=ref))
    except exc.ApiError as error:
        return Outcome(error=error)


async def _own(
    gateway: Gateway, account: Account, request: SendRequest, key: str, generation: str
) -> Outcome:
    """Send as the reservation's owner, then record the answer (or forget the key)."""
    store = gateway.store
    try:
        outcome = await _send(gateway, account, request, message_ref(key, generation))
    except exc.IdempotencyDuplicate as duplicate:  # another owner of it stored it first
        outcome = Outcome(msgid=duplicate.msgid, replayed=True)
    except Exception:
        await _release(gateway, account, key, generation)
        raise
    try:
        if isinstance(outcome.error, exc.InvalidParameter):
            await store.release_idempotency(account.id, key, generation)
        elif outcome.error is not None:
            code = outcome.error.code.number
            await store.finish_idempotency(account.id, key, None, code, generation)
        else:
            await store.finish_idempotency(account.id, key, outcome.msgid, None, generation)
    except Exception:  # the send is done: its answer stands, a retry recovers the key
        log.exception("recording the answer of idempotency key %r failed", key)
    return outcome


async def _release(gateway: Gateway, account: Account, key: str, generation: str) -> None:
    """Forget the key after a failed send; if that fails too, its lease runs out."""
    try:
        await gateway.store.release_idempotency(account.id, key, generation)
    except Exception:  # the send's own error is the one to raise
        return
