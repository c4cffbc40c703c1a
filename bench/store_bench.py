#!/usr/bin/env python3
"""CPU of the SQLite store's delivery path per message, in process (run by hand, never in CI).

A fresh SQLite file (``synchronous=FULL``) migrated to the newest revision, one account,
then N messages of one recipient through the store's own methods, C at a time (as
concurrent requests and a window of submits would): accepts; claims in runs of 64,
each run marked submitted before the next claim (as the dispatcher does); receipts.
Prints the CPU of the process (event loop and writer thread together) per message for
each phase, and the commits. ``--full-indexes`` puts back the outbox indexes of before
migration 0016 (the claim's on every state, the receipts' on every row) to compare.

    .venv/bin/python bench/store_bench.py [-n 20000] [-c 50] [--full-indexes]

Nothing listens on the network; the temporary folder is removed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from passerelle.core.states import RecipientState
from passerelle.core.values import NewAccount, NewMessage
from passerelle.store.migrate import upgrade
from passerelle.store.sqlite import SqliteStore

FULL_INDEXES = (
    "DROP INDEX recipients_queued;"
    " CREATE INDEX recipients_due ON recipients (state, next_attempt_at);"
    " DROP INDEX recipients_smsc_id;"
    " CREATE INDEX recipients_smsc_id ON recipients (smsc_id);"
)


async def in_runs(fn: Callable[[Any], Awaitable[Any]], items: Sequence[Any], c: int) -> None:
    for i in range(0, len(items), c):
        await asyncio.gather(*(fn(x) for x in items[i : i + c]))


async def bench(n: int, c: int, full: bool) -> dict[str, float]:
    folder = tempfile.mkdtemp(prefix="passerelle-store-bench-")
    path = f"{folder}/bench.db"
    try:
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))  # as `serve` makes it
        upgrade(f"sqlite:///{path}")
        if full:
            conn = sqlite3.connect(path)
            conn.executescript(FULL_INDEXES)
            conn.close()
        store = SqliteStore(path)
        await store.open()
        account = await store.create_account(
            NewAccount("bench", "b@example.com", "h", "s", created_at=1.0, credits=10**9)
        )
        cpu: dict[str, float] = {}

        def message(i: int) -> NewMessage:
            return NewMessage(account.id, 1.0, "Shop", 5, "Benchmark message", False, False,
                              (f"336{i:08d}",), 1)  # fmt: skip

        started = time.process_time()
        await in_runs(lambda i: store.accept_message(message(i)), list(range(n)), c)
        cpu["accept"] = time.process_time() - started
        claimed: list[Any] = []
        cpu["claim"] = cpu["submit"] = 0.0
        while len(claimed) < n:
            started = time.process_time()
            due = await store.claim_due(2.0, 600.0, 64)
            cpu["claim"] += time.process_time() - started
            if not due:
                break
            started = time.process_time()
            await in_runs(lambda r: store.mark_submitted(r.id, "op1", f"id{r.id}", 3.0), due, c)
            cpu["submit"] += time.process_time() - started
            claimed += due
        started = time.process_time()
        await in_runs(
            lambda r: store.record_receipt(
                "op1", f"id{r.id}", RecipientState.DELIVERED, "DELIVRD", None, 4.0
            ),
            claimed,
            c,
        )
        cpu["receipt"] = time.process_time() - started
        commits = store._writer.batches
        await store.close()
        result = {phase: seconds / n * 1e6 for phase, seconds in cpu.items()}
        result["commits"] = commits
        return result
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", type=int, default=20000, help="messages")
    ap.add_argument("-c", type=int, default=50, help="concurrent calls")
    ap.add_argument("--full-indexes", action="store_true", help="the indexes before 0016")
    args = ap.parse_args()
    r = asyncio.run(bench(args.n, args.c, args.full_indexes))
    phases = "  ".join(f"{p} {r[p]:.1f}" for p in ("accept", "claim", "submit", "receipt"))
    total = sum(r[p] for p in ("accept", "claim", "submit", "receipt"))
    print(f"CPU us/msg: {phases}  total {total:.1f}  ({int(r['commits'])} commits)")


if __name__ == "__main__":
    main()
