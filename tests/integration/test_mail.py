"""The mail sender against a real SMTP server (aiosmtpd in a subprocess), and its `.eml`
fallback: e-mails queued in the SQLite outbox arrive, survive a refusing or absent
server, and their bodies never reach the logs."""

from __future__ import annotations

import email
import email.policy
import logging
import socket
import stat
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from passerelle.core.values import MailState
from passerelle.mail.sender import MailSender
from passerelle.service import Gateway
from passerelle.service_workers import Operations
from passerelle.settings import Settings
from passerelle.store.sqlite import SqliteStore
from tests.smtpserver import SmtpServer
from tests.support import make_settings, sqlite_store

SECRET_LINK = "https://console.test/activate/Zm9vYmFyLXNlY3JldC10b2tlbg"
BODY = f"Bonjour,\n\nactivez votre compte : {SECRET_LINK}\n\nÀ bientôt.\n"


class Clock:
    """A clock the test moves (the sender's and the service's now)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    s = await sqlite_store(tmp_path / "mail.db")
    yield s
    await s.close()


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[SmtpServer]:
    server = SmtpServer(tmp_path / "smtp")
    yield server
    server.stop()


def smtp_settings(port: int, **more: object) -> Settings:
    return make_settings(smtp_host="127.0.0.1", smtp_port=port, smtp_starttls=False,
                         smtp_timeout_s=5.0, mail_from="Passerelle <no-reply@passerelle.test>",
                         **more)  # fmt: skip


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def queue(store: SqliteStore, settings: Settings, clock: Clock) -> int:
    gateway = Gateway(store, settings, clock=clock)
    try:
        return await gateway.queue_mail("alice@example.com", "Activez votre compte", BODY)
    finally:
        gateway.close()


def logged(caplog: pytest.LogCaptureFixture) -> str:
    """Every captured record, its message and its extra fields."""
    return "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)


async def test_a_queued_mail_arrives_at_the_smtp_server(
    store: SqliteStore, smtp: SmtpServer
) -> None:
    """A queued e-mail reaches the SMTP server with its From, To, Subject and body."""
    settings, clock = smtp_settings(smtp.start()), Clock()
    mail_id = await queue(store, settings, clock)
    assert await MailSender(Operations(store), settings, clock=clock).run_once() == 1
    [got] = smtp.received()
    assert (got.mail_from, got.rcpt_tos) == ("no-reply@passerelle.test", ["alice@example.com"])
    message = email.message_from_bytes(got.data, policy=email.policy.default)
    assert message["From"] == "Passerelle <no-reply@passerelle.test>"
    assert (message["To"], message["Subject"]) == ("alice@example.com", "Activez votre compte")
    assert message.get_content().replace("\r\n", "\n") == BODY
    mail = await store.find_mail(mail_id)
    assert mail is not None and mail.state is MailState.SENT and mail.sent_at == clock.now


async def test_without_smtp_host_the_mail_is_written_as_an_eml_file(
    store: SqliteStore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """No SMTP host: an .eml file (0600, in a 0700 folder) that parses back; its path is
    logged, not its body."""
    folder = tmp_path / "outbox" / "mail"
    settings, clock = make_settings(mail_dir=str(folder)), Clock()
    mail_id = await queue(store, settings, clock)
    with caplog.at_level(logging.DEBUG):
        assert await MailSender(Operations(store), settings, clock=clock).run_once() == 1
    [path] = folder.glob("*.eml")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert (message["To"], message["Subject"]) == ("alice@example.com", "Activez votre compte")
    assert message["From"] == "passerelle@localhost"
    assert message.get_content() == BODY
    assert str(path.resolve()) in logged(caplog)
    assert SECRET_LINK not in logged(caplog)
    mail = await store.find_mail(mail_id)
    assert mail is not None and mail.state is MailState.SENT


async def test_a_refusing_server_keeps_the_mail_pending_until_it_accepts(
    store: SqliteStore, smtp: SmtpServer
) -> None:
    """Refused (554): pending, with the error and a later attempt; sent once accepted."""
    settings, clock = smtp_settings(smtp.start(refuse=True)), Clock()
    mail_id = await queue(store, settings, clock)
    sender = MailSender(Operations(store), settings, clock=clock)
    assert await sender.run_once() == 1
    mail = await store.find_mail(mail_id)
    assert mail is not None and mail.state is MailState.PENDING and mail.attempts == 1
    assert mail.last_error is not None and "554" in mail.last_error
    assert mail.next_attempt_at > clock.now
    assert await sender.run_once() == 0  # not due yet
    smtp.stop()
    smtp.start()
    clock.now = mail.next_attempt_at
    assert await sender.run_once() == 1
    assert len(smtp.received()) == 1
    sent = await store.find_mail(mail_id)
    assert sent is not None and sent.state is MailState.SENT and sent.attempts == 2


async def test_a_server_down_keeps_the_mail_pending_until_it_comes_back(
    store: SqliteStore, tmp_path: Path
) -> None:
    """Nothing listening: pending with the error and a later attempt; sent once the
    server is up."""
    port = free_port()
    settings, clock = smtp_settings(port), Clock()
    mail_id = await queue(store, settings, clock)
    sender = MailSender(Operations(store), settings, clock=clock)
    assert await sender.run_once() == 1
    mail = await store.find_mail(mail_id)
    assert mail is not None and mail.state is MailState.PENDING
    assert mail.last_error is not None and mail.last_error.startswith("SMTPConnectError")
    assert mail.next_attempt_at > clock.now
    server = SmtpServer(tmp_path / "smtp", port)
    try:
        server.start()
        clock.now = mail.next_attempt_at + 1
        assert await sender.run_once() == 1
        assert [r.rcpt_tos for r in server.received()] == [["alice@example.com"]]
    finally:
        server.stop()
    sent = await store.find_mail(mail_id)
    assert sent is not None and sent.state is MailState.SENT


async def test_past_the_horizon_a_failing_mail_fails_for_good(store: SqliteStore) -> None:
    """A failure after the horizon fails the e-mail: no further attempt."""
    settings, clock = smtp_settings(free_port(), mail_horizon_s=60.0), Clock()
    mail_id = await queue(store, settings, clock)
    clock.now += 61
    assert await MailSender(Operations(store), settings, clock=clock).run_once() == 1
    mail = await store.find_mail(mail_id)
    assert mail is not None and mail.state is MailState.FAILED and mail.last_error


async def test_the_body_never_appears_in_the_logs(
    store: SqliteStore, smtp: SmtpServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Refused, then sent: every log record (debug included) names the e-mail, never
    its body."""
    settings, clock = smtp_settings(smtp.start(refuse=True)), Clock()
    await queue(store, settings, clock)
    sender = MailSender(Operations(store), settings, clock=clock)
    with caplog.at_level(logging.DEBUG):
        await sender.run_once()
        smtp.stop()
        smtp.start()
        clock.now += 3600
        await sender.run_once()
    assert len(smtp.received()) == 1
    text = logged(caplog)
    assert "mail not sent" in text and "mail sent" in text
    assert SECRET_LINK not in text and "activez votre compte" not in text
