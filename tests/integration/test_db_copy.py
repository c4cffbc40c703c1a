"""`passerelle db copy` on real databases: SQLite files and PostgreSQL databases of their
own on the test server (`PASSERELLE_TEST_POSTGRES_URL`).

The source is filled through the real CLI and services: accounts (credits, debits,
a suspended one with a rate limit), connectors and routes, messages whose recipients
are queued, submitted, delivered, undelivered and failed (refunded), a receipt that
came before its submit, callback events with attempts, failed-login counters and a
known address, a connector lease, e-mails, and the console's rows (a one-time link, a
session, an operator, contacts in a group), API keys (one used, one revoked), and
Idempotency-Keys (one answered, one pending).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Boolean

from passerelle import exceptions as exc
from passerelle.cli import main
from passerelle.core.console import LinkPurpose, NewContact, NewLink, NewOperator, NewSession, Role
from passerelle.core.idempotency import request_digest
from passerelle.core.message import SendRequest
from passerelle.core.states import RecipientState as S
from passerelle.core.values import CallbackAttempt, CallbackOutcome, CallbackResult, NewMail
from passerelle.service import Gateway
from passerelle.service_keys import Keys
from passerelle.service_workers import Operations
from passerelle.store import copy, migrate
from passerelle.store.base import Store
from passerelle.store.copy_ends import select_all
from passerelle.store.schema import metadata
from tests import pgserver
from tests.support import make_settings, sqlite_store

ACME = ("acme", "acme-pass-1")
Rows = dict[str, list[tuple[Any, ...]]]


# --- PostgreSQL: one new database per use, dropped at the end of the session ----------


@pytest.fixture
def new_pg(postgres_admin_url: str) -> Callable[[], str]:
    """Makes empty PostgreSQL databases (their URLs) on the run's server (`tests.pgserver`:
    dropped at the end of the session)."""
    return pgserver.new_database


# --- the source, filled through the CLI and the services ------------------------------


def cli(database_url: str, *args: str) -> Result:
    """`passerelle ARGS` in-process on `database_url`."""
    env = {"PASSERELLE_DATABASE_URL": database_url, "PASSERELLE_CALLBACK_ALLOW_PRIVATE": "true"}
    return CliRunner().invoke(main, list(args), env=env)


def ok(result: Result) -> Result:
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result


def fill(path: Path) -> None:
    """A source database with rows in every table (`connector_owners` included)."""
    url = f"sqlite:///{path}"
    login, password = ACME
    ok(cli(url, "account", "create", login, "--email", "ops@acme.fr", "--api-password",
           password, "--credits", "1000", "--callback-url", "http://127.0.0.1:9/dlr"))  # fmt: skip
    ok(cli(url, "account", "credit", login, "-7", "--reason", "correction"))
    ok(cli(url, "account", "create", "zoe", "--email", "z@x.fr", "--api-password",
           "zoe-pass-12", "--credits", "50", "--rate-limit", "0.1"))  # fmt: skip
    ok(cli(url, "account", "set", "zoe", "--suspended"))
    ok(cli(url, "connector", "add", "op1", "--host", "127.0.0.1", "--port", "2775",
           "--system-id", "gw", "--password", "pw"))  # fmt: skip
    ok(cli(url, "connector", "add", "op2", "--host", "127.0.0.1", "--port", "2776",
           "--system-id", "gw", "--password", "pw", "--throughput", "0.30000000000000004",
           "--disabled"))  # fmt: skip
    ok(cli(url, "route", "add", "336", "op1,op2"))
    ok(cli(url, "route", "add", "default", "op1"))
    asyncio.run(_traffic(path))


async def _traffic(path: Path) -> None:
    store = await sqlite_store(path)
    gateway = Gateway(store, make_settings(database_url=f"sqlite:///{path}"))
    ops = Operations(store)
    try:
        login, password = ACME
        account = await gateway.authenticate(login, password, "192.0.2.1")  # known address
        with pytest.raises(exc.BadCredentials):
            await gateway.authenticate(login, "wrong-password", "198.51.100.7")  # counted
        dests = "33612345601,33612345602,33612345603,33612345604,33612345605"
        for callback in ("1", "0"):
            await gateway.send(
                account,
                SendRequest(dest=dests, sender="Acme", text="Bonjour à vous", callback=callback),
            )
        now = ops.clock()
        due = await ops.claim_recipients(now, 60.0, 100)
        assert len(due) == 10
        for i, r in enumerate(due[:8]):
            await ops.record_submitted(r.id, "op1", f"smsc-{i}", now)
        for i, state, stat in ((0, S.DELIVERED, "DELIVRD"), (1, S.UNDELIVERED, "UNDELIV"),
                               (5, S.DELIVERED, "DELIVRD")):  # fmt: skip
            await ops.record_receipt("op1", f"smsc-{i}", state, stat, "000", now)
        await ops.record_failed(due[8].id, "no route", now)  # refunded
        await ops.record_retry(due[9].id, now + 30.0, "throttled")
        await ops.record_receipt("op1", "early-id", S.DELIVERED, "DELIVRD", None, now)  # kept
        await ops.claim_connectors(["op1"], "a-live-process", 10.0, {"op1": True})
        jobs = await ops.claim_callbacks(ops.clock() + 1, 30.0, 10)
        assert len(jobs) >= 2
        results = [
            CallbackResult(jobs[0].id, jobs[0].claim, CallbackAttempt(now, 200, 12.25, None),
                           CallbackOutcome.DELIVERED, None),
            CallbackResult(jobs[1].id, jobs[1].claim, CallbackAttempt(now, 503, 0.1, "busy"),
                           CallbackOutcome.RETRY, now + 60.0),
        ]  # fmt: skip
        await ops.finish_callbacks(results)
        await gateway.queue_mail("ops@acme.fr", "Activez votre compte", "Lien : https://x.test/a")
        await gateway.queue_mail("z@x.fr", "Mot de passe", "Lien : https://x.test/r")
        [mail, *_] = await ops.claim_mails(ops.clock() + 1, 60.0, 1)
        await ops.record_mail_failed(mail, "SMTPConnectError: refused", now + 90.0)
        await _console(store, account.id, now)
        keys = Keys(gateway)
        used = await keys.create(login, "déploiement")
        revoked = await keys.create(login)
        await keys.revoke(login, revoked.stored.id)
        await keys.authenticate(used.key)  # its last use
        await _idempotency(store, account.id, now)
    finally:
        gateway.close()
        await store.close()
    conn = sqlite3.connect(path)  # a purge took the newest event: its id is never given again
    with conn:
        newest = conn.execute("SELECT max(id) FROM callback_events").fetchone()[0]
        conn.execute("DELETE FROM callback_attempts WHERE event_id = ?", (newest,))
        conn.execute("DELETE FROM callback_events WHERE id = ?", (newest,))
    conn.close()


async def _idempotency(store: Store, account_id: int, now: float) -> None:
    """Idempotency-Keys: one answered with a message of the account, one pending."""
    [summary, *_] = await store.recent_messages(account_id, 1)
    digest = request_digest(b'{"to": "33612345601"}')
    await store.reserve_idempotency(account_id, "retry-7", digest, now, 30.0)
    await store.finish_idempotency(account_id, "retry-7", summary.msgid, None)
    await store.reserve_idempotency(account_id, "retry-8", digest, now, 30.0)


async def _console(store: Store, account_id: int, now: float) -> None:
    """The console's rows: a reset link (and its e-mail), sessions, an operator, contacts
    in a group."""
    link = NewLink("d" * 64, LinkPurpose.RESET, "acme", now, now + 3600.0)
    await store.request_link(link, NewMail("ops@acme.fr", "Mot de passe", "Lien", now))
    await store.create_session(NewSession("s" * 64, Role.CUSTOMER, "acme", "c", now, now + 60))
    await store.create_operator(NewOperator("root", "root@x.fr", "op-hash", now))
    await store.import_contacts(
        account_id,
        "Équipe",
        [NewContact("Ann", "33612345601"), NewContact("Ben", "33612345602")],
        now,
    )


# --- reading every row back --------------------------------------------------------------


def sqlite_rows(path: Path, as_bool: bool = True) -> Rows:
    """Every row of every table, by primary key; booleans as bool when `as_bool`."""
    conn = sqlite3.connect(path)
    try:
        found = {}
        for table in metadata.sorted_tables:
            flags = [isinstance(c.type, Boolean) and as_bool for c in table.columns]
            rows = conn.execute(select_all(table)).fetchall()
            found[table.name] = [
                tuple(bool(v) if f and v is not None else v for v, f in zip(r, flags, strict=True))
                for r in rows
            ]
        return found
    finally:
        conn.close()


def pg_rows(url: str) -> Rows:
    async def read() -> Rows:
        conn = await asyncpg.connect(url)
        try:
            return {
                t.name: [tuple(r) for r in await conn.fetch(select_all(t))]
                for t in metadata.sorted_tables
            }
        finally:
            await conn.close()

    return asyncio.run(read())


def typed(rows: Rows) -> dict[str, list[tuple[tuple[str, Any], ...]]]:
    """Rows with each value's type beside it: 1 and True, 2 and 2.0 differ."""
    return {t: [tuple((type(v).__name__, v) for v in r) for r in rs] for t, rs in rows.items()}


