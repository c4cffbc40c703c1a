"""In-memory twin of the e-mail outbox (`sqlite_mail.py`): a dict of `Mail` by id."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from passerelle.core.values import Mail, MailJob, MailState, NewMail


@dataclass
class MemoryMail:
    """E-mails by id; ids are never reused."""

    mails: dict[int, Mail] = field(default_factory=dict)
    last_mail_id: int = 0

    async def queue_mail(self, mail: NewMail) -> int:
        self.last_mail_id += 1
        self.mails[self.last_mail_id] = Mail(
            self.last_mail_id,
            mail.to_addr,
            mail.subject,
            mail.body_text,
            mail.created_at,
            MailState.PENDING,
            attempts=0,
            next_attempt_at=mail.created_at,
            claimed_until=None,
            sent_at=None,
            last_error=None,
        )
        return self.last_mail_id

    async def claim_mails(self, now: float, lease: float, limit: int) -> list[MailJob]:
        due = sorted(
            (m for m in self.mails.values() if m.state is MailState.PENDING),
            key=lambda m: (m.next_attempt_at, m.id),
        )
        due = [m for m in due if m.next_attempt_at <= now][:limit]
        until = now + lease
        jobs = []
        for m in due:
            self.mails[m.id] = dataclasses.replace(m, claimed_until=until, next_attempt_at=until)
            jobs.append(
                MailJob(m.id, m.to_addr, m.subject, m.body_text, m.created_at, m.attempts, until)
            )
        return jobs

    async def finish_mail(
        self,
        mail_id: int,
        claim: float,
        sent_at: float | None,
        error: str | None,
        next_at: float | None,
    ) -> bool:
        m = self.mails.get(mail_id)
        if m is None or m.state is not MailState.PENDING or m.claimed_until != claim:
            return False
        if sent_at is not None:
            state = MailState.SENT
        else:
            state = MailState.PENDING if next_at is not None else MailState.FAILED
        self.mails[mail_id] = dataclasses.replace(
            m,
            state=state,
            attempts=m.attempts + 1,
            claimed_until=None,
            sent_at=sent_at,
            last_error=m.last_error if error is None else error,
            next_attempt_at=m.next_attempt_at if next_at is None else next_at,
        )
        return True

    async def find_mail(self, mail_id: int) -> Mail | None:
        return self.mails.get(mail_id)
