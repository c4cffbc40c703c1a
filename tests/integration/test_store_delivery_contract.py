"""The delivery half of the store contract: outbox claims, and the changes of submits,
receipts and failures persisted as `core.transitions` gives them (the rules are tested
in tests/unit/test_transitions.py)."""

from __future__ import annotations

import asyncio

import pytest

from passerelle import exceptions as exc
from passerelle.core.routing import Route
from passerelle.core.states import RecipientState as S
from passerelle.core.values import Connector, NewAccount, NewMessage, ReceiptMatch
from passerelle.store.base import Store


async def queued(store: Store, recipients: tuple[str, ...] = ("33612345678",)) -> int:
    """An account with 10 credits and one accepted message; returns its account id."""
    account = await store.create_account(
        NewAccount("alice", "a@x.fr", "h", "s", created_at=100.0, credits=10)
    )
    await store.accept_message(
        NewMessage(account.id, 100.0, "Shop", 5, "hi", False, True, recipients, len(recipients))
    )
    return account.id


async def test_connectors_and_routes_crud(store: Store) -> None:
    """Connectors are replaced by name; routes list in the order they are tried."""
    await store.add_connector(Connector("op1", "127.0.0.1", 2775, "u", "p", created_at=1.0))
    await store.add_connector(Connector("op1", "127.0.0.1", 2776, "u", "p", window=5))
    assert [(c.name, c.port, c.window) for c in await store.list_connectors()] == [("op1", 2776, 5)]
    await store.add_connector(Connector("op2", "127.0.0.1", 2777, "u", "p"))
    default = await store.add_route(Route(100, "", ("op1",)), at=1.0)
    french = await store.add_route(Route(10, "33", ("op1", "op2")), at=1.0)
    assert [(r.id, r.route.prefix) for r in await store.list_routes()] == [
        (french, "33"),
        (default, ""),
    ]
    assert (await store.list_routes())[0].route.connectors == ("op1", "op2")
    assert await store.remove_route(french) and not await store.remove_route(french)
    assert await store.remove_connector("op2") == []
    assert [r.id for r in await store.remove_connector("op1", with_routes=True)] == [default]


async def test_route_to_unknown_connector_is_refused(store: Store) -> None:
    """add_route names the connectors that are not stored and stores nothing."""
    await store.add_connector(Connector("op1", "127.0.0.1", 2775, "u", "p"))
    with pytest.raises(exc.UnknownConnector) as refused:
        await store.add_route(Route(10, "33", ("op1", "ghost", "gone")), at=1.0)
    assert refused.value.names == ("ghost", "gone")
    assert "'ghost', 'gone'" in str(refused.value)
    assert await store.list_routes() == []


async def test_removing_a_routed_connector(store: Store) -> None:
    """A routed connector is kept (ConnectorInUse names routes) unless with_routes removes them."""
    for name in ("op1", "op2"):
        await store.add_connector(Connector(name, "127.0.0.1", 2775, "u", "p"))
    default = await store.add_route(Route(100, "", ("op1",)), at=1.0)
    both = await store.add_route(Route(10, "33", ("op2", "op1")), at=1.0)
    other = await store.add_route(Route(20, "44", ("op2",)), at=1.0)
    with pytest.raises(exc.ConnectorInUse) as refused:
        await store.remove_connector("op1")
    assert refused.value.routes == (f"{both} (33 → op2, op1)", f"{default} (default → op1)")
    assert [c.name for c in await store.list_connectors()] == ["op1", "op2"]
    removed = await store.remove_connector("op1", with_routes=True)
    assert [r.id for r in removed] == [both, default]
    assert [r.id for r in await store.list_routes()] == [other]
    assert [c.name for c in await store.list_connectors()] == ["op2"]
    with pytest.raises(exc.NotFound):
        await store.remove_connector("op1")


async def test_concurrent_route_and_removal_never_leave_a_dangling_route(store: Store) -> None:
    """A route added while its connector is removed: one of the two is refused, never neither."""
    for round_ in range(10):
        names = [f"op{round_}x{i}" for i in range(5)]
        for name in names:
            await store.add_connector(Connector(name, "127.0.0.1", 2775, "u", "p"))
        results = await asyncio.gather(
            *(store.add_route(Route(10, "33", (name,)), at=1.0) for name in names),
            *(store.remove_connector(name) for name in names),
            return_exceptions=True,
        )
        for added, removed in zip(results[:5], results[5:], strict=True):
            if isinstance(added, int):
                assert isinstance(removed, exc.ConnectorInUse)
            else:
                assert isinstance(added, exc.UnknownConnector) and removed == []
    stored = {c.name for c in await store.list_connectors()}
    assert all(set(row.route.connectors) <= stored for row in await store.list_routes())


