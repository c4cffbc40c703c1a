"""The receipt deadline: the pure rule, the periodic job, and the API's answer after it."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import pytest
from prometheus_client import CollectorRegistry

from passerelle.api.app import App
from passerelle.core.deadline import EXPIRY, check_every, is_overdue, overdue_cutoff
from passerelle.core.states import RecipientState as S
from passerelle.core.values import NewAccount, NewMessage
from passerelle.delivery.deadline import DeadlineJob
from passerelle.delivery.metrics import DeliveryMetrics
from passerelle.service_workers import Operations
from passerelle.store.memory import MemoryStore
from tests.support import PASSWORD, asgi_client

BuildApp = Callable[..., Awaitable[App]]
API = "/client/api?login=alice&apipasse=" + PASSWORD


def test_overdue_only_when_submitted_and_strictly_past_the_deadline() -> None:
    """Submitted before now - deadline is overdue; at the deadline, queued, final or never
    submitted is not; the final state is EXPIRED / no-receipt."""
    assert overdue_cutoff(1000.0, 100.0) == 900.0
    assert is_overdue(S.SUBMITTED, 899.9, 1000.0, 100.0)
    assert not is_overdue(S.SUBMITTED, 900.0, 1000.0, 100.0)
    assert not is_overdue(S.QUEUED, 1.0, 1000.0, 100.0)
    assert not is_overdue(S.DELIVERED, 1.0, 1000.0, 100.0)
    assert not is_overdue(S.SUBMITTED, None, 1000.0, 100.0)
    assert (EXPIRY.state, EXPIRY.stat, EXPIRY.err) == (S.EXPIRED, "EXPIRED", "no-receipt")


def test_check_interval_follows_the_deadline_within_bounds() -> None:
    """A tenth of the deadline, between 1 s and 60 s."""
    assert check_every(259200.0) == 60.0
    assert check_every(100.0) == 10.0
    assert check_every(2.0) == 1.0


class CountingStore(MemoryStore):
    """The twin, counting `expire_overdue` calls (one transaction each in SQLite)."""

    calls: int = 0

    async def expire_overdue(self, now: float, deadline: float, limit: int) -> int:
        self.calls += 1
        return await super().expire_overdue(now, deadline, limit)


async def test_job_expires_in_bounded_batches_on_its_clock() -> None:
    """Nothing before the deadline; after it, every overdue recipient in batches of
    `batch`, counted in the metric."""
    store = CountingStore()
    account = await store.create_account(NewAccount("a", "a@x.fr", "h", "s", 1.0, credits=9))
    dests = tuple(f"3361234567{i}" for i in range(5))
    await store.accept_message(NewMessage(account.id, 1.0, "S", 5, "x", False, False, dests, 5))
    for due in await store.claim_due(5.0, 30.0, 10):
        await store.mark_submitted(due.id, "op", str(due.id), now=10.0)
    now = [109.0]
    metrics = DeliveryMetrics(CollectorRegistry())
    job = DeadlineJob(Operations(store), 100.0, metrics, clock=lambda: now[0], batch=2, pause=0.0)
    assert await job.run_once() == 0
    now[0] = 111.0
    assert await job.run_once() == 5
    assert store.calls == 1 + 3  # 2 + 2 + 1
    assert await store.delivery_counts() == {S.EXPIRED: 5}
    assert metrics.registry.get_sample_value("passerelle_receipt_deadline_expired_total") == 5


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
async def test_statut_answers_2_after_the_deadline(app_factory: BuildApp, kind: str) -> None:
    """Through the API: past PASSERELLE_RECEIPT_DEADLINE_S a submitted message answers
    `2|SMS non délivré`, the balance is unchanged, and only the callback=1 message has an
    event."""
    app = await app_factory(kind, receipt_deadline_s=100.0)
    await app.gateway.create_account("alice", "a@example.com", PASSWORD, 10)
    msgids = []
    async with asgi_client(app) as client:
        for callback in ("1", "0"):
            query = f"&action=envoi&origine=Shop&msg=x&dest=33612345678&callback={callback}"
            msgids.append((await client.get(API + query)).text.split("|")[0])
        submitted_at = time.time()
        for due in await app.process.store.claim_due(submitted_at + 1, 30.0, 10):
            await app.process.store.mark_submitted(due.id, "op", f"id{due.id}", submitted_at)
        app.process.deadline.clock = lambda: submitted_at + 99.0
        assert await app.process.deadline.run_once() == 0
        statut = [(await client.get(f"{API}&action=statut&msgid={m}")).text for m in msgids]
        assert statut == ["0|SMS en cours d'envoi"] * 2
        app.process.deadline.clock = lambda: submitted_at + 101.0
        assert await app.process.deadline.run_once() == 2
        statut = [(await client.get(f"{API}&action=statut&msgid={m}")).text for m in msgids]
        assert statut == ["2|SMS non délivré"] * 2
        assert (await client.get(API + "&action=solde")).text == "8 SMS"
    [event] = await app.process.store.list_callbacks("alice", False, 10)
    assert (str(event.msgid), event.statut, event.stat) == (msgids[0], 2, "EXPIRED")
