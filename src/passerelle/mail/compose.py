"""An outbox e-mail as an RFC 5322 message (`email.message.EmailMessage`, plain text)."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr

from passerelle.core.values import MailJob


def compose(job: MailJob, from_addr: str) -> EmailMessage:
    """The message for `job`, from `from_addr`: dated when it was queued, with a
    Message-ID of the sender's domain and a UTF-8 plain-text body."""
    message = EmailMessage()
    message["From"] = from_addr
    message["To"] = job.to_addr
    message["Subject"] = job.subject
    message["Date"] = format_datetime(datetime.fromtimestamp(job.created_at, UTC))
    domain = parseaddr(from_addr)[1].rpartition("@")[2] or "localhost"
    message["Message-ID"] = make_msgid(idstring=f"mail{job.id}", domain=domain)
    message.set_content(job.body_text)
    return message
