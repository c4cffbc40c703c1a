"""The reads of the console's pages, on every backend: accounts by search, an account's
message history with its filters, the states of its messages, one callback event,
traffic by minute. No read ever shows another account's messages."""

from __future__ import annotations

from passerelle.core.console import MessageQuery, TrafficRow
from passerelle.core.states import RecipientState as S
from passerelle.core.values import CallbackState, NewAccount, NewMessage
from passerelle.store.base import Store

T0 = 1_200_000.0  # a multiple of 60


async def account(store: Store, login: str, credits: int = 100) -> int:
    made = await store.create_account(
        NewAccount(login, f"{login}@example.com", "h", "s", T0, credits=credits)
    )
    return made.id


async def send(
    store: Store, account_id: int, at: float, dests: tuple[str, ...], callback: bool = False
) -> int:
    message = NewMessage(account_id, at, "Shop", 5, f"text {at}", False, callback, dests, 1)
    return await store.accept_message(message)


async def history(store: Store) -> tuple[int, int, list[int]]:
    """Alice's messages at T0 (two recipients), T0+70 and T0+130; the first recipient is
    submitted, the T0+70 one failed; bob's message at T0+10. Alice's msgids, oldest first."""
    alice, bob = await account(store, "alice"), await account(store, "bob")
    first = await send(store, alice, T0, ("33611111111", "33622222222"))
    second = await send(store, alice, T0 + 70, ("33633333333",))
    third = await send(store, alice, T0 + 130, ("33611111111",))
    await send(store, bob, T0 + 10, ("33611111111",))
    due = {(d.msgid, d.dest): d for d in await store.claim_due(T0 + 200, 30.0, 10)}
    sent, failed = due.pop((first, "33611111111")), due.pop((second, "33633333333"))
    await store.mark_submitted(sent.id, "op1", "smsc-1", T0 + 201)
    await store.mark_failed(failed.id, "no route", T0 + 201, refund=False)
    rest = [d.id for d in due.values()]
    await store.release(rest)
    return alice, bob, [first, second, third]


async def msgids(store: Store, account_id: int, query: MessageQuery) -> list[int]:
    return [m.msgid for m in await store.search_messages(account_id, query)]


async def test_list_accounts_searches_login_and_email_without_case(store: Store) -> None:
    """list_accounts matches login or e-mail without case, by login, with paging."""
    for login, email in (("zed", "z@shop.fr"), ("alice", "a@bank.fr"), ("bob", "b@SHOP.fr")):
        await store.create_account(NewAccount(login, email, "h", "s", T0))
    assert [a.login for a in await store.list_accounts("", 10, 0)] == ["alice", "bob", "zed"]
    assert [a.login for a in await store.list_accounts("Shop", 10, 0)] == ["bob", "zed"]
    assert [a.login for a in await store.list_accounts("ALI", 10, 0)] == ["alice"]
    assert [a.login for a in await store.list_accounts("", 1, 1)] == ["bob"]
    assert [a.login for a in await store.list_accounts("", 10, 3)] == []
    assert await store.list_accounts("%", 10, 0) == []  # a character, not a wildcard


async def test_search_messages_newest_first_with_recipients(store: Store) -> None:
    """Unfiltered history: every message of the account, newest first, with recipients."""
    alice, _, (first, second, third) = await history(store)
    found = await store.search_messages(alice, MessageQuery())
    assert [m.msgid for m in found] == [third, second, first]
    oldest = found[2]
    assert (oldest.created_at, oldest.sender, oldest.text, oldest.cost) == (
        T0,
        "Shop",
        f"text {T0}",
        1,
    )
    assert [(r.dest, r.state) for r in oldest.recipients] == [
        ("33611111111", S.SUBMITTED),
        ("33622222222", S.QUEUED),
    ]
    assert found == await store.recent_messages(alice, 10)


async def test_search_messages_filters_by_time_state_and_number(store: Store) -> None:
    """since/until, state, part of a number, offset and limit select the messages."""
    alice, _, (first, second, third) = await history(store)
    assert await msgids(store, alice, MessageQuery(since=T0 + 70)) == [third, second]
    assert await msgids(store, alice, MessageQuery(until=T0 + 70)) == [first]
    assert await msgids(store, alice, MessageQuery(since=T0 + 1, until=T0 + 131)) == [third, second]
    assert await msgids(store, alice, MessageQuery(state=S.FAILED)) == [second]
    assert await msgids(store, alice, MessageQuery(state=S.QUEUED)) == [third, first]
    assert await msgids(store, alice, MessageQuery(state=S.DELIVERED)) == []
    assert await msgids(store, alice, MessageQuery(dest="1111")) == [third, first]
    assert await msgids(store, alice, MessageQuery(dest="22222")) == [first]
    # state and number must hold for one same recipient
    assert await msgids(store, alice, MessageQuery(state=S.SUBMITTED, dest="1111")) == [first]
    assert await msgids(store, alice, MessageQuery(state=S.SUBMITTED, dest="2222")) == []
    assert await msgids(store, alice, MessageQuery(limit=2)) == [third, second]
    assert await msgids(store, alice, MessageQuery(limit=2, offset=2)) == [first]
    assert await msgids(store, alice, MessageQuery(offset=3)) == []


