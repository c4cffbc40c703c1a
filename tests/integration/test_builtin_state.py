"""The built-in simulator's state file: next to the database, private, saved while running."""

from __future__ import annotations

import asyncio
import stat
import time
from pathlib import Path

from prometheus_client import CollectorRegistry

from passerelle.core.message import SendRequest
from passerelle.delivery.dispatcher import Dispatcher
from passerelle.delivery.metrics import DeliveryMetrics
from passerelle.delivery.receipts import ReceiptHandler
from passerelle.delivery.supervisor import BUILTIN, Supervisor, builtin_state_file
from passerelle.service import Gateway
from passerelle.service_workers import Operations
from passerelle.simulator.server import pause_after
from passerelle.simulator.state import load_state
from tests.support import PASSWORD, make_settings, sqlite_store


def test_state_file_sits_next_to_the_sqlite_file() -> None:
    """``sqlite:///x/p.db`` keeps ``x/p.db.simulator.json``; no file without a file database."""
    assert builtin_state_file("sqlite:////var/lib/p.db") == Path("/var/lib/p.db.simulator.json")
    assert builtin_state_file("sqlite:///./p.db") == Path("./p.db.simulator.json")
    assert builtin_state_file("memory://") is None
    assert builtin_state_file("sqlite:///:memory:") is None


def test_slow_writes_are_spaced_out() -> None:
    """A periodic write waits its interval, or nine times what the last write took."""
    assert pause_after(0.1, 0.001) == 0.1
    assert pause_after(0.1, 0.05) == 0.45


async def test_builtin_simulator_saves_owed_receipts_while_running(tmp_path: Path) -> None:
    """Within a fraction of a second of the submit, the receipt the built-in simulator owes
    is in ``<db>.simulator.json`` (mode 0600), under the id the gateway recorded."""
    db = tmp_path / "p.db"
    store = await sqlite_store(db)
    settings = make_settings(database_url=f"sqlite:///{db}", simulator_delay_s=60.0)
    metrics = DeliveryMetrics(CollectorRegistry())
    service = Operations(store)
    receipts = ReceiptHandler(service, metrics)
    supervisor = Supervisor(service, settings, metrics, receipts)
    dispatcher = Dispatcher(service, supervisor, metrics, poll=0.02)
    gateway = Gateway(store, settings)
    state = tmp_path / "p.db.simulator.json"
    try:
        account = await gateway.create_account("alice", "a@x.fr", PASSWORD, credits=5)
        await supervisor.start()
        dispatcher.start()
        await gateway.send(account, SendRequest("33612345678", "S", "hi"))
        deadline = time.monotonic() + 5.0
        saved = None
        while time.monotonic() < deadline:
            saved = load_state(state)
            if saved is not None and saved.pending:
                break
            await asyncio.sleep(0.02)
        assert saved is not None and len(saved.pending) == 1
        assert stat.S_IMODE(state.stat().st_mode) == 0o600
        row = store._read().execute("SELECT connector, smsc_id FROM recipients").fetchone()
        assert row == (BUILTIN, str(saved.pending[0].number))
    finally:
        await dispatcher.stop(1)
        await supervisor.stop()
        await receipts.drain()
        gateway.close()
        await store.close()
    assert load_state(state) is not None
