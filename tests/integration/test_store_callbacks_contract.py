"""The callback half of the store contract: events stored as the transitions give them
(tests/unit/test_transitions.py decides when), claims, attempts."""

from __future__ import annotations

import asyncio

import pytest

from passerelle.core.states import RecipientState as S
from passerelle.core.values import (
    AccountChanges,
    CallbackAttempt,
    CallbackOutcome,
    CallbackResult,
    CallbackState,
    NewAccount,
    NewMessage,
)
from passerelle.store.base import Store
from passerelle.store.sqlite import SqliteStore


async def submitted(
    store: Store,
    callback: bool,
    url: str | None = "https://client.example/dlr",
    recipients: tuple[str, ...] = ("33612345678",),
) -> tuple[int, int, list[int]]:
    """An account, a message (callback on or off), its recipients submitted as op1/id<i>."""
    account = await store.create_account(
        NewAccount("alice", "a@x.fr", "h", "sekret", 100.0, credits=10, callback_url=url)
    )
    msgid = await store.accept_message(
        NewMessage(account.id, 100.0, "Shop", 5, "hi", False, callback, recipients, len(recipients))
    )
    due = await store.claim_due(100.0, 30.0, 10)
    for i, d in enumerate(due):
        await store.mark_submitted(d.id, "op1", f"id{i}", 101.0)
    return account.id, msgid, [d.id for d in due]


async def test_final_receipt_creates_one_event(store: Store) -> None:
    """The event a final receipt's change carries is stored with the recipient's msgid and
    dest, and claimed with its account's login, URL, method and secret."""
    _, msgid, _ = await submitted(store, callback=True)
    await store.record_receipt("op1", "id0", S.DELIVERED, "DELIVRD", "000", 102.0)
    [job] = await store.claim_callbacks(104.0, 30.0, 10)
    assert (job.msgid, job.dest, job.statut, job.stat, job.err, job.login) == (
        msgid,
        "33612345678",
        1,
        "DELIVRD",
        "000",
        "alice",
    )
    assert (job.url, job.method, job.secret) == ("https://client.example/dlr", "POST", "sekret")
    assert (job.occurred_at, job.attempts) == (102.0, 0)
    assert await store.claim_callbacks(105.0, 30.0, 10) == []  # claimed


async def test_the_callback_flag_is_read_from_the_message(store: Store) -> None:
    """The store gives the transition its message's callback=0: nothing is queued."""
    await submitted(store, callback=False)
    await store.record_receipt("op1", "id0", S.UNDELIVERED, "UNDELIV", "001", 103.0)
    assert await store.claim_callbacks(104.0, 30.0, 10) == []
    assert await store.callback_backlog() == (0, None)


async def test_failure_and_early_receipt_create_events(store: Store) -> None:
    """The events of a failure's change and of a receipt kept before its resp (applied at
    the submit) are stored."""
    account = await store.create_account(
        NewAccount("bob", "b@x.fr", "h", "s", 100.0, credits=10, callback_url="http://h/x")
    )
    await store.accept_message(
        NewMessage(account.id, 100.0, "S", 5, "t", False, True, ("33600000001", "33600000002"), 2)
    )
    first, second = await store.claim_due(100.0, 30.0, 10)
    await store.mark_failed(first.id, "no route", 101.0, refund=True)
    await store.record_receipt("op1", "early", S.EXPIRED, "EXPIRED", None, 101.5)
    await store.mark_submitted(second.id, "op1", "early", 102.0)
    jobs = await store.claim_callbacks(103.0, 30.0, 10)
    assert sorted((j.dest, j.statut, j.stat) for j in jobs) == [
        ("33600000001", 2, "FAILED"),
        ("33600000002", 2, "EXPIRED"),
    ]


async def test_events_wait_for_a_url(store: Store) -> None:
    """Events of an account without callback URL are kept, and claimed once a URL is set."""
    _, _, _ = await submitted(store, callback=True, url=None)
    await store.record_receipt("op1", "id0", S.DELIVERED, "DELIVRD", None, 102.0)
    assert await store.claim_callbacks(103.0, 30.0, 10) == []
    assert (await store.callback_backlog())[0] == 1
    await store.update_account("alice", AccountChanges(callback_url="https://late.example/"), 104.0)
    [job] = await store.claim_callbacks(105.0, 30.0, 10)
    assert job.url == "https://late.example/"


