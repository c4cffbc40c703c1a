"""The operator's pages in real headless Chromium against a real `passerelle serve`: an
operator made with the CLI logs in, finds an account, credits it with a reason, and
reads the connectors and the traffic (a screenshot of each step)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest

from tests import browser as browsing
from tests.acceptance.conftest import SENT, Server, Servers

if TYPE_CHECKING:
    from playwright.async_api import Page

OPERATOR_PASSWORD = "operator-pass-1"


@pytest.fixture(scope="module")
def served(servers: Servers) -> Server:
    """A `serve` with one customer (and one SMS sent) and one operator, made by the CLI."""
    server = servers.new("operator").start()
    server.create_account("clara", "clara-api-1", 20)
    server.cli(
        "operator", "create", "root", "--email", "root@example.com",
        "--password", OPERATOR_PASSWORD,
    )  # fmt: skip
    with server.client() as client:
        answer = server.get(
            client,
            "/client/api?action=envoi&login=clara&apipasse=clara-api-1&msg=Salut"
            "&dest=33612345678&origine=Clara",
        )
        assert SENT.fullmatch(answer.text), answer.text
    return server


@browsing.BROWSER
async def test_an_operator_credits_an_account(page: Page, served: Server) -> None:
    """Log in as the operator, open the account, add credits with a reason: the balance
    and the ledger show it; the connectors and traffic pages render."""
    base = served.base_url
    await page.goto(f"{base}/user/login")
    await page.fill("input[name=login]", "root")
    await page.fill("input[name=password]", OPERATOR_PASSWORD)
    await page.click("form.card button[type=submit]")
    await page.wait_for_selector("#accounts")
    await browsing.snap(page, "01-accounts")

    await page.click("#accounts a:text('clara')")
    await page.fill("input[name=amount]", "50")
    await page.fill("input[name=reason]", "commande 2026-118")
    await page.locator("input[name=amount]").press("Enter")
    await page.wait_for_selector(".notice")
    text = await page.inner_text("main")
    assert "69" in text and "commande 2026-118" in text, text  # 20 - 1 + 50
    await browsing.snap(page, "02-account-credited")

    await page.goto(f"{base}/operateur/connecteurs")
    await browsing.snap(page, "03-connectors")
    await page.goto(f"{base}/operateur/trafic")
    totals = (await page.locator("table").first.locator("tr").nth(1).inner_text()).split()
    assert totals[-1] == "1" and totals.count("1") == 2, totals  # one delivered, one in all
    await browsing.snap(page, "04-traffic")
    solde = await asyncio.to_thread(lambda: served.solde(served.client(), "clara", "clara-api-1"))
    assert solde == 69
