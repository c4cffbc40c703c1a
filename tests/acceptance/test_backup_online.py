"""`passerelle db backup` while a real `passerelle serve` accepts and delivers messages:
the backup is one consistent state, and served again it answers as that state says."""

from __future__ import annotations

import stat
import threading
import time
from urllib.parse import quote

from passerelle.core.states import RecipientState, statut_of_message
from tests.acceptance.conftest import MICHELLE, Checks, Server, Servers, run_cli

SENDERS = 4
DEST = "33612345678,33612345679"


def keep_sending(
    server: Server, check: type[Checks], sent: list[int], stop: threading.Event
) -> None:
    """Send two-recipient messages until `stop`, appending each msgid to `sent`."""
    login, password = MICHELLE
    target = (
        f"/client/api?action=envoi&login={login}&apipasse={password}"
        f"&msg=Bonjour&dest={quote(DEST)}&origine=Demo"
    )
    with server.client() as client:
        while not stop.is_set():
            answer = check.text(server.get(client, target))
            assert check.SENT.fullmatch(answer), answer
            sent.append(int(answer.split("|")[0]))


def wait_for(sent: list[int], count: int, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while len(sent) < count:
        assert time.monotonic() < deadline, f"only {len(sent)} messages sent"
        time.sleep(0.01)


def test_backup_while_serving_is_consistent_and_restores(
    servers: Servers, check: type[Checks]
) -> None:
    """Taken while 4 clients send and the simulator delivers: integrity ok, every balance
    equal to its ledger, every message whole with its debit, a state between before and
    after; served from the backup, `solde` and `statut` answer what the backup holds."""
    live = servers.new("live")
    live.create_account(*MICHELLE, credits=1_000_000)
    live.start()
    restored = servers.new("restored", PASSERELLE_DELIVERY="false")  # states stay as saved
    sent: list[int] = []
    stop = threading.Event()
    senders = [
        threading.Thread(target=keep_sending, args=(live, check, sent, stop))
        for _ in range(SENDERS)
    ]
    for thread in senders:
        thread.start()
    try:
        wait_for(sent, 200)
        before = len(sent)
        done = run_cli(live.env, "db", "backup", str(restored.db_path), cwd=live.folder)
        after = len(sent)
        wait_for(sent, after + 200)  # the gateway went on accepting
    finally:
        stop.set()
        for thread in senders:
            thread.join(30)
    size = restored.db_path.stat().st_size
    assert done.stdout.startswith(f"backup written to {restored.db_path}: ")
    assert f"{size:,} bytes".replace(",", " ") in done.stdout
    assert stat.S_IMODE(restored.db_path.stat().st_mode) == 0o600

    with restored.db() as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        credits, ledger = conn.execute(
            "SELECT credits, (SELECT sum(delta) FROM ledger) FROM accounts"
        ).fetchone()
        assert credits == ledger
        messages = dict(conn.execute("SELECT msgid, recipient_count FROM messages"))
        counted = dict(conn.execute("SELECT msgid, count(*) FROM recipients GROUP BY msgid"))
        assert counted == messages and set(messages.values()) == {2}
        debits = {m for (m,) in conn.execute("SELECT msgid FROM ledger WHERE kind = 'debit'")}
        assert debits == set(messages)
        assert credits == 1_000_000 - 2 * len(messages)
        assert before <= len(messages) < len(sent)  # some sent after it are not in it
        assert set(messages) <= set(sent)
        states = dict.fromkeys(messages, ())
        for msgid, state in conn.execute("SELECT msgid, state FROM recipients"):
            states[msgid] += (RecipientState(state),)

    restored.start()
    login, password = MICHELLE
    with restored.client() as client:
        assert restored.solde(client, login, password) == credits
        for msgid in list(states)[:: max(1, len(states) // 100)]:
            answer = check.text(
                restored.get(
                    client,
                    f"/client/api?action=statut&msgid={msgid}&login={login}&apipasse={password}",
                )
            )
            assert answer.startswith(f"{statut_of_message(states[msgid])}|"), (msgid, answer)
        missing = next(m for m in reversed(sent) if m not in states)
        answer = check.text(
            restored.get(
                client,
                f"/client/api?action=statut&msgid={missing}&login={login}&apipasse={password}",
            )
        )
        assert answer.startswith("10|"), answer  # not in the backup: unknown there