async def test_identical_routes_are_listed_each(store: Store) -> None:
    """Two rules with the same position, prefix and connectors are two rows (by id)."""
    await store.add_connector(Connector("op1", "127.0.0.1", 2775, "u", "p"))
    first = await store.add_route(Route(10, "33", ("op1",)), at=1.0)
    second = await store.add_route(Route(10, "33", ("op1",)), at=2.0)
    assert [r.id for r in await store.list_routes()] == [first, second]


async def test_release_not_before_defers_without_an_attempt(store: Store) -> None:
    """A claim given back with `not_before` is not due before then, and no attempt counts."""
    await queued(store, ("33612345671", "33612345672"))
    first, second = await store.claim_due(100.0, 30.0, 10)
    await store.release([first.id], not_before=105.0)
    await store.release([second.id])
    assert [d.id for d in await store.claim_due(101.0, 30.0, 10)] == [second.id]
    [again] = await store.claim_due(105.0, 30.0, 10)
    assert (again.id, again.attempts, again.reclaimed) == (first.id, 0, False)


async def test_count_queued_by_prefixes(store: Store) -> None:
    """count_queued counts queued recipients matching one prefix and none of the excluded."""
    await queued(store, ("33612345671", "33712345672", "447700900123", "33612345673"))
    claimed = {d.dest: d.id for d in await store.claim_due(100.0, 30.0, 10)}
    await store.mark_failed(claimed.pop("33612345671"), "test", 101.0, refund=False)
    await store.release(list(claimed.values()))
    assert await store.count_queued([""], []) == 3
    assert await store.count_queued(["33"], []) == 2
    assert await store.count_queued(["33", "44"], ["336"]) == 2
    assert await store.count_queued([""], ["33", "44"]) == 0
    assert await store.count_queued([], []) == 0
    assert await store.count_queued(["33"], [""]) == 0


async def test_claim_lease_and_reclaim(store: Store) -> None:
    """A claimed recipient is invisible until its lease ends; a reclaim is flagged."""
    await queued(store)
    [due] = await store.claim_due(now=100.0, lease=30.0, limit=10)
    assert (due.dest, due.sender, due.text, due.attempts, due.reclaimed) == (
        "33612345678",
        "Shop",
        "hi",
        0,
        False,
    )
    assert await store.claim_due(now=120.0, lease=30.0, limit=10) == []
    [again] = await store.claim_due(now=131.0, lease=30.0, limit=10)
    assert again.id == due.id and again.reclaimed
    assert await store.claim_due(now=99.0, lease=30.0, limit=10) == []


async def test_submit_then_receipt_delivers(store: Store) -> None:
    """A submit and a final receipt are stored; an event on a recipient stored as final
    is given its stored state, so it answers IGNORED and writes nothing."""
    account_id = await queued(store)
    [due] = await store.claim_due(100.0, 30.0, 10)
    await store.mark_submitted(due.id, "op1", "abc", now=101.0)
    assert await store.queue_depth() == 0
    states = await store.message_states(account_id, due.msgid)
    assert states[0].state is S.SUBMITTED
    assert await store.record_receipt("op1", "abc", S.DELIVERED, "DELIVRD", "000", 102.0) is (
        ReceiptMatch.APPLIED
    )
    assert (await store.message_states(account_id, due.msgid))[0].state is S.DELIVERED
    assert await store.record_receipt("op1", "abc", S.UNDELIVERED, "UNDELIV", "1", 103.0) is (
        ReceiptMatch.IGNORED
    )
    assert (await store.message_states(account_id, due.msgid))[0].state is S.DELIVERED


async def test_receipt_before_submit_resp_is_kept(store: Store) -> None:
    """A receipt for an unknown id waits and applies when the submit is recorded."""
    account_id = await queued(store)
    [due] = await store.claim_due(100.0, 30.0, 10)
    assert await store.record_receipt("op1", "early", S.DELIVERED, "DELIVRD", None, 100.5) is (
        ReceiptMatch.PENDING
    )
    await store.mark_submitted(due.id, "op1", "early", now=101.0)
    assert (await store.message_states(account_id, due.msgid))[0].state is S.DELIVERED


