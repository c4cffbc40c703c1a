"""Idempotency keys of the JSON API (pure): what a reservation of a key answers.

A client sends ``Idempotency-Key`` with ``POST /api/v1/messages``; the service
(`service_idempotency.send_once`) reserves the key in the store before sending, so that
a retried request gets the first answer and is charged once. The store keeps, per
account and key, the digest of the request (`request_digest`: the same key with another
body is refused), whether the first answer is known yet (``pending`` under a lease, or
``done``) and that answer: a msgid, or the legacy code of a refusal.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass

MAX_KEY_LENGTH = 255  # the column's size; the API refuses longer keys
PENDING = "pending"
DONE = "done"


class Claim(enum.Enum):
    """What reserving a key found."""

    OWNER = "owner"  # the caller sends (a new key, or a dead owner's lease taken over)
    IN_PROGRESS = "in-progress"  # another caller holds a live lease: wait and ask again
    DONE = "done"  # the first answer is known: replay it
    MISMATCH = "mismatch"  # the key was used for another request
    RECOVERED = "recovered"  # the dead owner's message was stored: its msgid, now done


@dataclass(frozen=True, slots=True)
class Reservation:
    """The outcome of `reserve_idempotency`: `msgid` or `error_code` (a legacy code
    number, such as ``"02"``) for DONE and RECOVERED, both None otherwise."""

    claim: Claim
    msgid: int | None = None
    error_code: str | None = None


def request_digest(body: bytes) -> str:
    """The digest a key is bound to: the SHA-256 of the request body, in hex."""
    return hashlib.sha256(body).hexdigest()
