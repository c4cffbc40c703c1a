"""In-memory twin of the Idempotency-Keys (`sqlite_idempotency.py`): rows by (account,
key). One event loop and no await inside an operation: each is atomic."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from passerelle.core.idempotency import DONE, PENDING, Claim, Reservation


@dataclass(slots=True)
class IdemRow:
    """One key's row."""

    request_hash: str
    state: str
    claimed_until: float | None
    msgid: int | None
    error_code: str | None
    created_at: float


@dataclass
class MemoryIdempotency:
    """Keys by (account id, key)."""

    idem_rows: dict[tuple[int, str], IdemRow] = field(default_factory=dict)

    if TYPE_CHECKING:

        def _message_with_key(self, account_id: int, key: str) -> int | None: ...

    async def reserve_idempotency(
        self, account_id: int, key: str, request_hash: str, now: float, lease: float
    ) -> Reservation:
        row = self.idem_rows.get((account_id, key))
        if row is None:
            self.idem_rows[account_id, key] = IdemRow(
                request_hash, PENDING, now + lease, None, None, now
            )
            return Reservation(Claim.OWNER)
        if row.request_hash != request_hash:
            return Reservation(Claim.MISMATCH)
        if row.state == DONE:
            return Reservation(Claim.DONE, row.msgid, row.error_code)
        if row.claimed_until is not None and row.claimed_until > now:
            return Reservation(Claim.IN_PROGRESS)
        msgid = self._message_with_key(account_id, key)
        if msgid is not None:
            row.state, row.claimed_until, row.msgid = DONE, None, msgid
            return Reservation(Claim.RECOVERED, msgid)
        row.claimed_until = now + lease
        return Reservation(Claim.OWNER)

    async def finish_idempotency(
        self, account_id: int, key: str, msgid: int | None, error_code: str | None
    ) -> None:
        row = self.idem_rows.get((account_id, key))
        if row is not None:
            row.state, row.claimed_until = DONE, None
            row.msgid, row.error_code = msgid, error_code

    async def release_idempotency(self, account_id: int, key: str) -> None:
        row = self.idem_rows.get((account_id, key))
        if row is None or row.state != PENDING:
            return
        msgid = self._message_with_key(account_id, key)
        if msgid is not None:
            row.state, row.claimed_until, row.msgid = DONE, None, msgid
        else:
            del self.idem_rows[account_id, key]

    async def purge_idempotency(self, created_before: float) -> int:
        old = [
            k
            for k, row in self.idem_rows.items()
            if row.state == DONE and row.created_at < created_before
        ]
        for k in old:
            del self.idem_rows[k]
        return len(old)