async def test_same_id_on_another_connector_does_not_match(store: Store) -> None:
    """Receipt ids are matched per connector."""
    account_id = await queued(store)
    [due] = await store.claim_due(100.0, 30.0, 10)
    await store.mark_submitted(due.id, "op1", "42", now=101.0)
    assert await store.record_receipt("op2", "42", S.DELIVERED, "DELIVRD", None, 102.0) is (
        ReceiptMatch.PENDING
    )
    assert (await store.message_states(account_id, due.msgid))[0].state is S.SUBMITTED


async def test_intermediate_receipt_keeps_in_flight(store: Store) -> None:
    """A note (ENROUTE) stores the operator's stat and nothing else."""
    account_id = await queued(store)
    [due] = await store.claim_due(100.0, 30.0, 10)
    await store.mark_submitted(due.id, "op1", "x", now=101.0)
    await store.record_receipt("op1", "x", S.SUBMITTED, "ENROUTE", None, 102.0)
    [state] = await store.message_states(account_id, due.msgid)
    assert (state.state, state.stat) == (S.SUBMITTED, "ENROUTE")


async def test_retry_requeues_for_later(store: Store) -> None:
    """A temporary failure re-queues for next_at, with the attempt counted."""
    await queued(store)
    [due] = await store.claim_due(100.0, 30.0, 10)
    await store.mark_retry(due.id, next_at=150.0, err="0x58")
    assert await store.claim_due(120.0, 30.0, 10) == []
    [again] = await store.claim_due(150.0, 30.0, 10)
    assert (again.attempts, again.reclaimed) == (1, False)


async def test_failure_persists_its_refund(store: Store) -> None:
    """A failure's refund is stored as the change gives it (the recipient's share read
    from the message): credits and one ledger row in the same write; a change without a
    refund moves no credit."""
    account_id = await queued(store, ("33612345678", "33612345679"))
    due = await store.claim_due(100.0, 30.0, 10)
    assert await store.balance(account_id) == 8
    await store.mark_failed(due[0].id, "no route", 101.0, refund=True)
    assert await store.balance(account_id) == 9 == await store.ledger_sum(account_id)
    refund = (await store.ledger(account_id))[0]
    assert (refund.kind, refund.delta, refund.msgid, refund.at, refund.actor, refund.reason) == (
        "refund",
        1,
        due[0].msgid,
        101.0,
        "dispatcher",
        "not delivered to any operator: no route",
    )
    await store.mark_failed(due[1].id, "rejected", 103.0, refund=False)
    assert await store.balance(account_id) == 9
    counts = await store.delivery_counts()
    assert counts == {S.FAILED: 2}
    [state, _] = await store.message_states(account_id, due[0].msgid)
    assert (state.state, state.updated_at) == (S.FAILED, 101.0)


@pytest.mark.parametrize("limit", [1, 3])
async def test_claim_respects_limit_and_release(store: Store, limit: int) -> None:
    """At most `limit` are claimed; released claims are due again at once, not reclaims."""
    await queued(store, ("33612345671", "33612345672", "33612345673"))
    first = await store.claim_due(100.0, 30.0, limit)
    assert len(first) == limit
    await store.release([d.id for d in first])
    again = await store.claim_due(100.0, 30.0, 10)
    assert len(again) == 3 and not any(d.reclaimed for d in again)


async def test_an_ignored_submit_leaves_a_kept_receipt_kept(store: Store) -> None:
    """A submit recorded for a recipient no longer queued writes nothing and does not use
    up the receipt kept for its id: the recipient recorded with that id next gets it."""
    account_id = await queued(store, ("33612345671", "33612345672"))
    first, second = await store.claim_due(100.0, 30.0, 10)
    await store.mark_submitted(first.id, "op1", "a", now=101.0)
    await store.record_receipt("op1", "b", S.DELIVERED, "DELIVRD", None, 101.5)
    await store.mark_submitted(first.id, "op1", "b", now=102.0)
    assert await store.record_receipt("op1", "a", S.SUBMITTED, "ENROUTE", None, 103.0) is (
        ReceiptMatch.APPLIED
    )
    await store.mark_submitted(second.id, "op1", "b", now=104.0)
    states = {s.dest: s.state for s in await store.message_states(account_id, first.msgid)}
    assert states == {"33612345671": S.SUBMITTED, "33612345672": S.DELIVERED}


