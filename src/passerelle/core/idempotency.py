"""Idempotency keys of the JSON API (pure): what a reservation of a key answers.

A client sends ``Idempotency-Key`` with ``POST /api/v1/messages``; the service
(`service_idempotency.send_once`) reserves the key in the store before sending, so that
a retried request gets the first answer and is charged once. The store keeps, per
account and key, the digest of the request (`request_digest`: the same key with another
body is refused), whether the first answer is known yet (``pending`` under a lease, or
``done``) and that answer: a msgid, or the legacy code of a refusal.

Each row also gets a random `generation` when it is inserted: a take-over of a lapsed
lease keeps it, a key purged then used again gets a new row and so a new generation.
The message sent under a reservation carries `message_ref(key, generation)` (its
``idem_key`` column, unique per account): a recovery finds only the message of this
reservation (not an older one of a reused key), and a second owner of the same
reservation (a take-over of a slow owner) cannot store a second message.
"""

from __future__ import annotations

import enum
import hashlib
import secrets
from dataclasses import dataclass, field

MAX_KEY_LENGTH = 255  # the key column's size; the API refuses longer keys
GENERATION_LENGTH = 16  # hex digits of a reservation's generation
SEPARATOR = "\x1f"  # between the key and the generation in a message's reference
MAX_REF_LENGTH = MAX_KEY_LENGTH + 1 + GENERATION_LENGTH  # messages.idem_key's size
PENDING = "pending"
DONE = "done"

# a key's row as a reservation decides on it: request_hash, state, claimed_until,
# msgid, error_code
IdemRow = tuple[str, str, "float | None", "int | None", "str | None"]


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
    number, such as ``"02"``) for DONE and RECOVERED, both None otherwise; for OWNER,
    the row's `generation` (an opaque handle, left out of comparisons)."""

    claim: Claim
    msgid: int | None = None
    error_code: str | None = None
    generation: str | None = field(default=None, compare=False)


def request_digest(body: bytes) -> str:
    """The digest a key is bound to: the SHA-256 of the request body, in hex."""
    return hashlib.sha256(body).hexdigest()


def new_generation() -> str:
    """A fresh generation for a newly inserted key row."""
    return secrets.token_hex(GENERATION_LENGTH // 2)


def message_ref(key: str, generation: str) -> str:
    """What the message sent under the reservation (key, generation) carries."""
    return f"{key}{SEPARATOR}{generation}"


def ref_parts(ref: str) -> tuple[str, str]:
    """The (key, generation) of a message's reference."""
    key, _, generation = ref.rpartition(SEPARATOR)
    return key, generation


def decide(row: IdemRow, request_hash: str, now: float) -> Reservation | None:
    """The answer a found row gives by itself; None when its lease ran out (the caller
    then looks for the reservation's message: RECOVERED, or the lease is taken over)."""
    found_hash, state, claimed_until, msgid, error_code = row
    if found_hash != request_hash:
        return Reservation(Claim.MISMATCH)
    if state == DONE:
        return Reservation(Claim.DONE, msgid, error_code)
    if claimed_until is not None and claimed_until > now:
        return Reservation(Claim.IN_PROGRESS)
    return None
