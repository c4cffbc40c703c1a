"""In-memory twin of the Idempotency-Keys (`sqlite_idempotency.py`): rows by (account,
key). One event loop and no await inside an operation: each is atomic."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from passerelle.core.idempotency import (
    DONE,
    PENDING,
    Claim,
    IdemRow,
    Reservation,
    decide,
    message_ref,
    new_generation,
)


@dataclass(slots=True)
class MemIdemRow:
    """One key's row."""

    request_hash: str
    state: str
    claimed_until: float | None
    msgid: int | None
    error_code: str | None
    created_at: float
    generation: str


@dataclass
class MemoryIdempotency:
    """Keys by (account id, key)."""

    idem_rows: dict[tuple[int, str], MemIdemRow] = field(default_factory=dict)

    if TYPE_CHECKING:

        def _message_with_key(self, account_id: int, key: str) -> int | None: ...

    async def reserve_idempotency(
        self, account_id: int, key: str, request_hash: str, now: float, lease: float
    ) -> Reservation:
        row = self.idem_rows.get((account_id, key))
        if row is None:
            generation = new_generation()
            self.idem_rows[account_id, key] = MemIdemRow(
                request_hash, PENDING, now + lease, None, None, now, generation
            )
            return Reservation(Claim.OWNER, generation=generation)
        found = (row.request_hash, row.state, row.claimed_until, row.msgid, row.error_code)
        answer = decide(found, request_hash, now)
        if answer is not None and answer.claim is not Claim.IN_PROGRESS:
            return answer
        msgid = self._message_with_key(account_id, message_ref(key, row.generation))
        if msgid is not None:
            row.state, row.claimed_until, row.msgid = DONE, None, msgid
            return Reservation(Claim.RECOVERED, msgid)
        if answer is not None:
            return answer
        row.claimed_until = now + lease
        return Reservation(Claim.OWNER, generation=row.generation)

    async def peek_idempotency(self, account_id: int, key: str) -> IdemRow | None:
        row = self.idem_rows.get((account_id, key))
        if row is None:
            return None
        until = row.claimed_until
        if row.state == PENDING and self._message_with_key(
            account_id, message_ref(key, row.generation)
        ):
            until = None  # its message is stored: to be recovered now
        return (row.request_hash, row.state, until, row.msgid, row.error_code)

    async def finish_idempotency(
        self,
        account_id: int,
        key: str,
        msgid: int | None,
        error_code: str | None,
        generation: str | None = None,
    ) -> None:
        row = self._pending(account_id, key, generation)
        if row is not None:
            row.state, row.claimed_until = DONE, None
            row.msgid, row.error_code = msgid, error_code

    async def release_idempotency(
        self, account_id: int, key: str, generation: str | None = None
    ) -> None:
        row = self._pending(account_id, key, generation)
        if row is None:
            return
        msgid = self._message_with_key(account_id, message_ref(key, row.generation))
        if msgid is not None:
            row.state, row.claimed_until, row.msgid = DONE, None, msgid
        else:
            del self.idem_rows[account_id, key]

    def _pending(self, account_id: int, key: str, generation: str | None) -> MemIdemRow | None:
        row = self.idem_rows.get((account_id, key))
        if row is None or row.state != PENDING:
            return None
        if generation is not None and row.generation != generation:
            return None
        return row

    async def purge_idempotency(self, created_before: float) -> int:
        old = [
            k
            for k, row in self.idem_rows.items()
            if row.created_at < created_before
            and (
                row.state == DONE
                or (row.claimed_until is not None and row.claimed_until < created_before)
            )
        ]
        for k in old:
            del self.idem_rows[k]
        return len(old)