async def test_attempts_retry_deliver_and_list(store: Store) -> None:
    """A failed attempt re-queues for next_at; a 2xx delivers; attempts are all kept."""
    await submitted(store, callback=True)
    await store.record_receipt("op1", "id0", S.DELIVERED, "DELIVRD", None, 102.0)
    [job] = await store.claim_callbacks(103.0, 30.0, 10)
    await store.finish_callbacks(
        [
            CallbackResult(
                job.id,
                job.claim,
                CallbackAttempt(103.0, 500, 12.0, "HTTP 500"),
                CallbackOutcome.RETRY,
                110.0,
            )
        ]
    )
    assert await store.claim_callbacks(109.0, 30.0, 10) == []
    [again] = await store.claim_callbacks(110.0, 30.0, 10)
    assert again.attempts == 1
    failed = await store.list_callbacks("alice", failed_only=True, limit=10)
    assert [(e.id, e.last_status) for e in failed] == [(job.id, 500)]
    await store.finish_callbacks(
        [
            CallbackResult(
                job.id,
                again.claim,
                CallbackAttempt(110.0, 204, 3.0, None),
                CallbackOutcome.DELIVERED,
                None,
            )
        ]
    )
    [event] = await store.list_callbacks(None, failed_only=False, limit=10)
    assert (event.state, event.attempts, event.delivered_at) == (CallbackState.DELIVERED, 2, 110.0)
    assert await store.list_callbacks("alice", failed_only=True, limit=10) == []
    assert [a.status for a in await store.callback_attempts(job.id)] == [500, 204]


async def test_gone_expire_and_replay(store: Store) -> None:
    """410 marks gone; old pending events expire; replay makes any event due again."""
    await submitted(store, callback=True, recipients=("33600000001", "33600000002"))
    await store.record_receipt("op1", "id0", S.DELIVERED, "DELIVRD", None, 102.0)
    await store.record_receipt("op1", "id1", S.DELIVERED, "DELIVRD", None, 102.0)
    first, second = await store.claim_callbacks(103.0, 30.0, 10)
    await store.finish_callbacks(
        [
            CallbackResult(
                first.id,
                first.claim,
                CallbackAttempt(103.0, 410, 1.0, "HTTP 410"),
                CallbackOutcome.GONE,
                None,
            ),
            CallbackResult(
                second.id,
                second.claim,
                CallbackAttempt(103.0, None, 10000.0, "timeout"),
                CallbackOutcome.RETRY,
                104.0,
            ),
        ]
    )
    assert await store.expire_callbacks(created_before=200.0, now=300.0) == 1
    states = {e.id: e.state for e in await store.list_callbacks(None, False, 10)}
    assert states == {first.id: CallbackState.GONE, second.id: CallbackState.FAILED}
    assert await store.replay_callback(first.id, 400.0)
    assert not await store.replay_callback(999, 400.0)
    [job] = await store.claim_callbacks(400.0, 30.0, 10)
    assert job.id == first.id


async def test_a_late_outcome_after_the_new_claims_one_changes_nothing(store: Store) -> None:
    """An answer to a lapsed claim, coming after the new claim delivered, is logged only."""
    await submitted(store, callback=True)
    await store.record_receipt("op1", "id0", S.DELIVERED, "DELIVRD", None, 102.0)
    [job] = await store.claim_callbacks(103.0, 30.0, 10)
    assert await store.claim_callbacks(132.0, 30.0, 10) == []  # still claimed
    [again] = await store.claim_callbacks(133.0, 30.0, 10)  # the claim lapsed
    assert (again.id, again.claim) == (job.id, 163.0)
    delivered = CallbackAttempt(134.0, 200, 1.0, None)
    late = CallbackAttempt(103.0, None, 30000.0, "timeout")
    await store.finish_callbacks(
        [CallbackResult(job.id, again.claim, delivered, CallbackOutcome.DELIVERED, None)]
    )
    await store.finish_callbacks(
        [CallbackResult(job.id, job.claim, late, CallbackOutcome.RETRY, 140.0)]
    )
    [event] = await store.list_callbacks(None, failed_only=False, limit=10)
    assert (event.state, event.attempts, event.delivered_at) == (CallbackState.DELIVERED, 1, 134.0)
    assert await store.claim_callbacks(200.0, 30.0, 10) == []
    assert [a.status for a in await store.callback_attempts(job.id)] == [200, None]


