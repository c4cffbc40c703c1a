"""The console's writes on PostgreSQL when processes race: a sign-up paused inside its
transaction holds back another sign-up with the same e-mail address (no unique index
on ``lower(email)`` decides it), which then sees the first and is refused."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from passerelle import exceptions as exc
from passerelle.core.console import LinkPurpose, NewLink
from passerelle.core.values import NewAccount, NewMail
from passerelle.store import postgres_console
from passerelle.store.postgres import PgStore


def sign_up_args(login: str, email: str) -> tuple[NewAccount, NewLink, NewMail]:
    return (
        NewAccount(login, email, "h", "s", 1.0, activated=False),
        NewLink(f"digest-{login}", LinkPurpose.ACTIVATE, login, 1.0, 100.0),
        NewMail(email, "Activate", "https://x.test/a", 1.0),
    )


async def test_a_second_sign_up_with_the_email_waits_and_is_refused(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sign-up racing another with the same e-mail waits for it, then gets NameTaken."""
    first, second = PgStore(postgres_url), PgStore(postgres_url)
    await first.open()
    await second.open()
    inserted, go_on = asyncio.Event(), asyncio.Event()
    original = postgres_console._link

    async def paused(conn: Any, link: NewLink, mail: NewMail) -> None:
        if link.login == "ann":
            inserted.set()
            await go_on.wait()
        await original(conn, link, mail)

    monkeypatch.setattr(postgres_console, "_link", paused)
    try:
        ann = asyncio.create_task(first.sign_up(*sign_up_args("ann", "Same@x.fr")))
        await asyncio.wait_for(inserted.wait(), 5.0)
        bea = asyncio.create_task(second.sign_up(*sign_up_args("bea", "same@X.FR")))
        await asyncio.sleep(0.3)
        assert not bea.done()  # held back by the first sign-up's transaction
        go_on.set()
        assert (await ann).login == "ann"
        with pytest.raises(exc.NameTaken):
            await bea
        assert [a.login for a in await first.list_accounts("", 10, 0)] == ["ann"]
    finally:
        go_on.set()
        await first.close()
        await second.close()