def without_leases(rows: Rows) -> Rows:
    return {**rows, "connector_owners": [], "delivery_workers": [], "request_counters": []}


def pg_value(url: str, sql: str) -> Any:
    return pgserver.fetch(url, sql)[0][0]


def sqlite_value(path: Path, sql: str) -> Any:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchone()[0]
    finally:
        conn.close()


# --- the tests -------------------------------------------------------------------------------


def test_sqlite_to_postgresql_and_back_is_exact(tmp_path: Path, new_pg: Callable[[], str]) -> None:
    """SQLite → PostgreSQL → SQLite keeps every row of every table bit for bit (booleans
    as booleans, floats exactly), verifies, and ids continue past every id given out."""
    source = tmp_path / "source.db"
    fill(source)
    original = sqlite_rows(source)
    assert all(original[t.name] for t in copy.COPIED), "a copied table is empty"
    assert {r[3] for r in original["recipients"]} == {S.QUEUED, S.SUBMITTED, S.DELIVERED,
                                                      S.UNDELIVERED, S.FAILED}  # fmt: skip
    pg = new_pg()
    copied = ok(
        cli("sqlite:///unused.db", "db", "copy", "--from", f"sqlite:///{source}", "--to", pg)
    )
    assert "verified: row counts equal in 20 tables; 2 accounts" in copied.stdout
    assert "  recipients" in copied.stdout and "copied " in copied.stdout
    assert typed(pg_rows(pg)) == typed(without_leases(original))
    suspended = pg_value(pg, "SELECT suspended FROM accounts WHERE login = 'zoe'")
    assert suspended is True
    assert pg_value(pg, "SELECT rate_limit FROM accounts WHERE login = 'zoe'") == 0.1
    given = sqlite_value(source, "SELECT seq FROM sqlite_sequence WHERE name = 'callback_events'")
    assert given > max(r[0] for r in original["callback_events"])  # the purged event's id
    last = "SELECT pg_sequence_last_value(pg_get_serial_sequence('{}', 'id'))"  # nextval: +1
    assert pg_value(pg, last.format("callback_events")) == given
    sequenced = ("accounts", "ledger", "recipients", "routes", "callback_attempts", "mails")
    for table in (*sequenced, "operators", "contacts", "contact_groups", "api_keys"):
        assert pg_value(pg, last.format(table)) == max(r[0] for r in original[table]), table

    back = tmp_path / "back.db"
    ok(cli("sqlite:///unused.db", "db", "copy", "--from", pg, "--to", f"sqlite:///{back}"))
    assert typed(sqlite_rows(back, as_bool=False)) == typed(
        without_leases(sqlite_rows(source, as_bool=False))
    )
    seq = "SELECT seq FROM sqlite_sequence WHERE name = 'callback_events'"
    assert sqlite_value(back, seq) == given
    assert oct(back.stat().st_mode & 0o777) == "0o600"
    shown = [ok(cli(f"sqlite:///{db}", "account", "show", "acme")).stdout for db in (source, back)]
    assert shown[0] == shown[1] and "balance: 984 SMS  (ledger sum 984)" in shown[0]


