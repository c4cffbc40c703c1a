"""The mail sender: claim due e-mails of the outbox → compose → hand over → record.

Runs in the process with the `callbacks` role. Each e-mail is claimed on a lease
(`PASSERELLE_MAIL_LEASE_S`): two senders never hold one at once, and one claimed by a
process that dies is sent once the lease ends (at least once, never lost). A failed
attempt (the server refuses, is down or too slow) is recorded with its error and tried
again with backoff (`core.retry`: 30 s, doubling, capped at an hour, jittered), until
the horizon (`PASSERELLE_MAIL_HORIZON_S`, 72 h), then the e-mail is failed.

Logs name the e-mail (id, recipient, where it went, the error), never its body: it
carries activation and password-reset links.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable

from passerelle.core.retry import RetryPolicy
from passerelle.core.values import MailJob
from passerelle.mail.compose import compose
from passerelle.mail.transport import Transport, transport_for
from passerelle.service_workers import Operations
from passerelle.settings import Settings
from passerelle.tasks import Background

log = logging.getLogger("passerelle.mail")

BATCH = 20  # e-mails claimed at once (each is sent in turn, within the lease)
POLL_S = 1.0  # how often the outbox is looked at when it is empty
MAX_ERROR = 500  # characters of an error kept in `last_error`


def policy_for(settings: Settings) -> RetryPolicy:
    """30 s, doubling, capped at 1 h, jittered, until the horizon (72 h by default)."""
    return RetryPolicy(
        base=30.0, factor=2.0, max_delay=3600.0, max_attempts=10_000,
        horizon=settings.mail_horizon_s,
    )  # fmt: skip


def describe(error: BaseException) -> str:
    """One line for `last_error` and the log: the error's type and message."""
    text = " ".join(f"{type(error).__name__}: {error}".split())
    return text[:MAX_ERROR]


class MailSender(Background):
    """Drains the e-mail outbox in the background (`start`/`stop`), or once
    (`run_once`, for tests and tools)."""

    name = "mail"

    def __init__(
        self,
        service: Operations,
        settings: Settings,
        transport: Transport | None = None,
        clock: Callable[[], float] | None = None,
        poll: float = POLL_S,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.service = service
        self.transport = transport or transport_for(settings)
        self.from_addr = settings.mail_from
        self.lease = settings.mail_lease_s
        self.policy = policy_for(settings)
        self.clock = clock or service.clock  # the database's clock
        self.poll = poll
        self.jitter = jitter
        self.sent = 0  # e-mails handed over since start
        self.failures = 0  # failed attempts since start

    async def run_once(self) -> int:
        """Claim the due e-mails (one batch) and attempt each; how many were claimed."""
        jobs = await self.service.claim_mails(self.clock(), self.lease, BATCH)
        for job in jobs:
            await self.attempt(job)
        return len(jobs)

    async def attempt(self, job: MailJob) -> None:
        """Hand `job` over once and record the outcome."""
        try:
            where = await self.transport.deliver(compose(job, self.from_addr), job.id)
        except Exception as error:  # every failure is retried, until the horizon
            await self._failed(job, describe(error))
            return
        self.sent += 1
        await self.service.record_mail_sent(job, self.clock())
        log.info("mail sent", extra={"mail_id": job.id, "to": job.to_addr, "where": where})

    async def _failed(self, job: MailJob, error: str) -> None:
        self.failures += 1
        now = self.clock()
        next_at = self.policy.next_attempt(job.attempts + 1, job.created_at, now, self.jitter())
        await self.service.record_mail_failed(job, error, next_at)
        extra = {"mail_id": job.id, "to": job.to_addr, "error": error, "next_at": next_at}
        if next_at is None:
            log.error("mail failed for good (horizon passed)", extra=extra)
        else:
            log.warning("mail not sent; trying again later", extra=extra)

    async def _run(self) -> None:
        while True:
            try:
                claimed = await self.run_once()
            except Exception:
                log.exception("mail sender failed; trying again shortly")
                claimed = 0
            if claimed < BATCH:
                await asyncio.sleep(self.poll)
