"""The mail sender runs in the process with the `callbacks` role, and only there."""

from __future__ import annotations

import asyncio
from pathlib import Path

from passerelle.core.values import MailState
from passerelle.store.memory import MemoryStore
from passerelle.wiring import build
from tests.support import make_settings


async def test_the_callbacks_role_sends_queued_mail(tmp_path: Path) -> None:
    """With the `callbacks` role, a mail queued through the service is written out
    (no SMTP host: an .eml file) without anyone asking."""
    folder = tmp_path / "mail"
    settings = make_settings(api=False, delivery=False, retention=False, mail_dir=str(folder))
    store = MemoryStore()
    parts = build(settings, store)
    await parts.start()
    try:
        mail_id = await parts.gateway.queue_mail("bob@example.com", "Reset", "a secret link")
        for _ in range(100):
            mail = await store.find_mail(mail_id)
            if mail is not None and mail.state is MailState.SENT:
                break
            await asyncio.sleep(0.05)
        assert mail is not None and mail.state is MailState.SENT
        assert [p.name for p in folder.glob("*.eml")] == [f"mail-{mail_id}.eml"]
    finally:
        await parts.stop()


async def test_without_the_callbacks_role_no_mail_is_sent(tmp_path: Path) -> None:
    """Without the `callbacks` role, a queued mail stays pending in the outbox."""
    settings = make_settings(api=True, delivery=False, retention=False, callbacks=False,
                             mail_dir=str(tmp_path / "mail"))  # fmt: skip
    store = MemoryStore()
    parts = build(settings, store)
    await parts.start()
    try:
        mail_id = await parts.gateway.queue_mail("bob@example.com", "Reset", "a secret link")
        await asyncio.sleep(0.3)
        mail = await store.find_mail(mail_id)
        assert mail is not None and mail.state is MailState.PENDING
        assert not (tmp_path / "mail").exists()
    finally:
        await parts.stop()