def test_sqlite_to_sqlite_in_small_chunks(tmp_path: Path) -> None:
    """The copy streams in chunks (here 7 rows) and gives the same rows and sequences."""
    source, target = tmp_path / "a.db", tmp_path / "b.db"
    fill(source)
    report = asyncio.run(copy.copy_database(f"sqlite:///{source}", f"sqlite:///{target}", chunk=7))
    assert report.committed and report.verification.ok
    assert report.rows["recipients"] == 10 and "connector_owners" not in report.rows
    assert typed(sqlite_rows(target, as_bool=False)) == typed(
        without_leases(sqlite_rows(source, as_bool=False))
    )
    seq = "SELECT seq FROM sqlite_sequence WHERE name = 'callback_events'"
    assert sqlite_value(target, seq) == sqlite_value(source, seq)
    assert sqlite_value(target, "PRAGMA journal_mode") == "wal"


def test_non_empty_target_is_refused_untouched(tmp_path: Path, new_pg: Callable[[], str]) -> None:
    """A target holding any row is refused in one line, exit 3, and keeps its rows."""
    source = tmp_path / "source.db"
    fill(source)
    pg = new_pg()
    ok(cli("sqlite:///unused.db", "db", "copy", "--from", f"sqlite:///{source}", "--to", pg))
    before = pg_rows(pg)
    other = tmp_path / "other.db"
    ok(cli(f"sqlite:///{other}", "account", "create", "bob", "--email", "b@x.fr",
           "--api-password", "bob-pass-12"))  # fmt: skip
    refused = cli("sqlite:///unused.db", "db", "copy", "--from", f"sqlite:///{other}", "--to", pg)
    assert refused.exit_code == 3
    assert refused.stderr.count("\n") == 1
    assert refused.stderr.startswith(f"error: {pg} is not empty (rows in accounts,")
    assert pg_rows(pg) == before


