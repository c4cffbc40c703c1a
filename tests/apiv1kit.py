"""Helpers of the JSON API tests: the full application on a store (memory, or a real
SQLite file: `seed_sqlite`) with two accounts, their API keys, messages and a callback
event."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from passerelle.api.app import App
from passerelle.core.states import RecipientState
from passerelle.core.values import NewAccount, NewMessage
from passerelle.service_keys import Keys
from passerelle.store.base import Store
from passerelle.store.memory import MemoryStore
from passerelle.wiring import create_app
from tests.support import make_settings, sqlite_store

T0 = 1_700_000_000.0


@dataclasses.dataclass
class World:
    """The application, its store, two accounts' keys and alice's msgids (oldest first)."""

    app: App
    store: Store
    alice: str
    bob: str
    msgids: list[int]
    bob_msgid: int
    event_id: int


async def seed(store: Store | None = None, **settings: object) -> World:
    """Alice: 100 credits, three messages (the second delivered with a callback event);
    bob: one message. Both have an API key. On `store` (opened; a memory store by
    default), with these settings."""
    if store is None:
        store = MemoryStore()
        await store.open()
    app = create_app(make_settings(**settings), store)
    ids = {}
    for login in ("alice", "bob"):
        made = await store.create_account(
            NewAccount(login, f"{login}@example.com", "h", "s", T0, credits=100)
        )
        ids[login] = made.id
    keys = Keys(app.gateway)
    alice, bob = (await keys.create("alice", "test")).key, (await keys.create("bob")).key
    msgids = []
    for i, (dests, callback) in enumerate(
        [(("33611111111", "33622222222"), False), (("33633333333",), True), (("4477",), False)]
    ):
        message = NewMessage(ids["alice"], T0 + 100 * i, "Shop", 5, f"text {i}", False, callback,
                             dests, 1)  # fmt: skip
        msgids.append(await store.accept_message(message))
    bob_msgid = await store.accept_message(
        NewMessage(ids["bob"], T0 + 50, "Bob", 5, "hello", False, True, ("33699999999",), 1)
    )
    due = {(d.msgid, d.dest): d for d in await store.claim_due(T0 + 500, 30.0, 10)}
    sent = due.pop((msgids[1], "33633333333"))
    await store.mark_submitted(sent.id, "op1", "smsc-1", T0 + 501)
    await store.record_receipt(
        "op1", "smsc-1", RecipientState.DELIVERED, "DELIVRD", "000", T0 + 502
    )
    bob_sent = due.pop((bob_msgid, "33699999999"))
    await store.mark_submitted(bob_sent.id, "op1", "smsc-2", T0 + 501)
    await store.record_receipt(
        "op1", "smsc-2", RecipientState.DELIVERED, "DELIVRD", "000", T0 + 503
    )
    await store.release([d.id for d in due.values()])
    [event] = await store.list_callbacks("alice", False, 10)
    return World(app, store, alice, bob, msgids, bob_msgid, event.id)


async def seed_sqlite(path: Path, **settings: object) -> World:
    """`seed` on a migrated SQLite database at `path` (close `world.store` after)."""
    return await seed(await sqlite_store(path), **settings)