@pytest.mark.parametrize(
    ("late_status", "outcome", "next_at"),
    [(None, CallbackOutcome.RETRY, 140.0), (410, CallbackOutcome.GONE, None)],
    ids=["retry", "gone"],
)
async def test_a_late_outcome_during_the_new_claim_changes_nothing(
    store: Store, late_status: int | None, outcome: CallbackOutcome, next_at: float | None
) -> None:
    """An answer to a lapsed claim, coming while the new claim is in flight, neither
    reschedules nor closes the event: the new claim's answer decides."""
    await submitted(store, callback=True)
    await store.record_receipt("op1", "id0", S.DELIVERED, "DELIVRD", None, 102.0)
    [job] = await store.claim_callbacks(103.0, 30.0, 10)
    [again] = await store.claim_callbacks(133.0, 30.0, 10)
    late = CallbackAttempt(103.0, late_status, 30000.0, "late")
    await store.finish_callbacks([CallbackResult(job.id, job.claim, late, outcome, next_at)])
    [event] = await store.list_callbacks(None, failed_only=False, limit=10)
    assert (event.state, event.attempts) == (CallbackState.PENDING, 0)
    assert await store.claim_callbacks(150.0, 30.0, 10) == []  # still under the new claim
    delivered = CallbackAttempt(151.0, 204, 1.0, None)
    await store.finish_callbacks(
        [CallbackResult(job.id, again.claim, delivered, CallbackOutcome.DELIVERED, None)]
    )
    [event] = await store.list_callbacks(None, failed_only=False, limit=10)
    assert (event.state, event.attempts, event.delivered_at) == (CallbackState.DELIVERED, 1, 151.0)


async def test_expiry_and_replay_leave_a_claim_in_flight_alone(store: Store) -> None:
    """The horizon does not fail an event being sent; a replay makes its old claim's answer moot."""
    await submitted(store, callback=True)
    await store.record_receipt("op1", "id0", S.DELIVERED, "DELIVRD", None, 102.0)
    [job] = await store.claim_callbacks(103.0, 30.0, 10)
    assert await store.expire_callbacks(created_before=200.0, now=110.0) == 0
    ok = CallbackAttempt(111.0, 200, 1.0, None)
    await store.finish_callbacks(
        [CallbackResult(job.id, job.claim, ok, CallbackOutcome.DELIVERED, None)]
    )
    [event] = await store.list_callbacks(None, failed_only=False, limit=10)
    assert event.state is CallbackState.DELIVERED
    assert await store.replay_callback(job.id, 120.0)
    [replayed] = await store.claim_callbacks(120.0, 30.0, 10)
    assert await store.replay_callback(job.id, 121.0)  # replayed again while in flight
    await store.finish_callbacks(
        [CallbackResult(job.id, replayed.claim, ok, CallbackOutcome.DELIVERED, None)]
    )
    [event] = await store.list_callbacks(None, failed_only=False, limit=10)
    assert event.state is CallbackState.PENDING  # the second replay still has to go out
    [last] = await store.claim_callbacks(121.0, 30.0, 10)
    assert last.id == job.id


async def test_events_without_a_url_wait_until_one_is_set(store: Store) -> None:
    """Events of an account with no callback URL are not claimed; setting a URL makes them due."""
    await submitted(store, callback=True, url=None, recipients=("33600000001", "33600000002"))
    await store.record_receipt("op1", "id0", S.DELIVERED, "DELIVRD", None, 102.0)
    await store.record_receipt("op1", "id1", S.UNDELIVERED, "UNDELIV", None, 102.0)
    assert await store.claim_callbacks(103.0, 30.0, 10) == []
    assert await store.claim_callbacks(104.0, 30.0, 10) == []
    assert (await store.callback_backlog())[0] == 2
    await store.update_account(
        "alice", AccountChanges(callback_url="https://client.example/dlr"), 105.0
    )
    jobs = await store.claim_callbacks(105.0, 30.0, 10)
    assert sorted(j.stat for j in jobs) == ["DELIVRD", "UNDELIV"]
    assert {j.url for j in jobs} == {"https://client.example/dlr"}


async def test_backlog_gauges_leave_the_event_loop_free(store: Store) -> None:
    """Counting a backlog (pending callbacks, queued recipients) lets the loop run meanwhile:
    on a big backlog the count takes long, and the API shares that loop."""
    await submitted(store, callback=True, recipients=("33600000001", "33600000002"))
    await store.record_receipt("op1", "id0", S.DELIVERED, "DELIVRD", None, 102.0)
    ticks = 0
    counting = True

    async def ticker() -> None:
        nonlocal ticks
        while counting:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    ticks = 0
    backlog = await store.callback_backlog()
    during_backlog = ticks
    ticks = 0
    depth = await store.queue_depth()
    during_depth = ticks
    counting = False
    await task
    assert backlog == (1, 102.0) and depth == 0
    if isinstance(store, SqliteStore):  # the memory twin has nothing to count for long
        assert during_backlog > 0 and during_depth > 0
