"""Use cases of the background workers: the only thing `delivery/`, `webhooks/` and the
retention job call.

`service.Gateway` serves the front doors (legacy API, CLI); `Operations` serves the
workers that move messages once accepted: the dispatcher (claim, record a submit
result, release), the receipt handler (record a receipt), the receipt deadline
(expire), the supervisor and its stranded watch (connectors, routes, ownership, queue
counts), the callback sender (claim, finish, expire, backlog), the mail sender (claim,
record sent or failed) and the retention purge.
They are two classes because they serve two sets of callers and `service.py` would
otherwise pass 300 lines; `wiring.py` builds both over the same store.

The rules these use cases apply are `core/`'s (`core.transitions` decides what a submit
result, a receipt or a deadline changes; the store persists what it is given), so
most methods are thin pass-throughs. They are plain methods returning the store's
awaitable, not coroutines of their own: the dispatcher's hot path pays one method call
per recipient and no extra await. The workers read the database's clock (`clock`, the
store's: leases and due times then agree across processes and machines) and pass
`now`; tests give them a clock of their own.
"""

from __future__ import annotations

from collections.abc import Awaitable, Iterable, Mapping, Sequence

from passerelle.core.states import RecipientState
from passerelle.core.values import (
    CallbackJob,
    CallbackResult,
    Connector,
    ConnectorOwner,
    DueRecipient,
    Mail,
    MailJob,
    ReceiptMatch,
    RouteRow,
)
from passerelle.store.base import WorkerStore


