"""Workers and the service read time on the database's clock (the store's), so that
processes sharing one database agree on leases and due times."""

from __future__ import annotations

from passerelle.store.memory import MemoryStore
from passerelle.wiring import build
from tests.support import make_settings


async def test_wired_workers_and_service_read_the_store_clock() -> None:
    """Every part `build` wires reads the store's clock, not the process's."""
    store = MemoryStore(now_source=lambda: 1234.5)
    parts = build(make_settings(), store)
    clocks = {
        "dispatcher": parts.dispatcher.clock(),
        "deadline": parts.deadline.clock(),
        "receipts": parts.receipts.clock(),
        "callbacks": parts.callbacks.clock(),
        "retention": parts.retention.clock(),
        "operations": parts.operations.clock(),
    }
    assert clocks == dict.fromkeys(clocks, 1234.5)
    account = await parts.gateway.create_account("alice", "a@example.com", "secret-pass-1")
    assert account.created_at == 1234.5
    parts.gateway.close()
