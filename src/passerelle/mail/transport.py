"""Where the mail sender hands a message: an SMTP server (`SmtpTransport`, aiosmtplib),
or, with no ``PASSERELLE_SMTP_HOST`` (the embedded default), a folder of `.eml` files
(`FileTransport`) that a developer opens with any mail reader.

Neither logs, nor puts into an error, a message's body: it carries activation and
password-reset links, which are secrets.
"""

from __future__ import annotations

import asyncio
import os
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

import aiosmtplib

from passerelle.settings import Settings

DIR_MODE = 0o700
FILE_MODE = 0o600


class Transport(Protocol):
    """Hands one message over; raises on failure (the sender retries)."""

    async def deliver(self, message: EmailMessage, mail_id: int) -> str:
        """Send or write `message` (the outbox e-mail `mail_id`); where it went, for
        the log."""


class SmtpTransport:
    """An SMTP submission server: STARTTLS unless turned off, AUTH when a user is set."""

    def __init__(self, settings: Settings) -> None:
        self.host = settings.smtp_host
        self.port = settings.smtp_port
        self.user = settings.smtp_user or None
        self.password = settings.smtp_password.get_secret_value() or None
        self.starttls = settings.smtp_starttls
        self.timeout = settings.smtp_timeout_s

    async def deliver(self, message: EmailMessage, mail_id: int) -> str:
        await aiosmtplib.send(
            message,
            hostname=self.host,
            port=self.port,
            username=self.user,
            password=self.password,
            start_tls=self.starttls,
            timeout=self.timeout,
        )
        return f"smtp://{self.host}:{self.port}"


class FileTransport:
    """One `.eml` file per e-mail in `folder` (created 0700), each 0600, written whole
    (a temporary file renamed into place); a second attempt rewrites the same file."""

    def __init__(self, folder: str) -> None:
        self.folder = Path(folder)

    async def deliver(self, message: EmailMessage, mail_id: int) -> str:
        data = message.as_bytes()
        return await asyncio.to_thread(self._write, data, mail_id)

    def _write(self, data: bytes, mail_id: int) -> str:
        if not self.folder.is_dir():
            self.folder.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
            os.chmod(self.folder, DIR_MODE)  # whatever the umask
        path = self.folder / f"mail-{mail_id}.eml"
        temporary = self.folder / f".mail-{mail_id}.eml.tmp"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
        with os.fdopen(fd, "wb") as file:
            os.fchmod(fd, FILE_MODE)  # a leftover temporary file may have been wider
            file.write(data)
            file.flush()
            os.fsync(fd)
        os.replace(temporary, path)
        return str(path.resolve())


def transport_for(settings: Settings) -> Transport:
    """SMTP when ``PASSERELLE_SMTP_HOST`` is set, else `.eml` files in
    ``PASSERELLE_MAIL_DIR``."""
    if settings.smtp_host:
        return SmtpTransport(settings)
    return FileTransport(settings.mail_dir)