def test_full_sqlite_target_at_an_older_revision_is_not_even_migrated(tmp_path: Path) -> None:
    """A non-empty SQLite target is refused before its migrations: left at its revision."""
    source, target = tmp_path / "source.db", tmp_path / "old.db"
    fill(source)
    migrate.upgrade(f"sqlite:///{target}", "0006")
    conn = sqlite3.connect(target)
    with conn:
        conn.execute("INSERT INTO routes (position, prefix, connectors, created_at)"
                     " VALUES (1, '33', 'op1', 1.5)")  # fmt: skip
    conn.close()
    refused = cli("sqlite:///unused.db", "db", "copy", "--from", f"sqlite:///{source}",
                  "--to", f"sqlite:///{target}")  # fmt: skip
    assert refused.exit_code == 3 and "is not empty (rows in routes)" in refused.stderr
    assert sqlite_value(target, "SELECT version_num FROM alembic_version") == "0006"


def test_source_behind_the_newest_migration_is_refused(tmp_path: Path) -> None:
    """A source not at the newest revision is refused (run `db upgrade`); nothing is made."""
    source, target = tmp_path / "old.db", tmp_path / "new.db"
    migrate.upgrade(f"sqlite:///{source}", "0005")
    refused = cli("sqlite:///unused.db", "db", "copy", "--from", f"sqlite:///{source}",
                  "--to", f"sqlite:///{target}")  # fmt: skip
    assert refused.exit_code == 3
    assert "is at migration 0005, not the newest (" in refused.stderr
    assert "passerelle db upgrade" in refused.stderr
    assert not target.exists()


