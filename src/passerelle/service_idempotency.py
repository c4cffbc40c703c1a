"""Sending once under an Idempotency-Key (the JSON API's ``POST /api/v1/messages``).

`send_once` reserves the key in the store (`IdempotencyStore.reserve_idempotency`)
before it sends: the caller that becomes the key's OWNER sends, with the key stored on
the message in the message's own transaction (`Gateway.send(idem_key=...)`), then
records the answer (`finish_idempotency`); every other call with the key replays that
answer (`replayed`), waits while the owner's lease holds (IN_PROGRESS, up to `wait`
seconds, then IdempotencyBusy: 409), or is refused when its body differs
(IdempotencyMismatch: 422). The lease is on the database's clock, so that processes
sharing a database agree on it.

A crash between the message's commit and the recording of the answer leaves the key
pending with its message stored: once the lease runs out, the next reservation finds
the message by its key and answers RECOVERED with its msgid, never sending again. A
crash before the commit leaves no message: the next reservation takes the lease over
and sends. A refusal with a legacy code (NoCredit 02, a failed check) is remembered as
its code (a retry gets the same refusal even if credits came meanwhile), except 17,
whose answer names a parameter the code cannot carry: nothing was charged, so the key
is released and a retry checks again. Any other failure (the store's) releases the key
too (unless the message was committed after all: the store then records its msgid),
and a retry sends afresh. A cancelled send (its client left) keeps the key pending: the
message may still be committed, and the lease running out decides as after a crash.

The lease must outlast a send (a check and a commit: milliseconds; 30 s by default);
an owner still sending when its lease runs out may be taken over and a second message
sent. `request_digest` (in `core.idempotency`) gives the `request_hash` to pass.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from passerelle import exceptions as exc
from passerelle.core.idempotency import Claim, request_digest
from passerelle.core.message import SendRequest
from passerelle.core.values import Account
from passerelle.service import Gateway

__all__ = ["POLL_S", "Outcome", "request_digest", "send_once"]

POLL_S = 0.05  # between two reservations while another call holds the key


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
    store = gateway.store
    give_up = time.monotonic() + wait
    while True:
        found = await store.reserve_idempotency(account.id, key, request_hash, gateway.now(), lease)
        if found.claim is Claim.OWNER:
            return await _own(gateway, account, request, key)
        if found.claim in (Claim.DONE, Claim.RECOVERED):
            if found.msgid is not None:
                return Outcome(msgid=found.msgid, replayed=True)
            return Outcome(error=exc.api_error_of(found.error_code or ""), replayed=True)
        if found.claim is Claim.MISMATCH:
            raise exc.IdempotencyMismatch(key)
        if time.monotonic() >= give_up:
            raise exc.IdempotencyBusy(key)
        await asyncio.sleep(POLL_S)


async def _send(
    gateway: Gateway, account: Account, request: SendRequest, key: str | None
) -> Outcome:
    try:
        return Outcome(msgid=await gateway.send(account, request, idem_key=key))
    except exc.ApiError as error:
        return Outcome(error=error)


async def _own(gateway: Gateway, account: Account, request: SendRequest, key: str) -> Outcome:
    """Send as the key's owner, then record the answer (or forget the key)."""
    store = gateway.store
    try:
        outcome = await _send(gateway, account, request, key)
    except Exception:
        await _release(gateway, account, key)
        raise
    if isinstance(outcome.error, exc.InvalidParameter):
        await store.release_idempotency(account.id, key)
    elif outcome.error is not None:
        await store.finish_idempotency(account.id, key, None, outcome.error.code.number)
    else:
        await store.finish_idempotency(account.id, key, outcome.msgid, None)
    return outcome


async def _release(gateway: Gateway, account: Account, key: str) -> None:
    """Forget the key after a failed send; if that fails too, its lease runs out."""
    try:
        await gateway.store.release_idempotency(account.id, key)
    except Exception:  # the send's own error is the one to raise
        return