class Operations:
    """The service layer of the workers (delivery, callbacks, retention)."""

    def __init__(self, store: WorkerStore) -> None:
        self._store = store

    def clock(self) -> float:
        """Now on the database's clock (unix seconds, no round trip)."""
        return self._store.clock()

    # --- dispatcher ------------------------------------------------------------------

    def wait_for_work(self, seconds: float) -> Awaitable[bool]:
        """Until new recipients are queued or `seconds` pass; True when they were."""
        return self._store.wait_for_work(seconds)

    def claim_recipients(
        self, now: float, lease: float, limit: int
    ) -> Awaitable[list[DueRecipient]]:
        """Claim up to `limit` queued recipients due at `now` for `lease` seconds."""
        return self._store.claim_due(now, lease, limit)

    def record_submitted(
        self, recipient_id: int, connector: str, smsc_id: str, now: float
    ) -> Awaitable[None]:
        """The operator accepted the recipient with `smsc_id` (a receipt kept earlier for
        that id applies now)."""
        return self._store.mark_submitted(recipient_id, connector, smsc_id, now)

    def record_retry(
        self, recipient_id: int, next_at: float, err: str, claim: float | None = None
    ) -> Awaitable[None]:
        """A temporary failure: the recipient is queued again for `next_at` (only while
        `claim`, when given, still holds it)."""
        return self._store.mark_retry(recipient_id, next_at, err, claim)

    def record_failed(
        self, recipient_id: int, err: str, now: float, claim: float | None = None
    ) -> Awaitable[None]:
        """No operator took the recipient: failed, and its credit refunded (only while
        `claim`, when given, still holds it)."""
        return self._store.mark_failed(recipient_id, err, now, refund=True, claim=claim)

    def release(
        self,
        recipient_ids: Sequence[int],
        not_before: float | None = None,
        claim: float | None = None,
    ) -> Awaitable[None]:
        """Give claims back without an outcome, not due again before `not_before` (only
        those `claim`, when given, still holds)."""
        return self._store.release(recipient_ids, not_before, claim)

    # --- receipts and the receipt deadline -------------------------------------------

    def record_receipt(
        self,
        connector: str,
        smsc_id: str,
        state: RecipientState,
        stat: str,
        err: str | None,
        now: float,
    ) -> Awaitable[ReceiptMatch]:
        """Apply an operator receipt to the recipient it names (kept when none is known
        yet: it may arrive before its submit_sm_resp)."""
        return self._store.record_receipt(connector, smsc_id, state, stat, err, now)

    def expire_overdue(self, now: float, deadline: float, limit: int) -> Awaitable[int]:
        """Make final the submitted recipients still without a receipt `deadline` seconds
        after their submit, at most `limit`; how many (repeat while it is `limit`)."""
        return self._store.expire_overdue(now, deadline, limit)

    # --- connectors, routes, ownership and queue counts (supervisor) -----------------

    def connectors(self) -> Awaitable[list[Connector]]:
        """Every stored connector, by name."""
        return self._store.list_connectors()

    def routes(self) -> Awaitable[list[RouteRow]]:
        """Every routing rule, in the order they are tried."""
        return self._store.list_routes()

    def claim_connectors(
        self,
        names: Iterable[str],
        owner: str,
        lease: float,
        bound: Mapping[str, bool],
        use: Mapping[str, tuple[int, int]] | None = None,
    ) -> Awaitable[frozenset[str]]:
        """Own, or keep owning, each of `names` no other live lease holds, recording
        bind state and window use; the names `owner` holds (see
        `Store.claim_connectors`)."""
        return self._store.claim_connectors(names, owner, lease, bound, use)

    def heartbeat(self, owner: str, lease: float) -> Awaitable[list[str]]:
        """Mark this delivery process alive; the live ones, in id order."""
        return self._store.heartbeat(owner, lease)

    def release_connectors(self, owner: str) -> Awaitable[None]:
        """Give back every connector `owner` holds."""
        return self._store.release_connectors(owner)

    def connector_owners(self) -> Awaitable[dict[str, ConnectorOwner]]:
        """The live ownerships by connector name."""
        return self._store.connector_owners()

    def queue_depth(self) -> Awaitable[int]:
        """Recipients waiting to be submitted."""
        return self._store.queue_depth()

    def count_queued(self, starting: Sequence[str], not_starting: Sequence[str]) -> Awaitable[int]:
        """Queued recipients whose number starts with one of `starting` and with none of
        `not_starting`."""
        return self._store.count_queued(starting, not_starting)

    # --- callbacks -------------------------------------------------------------------

    def wait_for_callbacks(self, seconds: float) -> Awaitable[bool]:
        """Until a callback event is queued (where the store hears of it) or `seconds` pass."""
        return self._store.wait_for_callbacks(seconds)

    def claim_callbacks(self, now: float, lease: float, limit: int) -> Awaitable[list[CallbackJob]]:
        """Claim due pending callback events, oldest due first, for `lease` seconds."""
        return self._store.claim_callbacks(now, lease, limit)

    def finish_callbacks(self, results: Sequence[CallbackResult]) -> Awaitable[None]:
        """Record attempts and their outcomes (an outcome applies only under its claim)."""
        return self._store.finish_callbacks(results)

    def expire_callbacks(self, created_before: float, now: float) -> Awaitable[int]:
        """Fail pending events created before `created_before` not being sent; how many."""
        return self._store.expire_callbacks(created_before, now)

    def callback_backlog(self) -> Awaitable[tuple[int, float | None]]:
        """Pending events, and the creation time of the oldest one."""
        return self._store.callback_backlog()

    # --- e-mail ----------------------------------------------------------------------

    def claim_mails(self, now: float, lease: float, limit: int) -> Awaitable[list[MailJob]]:
        """Claim due pending e-mails, oldest due first, for `lease` seconds."""
        return self._store.claim_mails(now, lease, limit)

    def record_mail_sent(self, job: MailJob, at: float) -> Awaitable[bool]:
        """The e-mail was handed over at `at` (False: its claim had lapsed)."""
        return self._store.finish_mail(job.id, job.claim, at, None, None)

    def record_mail_failed(
        self, job: MailJob, error: str, next_at: float | None
    ) -> Awaitable[bool]:
        """An attempt failed with `error`: try again at `next_at`, or never when None."""
        return self._store.finish_mail(job.id, job.claim, None, error, next_at)

    def mail(self, mail_id: int) -> Awaitable[Mail | None]:
        """The e-mail with this id, or None."""
        return self._store.find_mail(mail_id)

    # --- retention -------------------------------------------------------------------

    def purge_console(self, now: float) -> Awaitable[int]:
        """Delete expired console sessions and one-time links; how many."""
        return self._store.purge_console(now)

    def purge_idempotency(self, created_before: float) -> Awaitable[int]:
        """Delete the answered Idempotency-Keys created before `created_before`; how many."""
        return self._store.purge_idempotency(created_before)

    def purge_before(self, cutoff: float, limit: int) -> Awaitable[int]:
        """Delete up to `limit` finished messages created before `cutoff`; how many."""
        return self._store.purge_before(cutoff, limit)