async def test_a_run_of_submits_with_one_kept_receipt(store: Store) -> None:
    """Submits recorded together: the one whose receipt was kept gets it, the others
    are stored as submitted."""
    account_id = await queued(store, ("33612345671", "33612345672", "33612345673"))
    due = await store.claim_due(100.0, 30.0, 10)
    await store.record_receipt("op1", "id1", S.DELIVERED, "DELIVRD", None, 100.5)
    await asyncio.gather(
        *(store.mark_submitted(d.id, "op1", f"id{i}", 101.0) for i, d in enumerate(due))
    )
    states = sorted(s.state for s in await store.message_states(account_id, due[0].msgid))
    assert states == [S.SUBMITTED, S.SUBMITTED, S.DELIVERED]


async def test_a_run_of_receipts_each_matched_as_alone(store: Store) -> None:
    """Receipts recorded together: each matches (or is kept) as it would alone, in
    arrival order, one for another connector's id is kept, and a second receipt for a
    recipient already final in the same run is ignored."""
    account_id = await queued(store, ("33612345671", "33612345672"))
    first, second = await store.claim_due(100.0, 30.0, 10)
    await store.mark_submitted(first.id, "op1", "a", now=101.0)
    await store.mark_submitted(second.id, "op1", "b", now=101.0)
    matches = await asyncio.gather(
        store.record_receipt("op1", "a", S.SUBMITTED, "ENROUTE", None, 102.0),
        store.record_receipt("op1", "a", S.DELIVERED, "DELIVRD", None, 102.0),
        store.record_receipt("op1", "a", S.UNDELIVERED, "UNDELIV", "001", 102.0),
        store.record_receipt("op2", "b", S.DELIVERED, "DELIVRD", None, 102.0),
        store.record_receipt("op1", "zz", S.DELIVERED, "DELIVRD", None, 102.0),
    )
    assert matches == [
        ReceiptMatch.APPLIED,
        ReceiptMatch.APPLIED,
        ReceiptMatch.IGNORED,
        ReceiptMatch.PENDING,
        ReceiptMatch.PENDING,
    ]
    states = {s.dest: s.state for s in await store.message_states(account_id, first.msgid)}
    assert states == {"33612345671": S.DELIVERED, "33612345672": S.SUBMITTED}


async def test_two_notes_for_one_recipient_in_a_run_keep_the_later(store: Store) -> None:
    """Two intermediate receipts for one recipient recorded together: the later one's
    stat is kept (a run writes a recipient once per statement, in arrival order)."""
    account_id = await queued(store)
    (due,) = await store.claim_due(100.0, 30.0, 10)
    await store.mark_submitted(due.id, "op1", "a", now=101.0)
    await asyncio.gather(
        store.record_receipt("op1", "a", S.SUBMITTED, "ENROUTE", None, 102.0),
        store.record_receipt("op1", "a", S.SUBMITTED, "ACCEPTD", None, 102.5),
    )
    (status,) = await store.message_states(account_id, due.msgid)
    assert (status.state, status.stat) == (S.SUBMITTED, "ACCEPTD")


async def test_an_accepted_message_wakes_the_waiting_worker(store: Store) -> None:
    """wait_for_work returns True soon after an accept commits, False after its time."""
    account = await store.create_account(NewAccount("waker", "w@x.fr", "h", "s", 1.0, credits=10))
    assert await store.wait_for_work(0.05) is False
    waiting = asyncio.ensure_future(store.wait_for_work(10.0))
    await asyncio.sleep(0.05)
    await store.accept_message(
        NewMessage(account.id, 2.0, "S", 5, "t", False, False, ("33612345678",), 1)
    )
    assert await asyncio.wait_for(waiting, 2.0) is True


async def test_a_lapsed_claim_cannot_undo_the_next_one(store: Store) -> None:
    """A worker whose lease ended: its late release, retry or failure changes nothing, and
    the newer claim still holds the recipient (nobody else can claim it)."""
    account_id = await queued(store)
    (old,) = await store.claim_due(now=200.0, lease=10.0, limit=5)
    (new,) = await store.claim_due(now=211.0, lease=60.0, limit=5)  # the old lease ended
    assert new.id == old.id and new.claim != old.claim
    await store.release([old.id], claim=old.claim)
    await store.mark_retry(old.id, next_at=212.0, err="late", claim=old.claim)
    await store.mark_failed(old.id, "late", 212.0, refund=True, claim=old.claim)
    assert await store.claim_due(now=213.0, lease=60.0, limit=5) == []
    assert await store.balance(account_id) == 9  # no refund by the stale worker
    await store.mark_retry(new.id, next_at=300.0, err="throttled", claim=new.claim)
    (again,) = await store.claim_due(now=300.0, lease=60.0, limit=5)
    assert again.id == new.id and again.attempts == 1