def test_tampered_target_balance_is_reported(tmp_path: Path, new_pg: Callable[[], str]) -> None:
    """`verify` names the account whose credits differ from the source and from its ledger."""
    source = tmp_path / "source.db"
    fill(source)
    pg = new_pg()
    ok(cli("sqlite:///unused.db", "db", "copy", "--from", f"sqlite:///{source}", "--to", pg))
    assert asyncio.run(copy.verify(f"sqlite:///{source}", pg)).ok
    pg_value(pg, "UPDATE accounts SET credits = credits + 5 WHERE login = 'acme' RETURNING 1")
    found = asyncio.run(copy.verify(f"sqlite:///{source}", pg))
    assert not found.ok and found.accounts == 2
    assert found.problems == [
        "account 'acme' (id 1): 984 credits on the source, 989 on the target",
        "account 'acme' (id 1): 989 credits on the target but its ledger sums to 984",
    ]


def test_failed_verification_rolls_the_copy_back(tmp_path: Path, new_pg: Callable[[], str]) -> None:
    """A source whose balance disagrees with its ledger: the copy names the account, exits
    3 and commits nothing (the target stays empty, ready for another try)."""
    source = tmp_path / "source.db"
    fill(source)
    conn = sqlite3.connect(source)
    with conn:
        conn.execute("UPDATE accounts SET credits = credits - 1 WHERE login = 'zoe'")
    conn.close()
    pg = new_pg()
    failed = cli("sqlite:///unused.db", "db", "copy", "--from", f"sqlite:///{source}", "--to", pg)
    assert failed.exit_code == 3
    assert "verification failed, the copy was rolled back" in failed.stderr
    assert "account 'zoe' (id 2): 49 credits on the target but its ledger sums to 50" in (
        failed.stderr
    )
    assert not any(pg_rows(pg).values())


def test_a_row_the_target_refuses_leaves_it_empty(
    tmp_path: Path, new_pg: Callable[[], str]
) -> None:
    """A row PostgreSQL refuses halfway (a dest longer than its column) fails the copy in
    one line, exit 3, and the rows already sent are not kept: all or nothing."""
    source = tmp_path / "source.db"
    fill(source)
    conn = sqlite3.connect(source)
    with conn:  # SQLite does not enforce lengths; PostgreSQL's varchar(15) does
        conn.execute("UPDATE recipients SET dest = '3361234560123456789' WHERE id = 10")
    conn.close()
    pg = new_pg()
    failed = cli("sqlite:///unused.db", "db", "copy", "--from", f"sqlite:///{source}", "--to", pg)
    assert failed.exit_code == 3 and failed.stderr.count("\n") == 1
    assert f"copy to {pg} failed (the target keeps no row): value too long" in failed.stderr
    assert not any(pg_rows(pg).values())
    assert pg_value(pg, "SELECT version_num FROM alembic_version") == copy.newest_revision()


def test_same_database_is_refused(tmp_path: Path) -> None:
    """--from and --to naming one file is refused (exit 3) before anything is opened."""
    db = tmp_path / "one.db"
    fill(db)
    refused = cli("sqlite:///unused.db", "db", "copy", "--from", f"sqlite:///{db}",
                  "--to", f"sqlite:///{tmp_path}/../{tmp_path.name}/one.db")  # fmt: skip
    assert refused.exit_code == 3 and "name the same database" in refused.stderr


def test_the_schema_holds_only_types_the_copy_carries() -> None:
    """Every column is an integer, text, Boolean (turned back from SQLite's 0/1) or Float
    (a double on both sides): a new column type must teach the copy its conversion."""
    kinds = {type(c.type).__name__ for t in metadata.sorted_tables for c in t.columns}
    assert kinds == {"Integer", "BigInteger", "SmallInteger", "String", "Text", "Boolean", "Float"}
    ephemeral = {"connector_owners", "delivery_workers", "request_counters"}
    assert [t.name for t in copy.COPIED] == [
        t.name for t in metadata.sorted_tables if t.name not in ephemeral
    ]
