"""The e-mail outbox in the store, on every backend: queued durably, claimed on a lease
(never twice while it holds), finished as sent, retried later or failed."""

from __future__ import annotations

import asyncio

from passerelle.core.values import MailState, NewMail
from passerelle.store.base import Store

T0 = 1_000_000.0


def new_mail(n: int = 0, at: float = T0) -> NewMail:
    return NewMail(f"user{n}@example.com", f"Activate {n}", f"https://x.test/a/{n}", at)


async def test_a_queued_mail_is_pending_and_due_at_once(store: Store) -> None:
    """A queued e-mail is pending, due when it was queued, with no attempt yet."""
    mail_id = await store.queue_mail(new_mail(1))
    mail = await store.find_mail(mail_id)
    assert mail is not None
    assert (mail.to_addr, mail.subject, mail.body_text) == (
        "user1@example.com",
        "Activate 1",
        "https://x.test/a/1",
    )
    assert (mail.state, mail.attempts, mail.next_attempt_at) == (MailState.PENDING, 0, T0)
    assert (mail.claimed_until, mail.sent_at, mail.last_error) == (None, None, None)
    assert await store.find_mail(mail_id + 1000) is None


async def test_ids_grow(store: Store) -> None:
    """Each queued e-mail gets a new, larger id."""
    ids = [await store.queue_mail(new_mail(n)) for n in range(3)]
    assert ids == sorted(ids) and len(set(ids)) == 3


async def test_claim_takes_due_mails_oldest_first_with_a_lease(store: Store) -> None:
    """A claim takes the due e-mails, oldest first, up to its limit; not those due later."""
    first = await store.queue_mail(new_mail(1, T0))
    second = await store.queue_mail(new_mail(2, T0 + 1))
    await store.queue_mail(new_mail(3, T0 + 100))
    jobs = await store.claim_mails(T0 + 10, 30.0, 10)
    assert [j.id for j in jobs] == [first, second]
    assert all(j.claim == T0 + 40 and j.attempts == 0 for j in jobs)
    assert jobs[0].body_text == "https://x.test/a/1"
    mail = await store.find_mail(first)
    assert mail is not None and mail.claimed_until == T0 + 40
    assert [j.id for j in await store.claim_mails(T0 + 10, 30.0, 1)] == []


async def test_a_claimed_mail_is_not_claimed_again_while_its_lease_holds(store: Store) -> None:
    """Claimed for 30 s: no claim takes it within the lease; once it ends, one does."""
    mail_id = await store.queue_mail(new_mail())
    [job] = await store.claim_mails(T0, 30.0, 10)
    assert await store.claim_mails(T0 + 29, 30.0, 10) == []
    [again] = await store.claim_mails(T0 + 31, 30.0, 10)
    assert again.id == mail_id and again.claim == T0 + 61
    # the lapsed claim no longer decides anything
    assert not await store.finish_mail(mail_id, job.claim, T0 + 32, None, None)
    assert await store.finish_mail(mail_id, again.claim, T0 + 32, None, None)


async def test_finish_sent(store: Store) -> None:
    """A sent e-mail is sent at its time, attempted once, and never claimed again."""
    mail_id = await store.queue_mail(new_mail())
    [job] = await store.claim_mails(T0, 30.0, 10)
    assert await store.finish_mail(mail_id, job.claim, T0 + 1, None, None)
    mail = await store.find_mail(mail_id)
    assert mail is not None
    assert (mail.state, mail.attempts, mail.sent_at, mail.claimed_until) == (
        MailState.SENT,
        1,
        T0 + 1,
        None,
    )
    assert await store.claim_mails(T0 + 1000, 30.0, 10) == []
    assert not await store.finish_mail(mail_id, job.claim, T0 + 2, None, None)


async def test_finish_failed_with_a_retry_time(store: Store) -> None:
    """A failed attempt with a retry time keeps it pending with its error, due then."""
    mail_id = await store.queue_mail(new_mail())
    [job] = await store.claim_mails(T0, 30.0, 10)
    assert await store.finish_mail(mail_id, job.claim, None, "refused", T0 + 60)
    mail = await store.find_mail(mail_id)
    assert mail is not None
    assert (mail.state, mail.attempts, mail.last_error, mail.next_attempt_at) == (
        MailState.PENDING,
        1,
        "refused",
        T0 + 60,
    )
    assert mail.claimed_until is None and mail.sent_at is None
    assert await store.claim_mails(T0 + 59, 30.0, 10) == []
    [retry] = await store.claim_mails(T0 + 60, 30.0, 10)
    assert retry.attempts == 1
    assert await store.finish_mail(mail_id, retry.claim, T0 + 61, None, None)
    sent = await store.find_mail(mail_id)
    assert sent is not None and sent.state is MailState.SENT and sent.attempts == 2
    assert sent.last_error == "refused"  # the last error is kept for the record


async def test_finish_failed_for_good(store: Store) -> None:
    """A failed attempt with no retry time fails the e-mail: never claimed again."""
    mail_id = await store.queue_mail(new_mail())
    [job] = await store.claim_mails(T0, 30.0, 10)
    assert await store.finish_mail(mail_id, job.claim, None, "horizon passed", None)
    mail = await store.find_mail(mail_id)
    assert mail is not None and mail.state is MailState.FAILED
    assert mail.last_error == "horizon passed"
    assert await store.claim_mails(T0 + 10**6, 30.0, 10) == []


async def test_concurrent_claims_never_give_one_mail_twice(store: Store) -> None:
    """Ten claims at once over 50 due e-mails: each e-mail is given exactly once."""
    ids = {await store.queue_mail(new_mail(n)) for n in range(50)}
    batches = await asyncio.gather(*(store.claim_mails(T0 + 1, 30.0, 7) for _ in range(10)))
    claimed = [job.id for batch in batches for job in batch]
    assert len(claimed) == len(set(claimed)) == 50
    assert set(claimed) == ids
