"""PostgreSQL e-mail outbox (a mixin of `PgStore`). Claims take due e-mails with
`FOR UPDATE SKIP LOCKED` and move their next attempt to the end of the lease, so
several mail senders share the outbox and an e-mail is sent by one at a time."""

from __future__ import annotations

from passerelle.core.values import Mail, MailJob, NewMail
from passerelle.store.postgres_base import PgRole
from passerelle.store.sqlite_mail import FIND, PENDING, mail_of, outcome

_QUEUE = (
    "INSERT INTO mails (to_addr, subject, body_text, created_at, state, attempts,"
    " next_attempt_at) VALUES ($1, $2, $3, $4, $5, 0, $4) RETURNING id"
)
_CLAIM = (
    "WITH due AS (SELECT id, next_attempt_at AS due_at FROM mails"
    " WHERE state = $1 AND next_attempt_at <= $2 ORDER BY next_attempt_at, id LIMIT $4"
    " FOR UPDATE SKIP LOCKED)"
    " UPDATE mails m SET claimed_until = $3, next_attempt_at = $3 FROM due WHERE m.id = due.id"
    " RETURNING m.id, m.to_addr, m.subject, m.body_text, m.created_at, m.attempts, due.due_at"
)
_FINISH = (
    "UPDATE mails SET state = $1, attempts = attempts + 1, claimed_until = NULL,"
    " sent_at = $2, last_error = coalesce($3, last_error),"
    " next_attempt_at = coalesce($4, next_attempt_at)"
    " WHERE id = $5 AND state = $6 AND claimed_until = $7"
)


class PgMail(PgRole):
    """The e-mail role of the PostgreSQL store."""

    async def queue_mail(self, mail: NewMail) -> int:
        mail_id = await self._pool.fetchval(
            _QUEUE, mail.to_addr, mail.subject, mail.body_text, mail.created_at, PENDING
        )
        return int(mail_id)

    async def claim_mails(self, now: float, lease: float, limit: int) -> list[MailJob]:
        until = now + lease
        rows = await self._pool.fetch(_CLAIM, PENDING, now, until, limit)
        rows = sorted(rows, key=lambda r: (r[6], r[0]))  # the oldest due first
        return [MailJob(r[0], r[1], r[2], r[3], r[4], r[5], until) for r in rows]

    async def finish_mail(
        self,
        mail_id: int,
        claim: float,
        sent_at: float | None,
        error: str | None,
        next_at: float | None,
    ) -> bool:
        state = str(outcome(sent_at, next_at))
        status = await self._pool.execute(
            _FINISH, state, sent_at, error, next_at, mail_id, PENDING, claim
        )
        return bool(status == "UPDATE 1")

    async def find_mail(self, mail_id: int) -> Mail | None:
        row = await self._pool.fetchrow(FIND + "$1", mail_id)
        return None if row is None else mail_of(tuple(row))
