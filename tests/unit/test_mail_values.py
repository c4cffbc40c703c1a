"""What an e-mail of the outbox may hold (`core.mail`), checked by `Gateway.queue_mail`
before anything is stored; the message the sender composes; the sender address setting."""

from __future__ import annotations

import pytest

from passerelle import exceptions as exc
from passerelle.core.mail import mail_problem
from passerelle.core.values import MailJob
from passerelle.mail.compose import compose
from passerelle.service import Gateway
from passerelle.settings import Settings
from passerelle.store.memory import MemoryStore
from tests.support import make_settings


@pytest.mark.parametrize("address", ["alice@example.com", "a.b+tag@sub.example.fr", "x@localhost"])
def test_plain_addresses_are_accepted(address: str) -> None:
    """A plain local@domain address with a one-line subject is accepted."""
    assert mail_problem(address, "Activez votre compte") is None


@pytest.mark.parametrize(
    "address",
    ["", "alice", "alice@", "@example.com", "a b@example.com", "a@example.com\r\nBcc: x@y.z",
     "Alice <alice@example.com>", "a@b.com, c@d.com", "a@-example.com", "a" * 250 + "@x.fr"],
)  # fmt: skip
def test_anything_but_one_plain_address_is_refused(address: str) -> None:
    """Display names, lists, line breaks (header injection) and overlong addresses are
    refused."""
    assert mail_problem(address, "subject") is not None


@pytest.mark.parametrize("subject", ["a\nBcc: x@y.z", "a\rb", "tab\there", "x" * 999])
def test_a_subject_is_one_line(subject: str) -> None:
    """A subject with a control character or over 998 characters is refused."""
    assert mail_problem("alice@example.com", subject) is not None


async def test_queue_mail_refuses_before_storing() -> None:
    """`Gateway.queue_mail` raises InvalidValue and stores nothing for a bad address."""
    store = MemoryStore()
    gateway = Gateway(store, make_settings())
    try:
        with pytest.raises(exc.InvalidValue, match="not a plain e-mail address"):
            await gateway.queue_mail("a@example.com\nBcc: x@y.z", "Reset", "body")
        assert store.mails == {}
        mail_id = await gateway.queue_mail("a@example.com", "Reset", "body")
        assert store.mails[mail_id].to_addr == "a@example.com"
    finally:
        gateway.close()


def test_a_composed_message_carries_the_senders_domain_and_the_queue_date() -> None:
    """The Message-ID names the sender's domain (display name or not), the Date the
    time the e-mail was queued, and the body is UTF-8 plain text."""
    job = MailJob(7, "bob@example.com", "Réinitialiser", "Lien : é", 0.0, 0, 60.0)
    message = compose(job, "Passerelle <no-reply@passerelle.test>")
    assert message["Message-ID"].endswith("@passerelle.test>")
    assert message["Date"] == "Thu, 01 Jan 1970 00:00:00 +0000"
    assert message.get_content_type() == "text/plain"
    assert message.get_content() == "Lien : é\n"


@pytest.mark.parametrize("value", ["nobody", "", "a@b.fr\r\nBcc: x@y.z"])
def test_mail_from_must_be_one_address(value: str) -> None:
    """PASSERELLE_MAIL_FROM without an address, or with a line break, is refused at start."""
    with pytest.raises(exc.ConfigError, match="PASSERELLE_MAIL_FROM"):
        Settings.load(_env_file=None, mail_from=value)