async def test_search_messages_never_shows_another_accounts(store: Store) -> None:
    """An account's history holds only its own messages, whatever the filters."""
    alice, bob, mine = await history(store)
    [theirs] = await msgids(store, bob, MessageQuery())
    assert theirs not in mine
    assert await msgids(store, bob, MessageQuery(dest="1111")) == [theirs]
    assert await msgids(store, bob, MessageQuery(since=T0 + 100)) == []
    assert theirs not in await msgids(store, alice, MessageQuery(dest="1111"))
    assert await msgids(store, await account(store, "carol"), MessageQuery()) == []


async def test_states_of_answers_only_the_accounts_msgids(store: Store) -> None:
    """states_of answers the account's msgids only; others' and unknown ones are absent."""
    alice, bob, (first, second, _) = await history(store)
    [theirs] = await msgids(store, bob, MessageQuery())
    states = await store.states_of(alice, [first, second, theirs, 999, first])
    assert set(states) == {first, second}
    assert [(r.dest, r.state) for r in states[first]] == [
        ("33611111111", S.SUBMITTED),
        ("33622222222", S.QUEUED),
    ]
    assert [(r.dest, r.state) for r in states[second]] == [("33633333333", S.FAILED)]
    assert states[first] == tuple(await store.message_states(alice, first))
    assert await store.states_of(bob, [first, second]) == {}
    assert await store.states_of(alice, []) == {}


async def test_find_callback(store: Store) -> None:
    """find_callback gives the event with this id (as list_callbacks shows it), or None."""
    alice = await account(store, "alice")
    msgid = await send(store, alice, T0, ("33611111111",), callback=True)
    [due] = await store.claim_due(T0 + 1, 30.0, 10)
    await store.mark_submitted(due.id, "op1", "smsc-1", T0 + 2)
    await store.record_receipt("op1", "smsc-1", S.DELIVERED, "DELIVRD", "000", T0 + 3)
    [listed] = await store.list_callbacks(None, False, 10)
    event = await store.find_callback(listed.id)
    assert event == listed
    assert event is not None and (event.login, event.msgid, event.dest) == (
        "alice",
        msgid,
        "33611111111",
    )
    assert event.state is CallbackState.PENDING and event.stat == "DELIVRD"
    assert await store.find_callback(listed.id + 1000) is None


async def test_traffic_counts_recipients_by_minute_and_state(store: Store) -> None:
    """traffic counts all recipients by creation minute (from `since`) and state."""
    await history(store)
    assert await store.traffic(T0) == [
        TrafficRow(T0, S.QUEUED, 2),  # alice's second recipient, bob's
        TrafficRow(T0, S.SUBMITTED, 1),
        TrafficRow(T0 + 60, S.FAILED, 1),
        TrafficRow(T0 + 120, S.QUEUED, 1),
    ]
    assert await store.traffic(T0 + 60) == [
        TrafficRow(T0 + 60, S.FAILED, 1),
        TrafficRow(T0 + 120, S.QUEUED, 1),
    ]
    assert await store.traffic(T0 + 131) == []
    [row, *_] = await store.traffic(T0)
    assert isinstance(row.minute, float) and isinstance(row.count, int)


async def test_find_message_is_the_accounts_only(store: Store) -> None:
    """find_message gives the account's message with its recipients, None for another
    account's msgid or an unknown one."""
    alice, bob, (first, _, _) = await history(store)
    found = await store.find_message(alice, first)
    assert found is not None
    assert (found.msgid, found.created_at, found.text) == (first, T0, f"text {T0}")
    assert [r.dest for r in found.recipients] == ["33611111111", "33622222222"]
    assert await store.find_message(bob, first) is None
    assert await store.find_message(alice, 123) is None


async def test_reads_give_the_first_recipients_by_number(store: Store) -> None:
    """A large message is read with only its first recipients by number: `recipients` of
    a history query, `per_message` of states_of and find_message."""
    alice = await account(store, "alice", credits=1000)
    dests = tuple(f"336{n:08d}" for n in range(600, 0, -1))  # stored in reverse order
    msgid = await store.accept_message(NewMessage(alice, T0, "S", 5, "t", False, False, dests, 600))
    ordered = sorted(dests)
    [row] = await store.search_messages(alice, MessageQuery(recipients=3))
    assert [r.dest for r in row.recipients] == ordered[:3]
    states = await store.states_of(alice, [msgid], per_message=5)
    assert [r.dest for r in states[msgid]] == ordered[:5]
    assert len((await store.states_of(alice, [msgid]))[msgid]) == 500
    found = await store.find_message(alice, msgid, per_message=7)
    assert found is not None and [r.dest for r in found.recipients] == ordered[:7]
