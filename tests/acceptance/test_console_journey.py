"""The customer's whole journey through the console, in real headless Chromium against a
real `passerelle serve`: sign up, receive the activation e-mail (through a real SMTP
server, or as an .eml file when none is configured), activate, log in, start the
integration, set the callback URL and the API password, run the copied curl example,
watch the SMS turn from "en cours" to "reçu" without a reload, import a CSV group, send
to it, see the balance drop. A screenshot of each step is kept under tests/artifacts/."""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
import shlex
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests import browser as browsing
from tests.acceptance.conftest import SENT, Server, Servers
from tests.smtpserver import SmtpServer

if TYPE_CHECKING:
    from playwright.async_api import Page

LINK = re.compile(r"http://127\.0\.0\.1:\d+/user/activate/[A-Za-z0-9_-]{43}")
PASSWORD = "journey-console-1"
API_PASSWORD = "journey-api-12"
MAIL_WAIT_S = 20.0
LIVE_WAIT_MS = 20_000
CSV = "numero;nom\n33611111111;Alice\nnot-a-number;Bob\n33622222222;Chloé\n"


def mail_text(raw: bytes) -> str:
    """The decoded plain-text body of an RFC 5322 message."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    body = message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())  # type: ignore[attr-defined]


def wait_for_link(read: Callable[[], list[bytes]]) -> str:
    """The activation link of the first e-mail `read` returns (polled, bounded)."""
    deadline = time.monotonic() + MAIL_WAIT_S
    while time.monotonic() < deadline:
        for raw in read():
            found = LINK.search(mail_text(raw))
            if found:
                return found.group(0)
        time.sleep(0.1)
    raise AssertionError("no activation e-mail arrived")


@pytest.fixture(scope="module")
def smtp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmtpServer]:
    """A real SMTP server (aiosmtpd subprocess) on 127.0.0.1, stopped by pid at the end."""
    server = SmtpServer(tmp_path_factory.mktemp("smtp"))
    server.start()
    yield server
    server.stop()


def console_server(servers: Servers, name: str, **env: str) -> Server:
    """A `serve` whose built-in simulator answers receipts after 3 s (the page shows the
    SMS "en cours" before it turns "reçu")."""
    return servers.new(
        name,
        PASSERELLE_SIMULATOR_DELAY_S="3",
        PASSERELLE_CALLBACK_ALLOW_PRIVATE="true",
        **env,
    ).start()


async def journey(page: Page, server: Server, link_of: Callable[[], str], login: str) -> None:
    """Every step of the journey, a screenshot after each."""
    base = server.base_url
    await page.goto(f"{base}/user/create")
    await page.fill("input[name=login]", login)
    await page.fill("input[name=email]", f"{login}@example.com")
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit] >> nth=-1")
    await page.wait_for_selector("#signup-done")
    await browsing.snap(page, "01-signed-up")

    link = await asyncio.to_thread(link_of)
    await page.goto(link)
    await page.click("#activate")
    await page.wait_for_selector("#activated")
    await browsing.snap(page, "02-activated")

    await page.goto(f"{base}/user/login")
    await page.fill("input[name=login]", login)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("form.card button[type=submit]")
    await page.wait_for_selector("#home-balance")
    assert "10 SMS" in await page.inner_text("#home-balance")
    await browsing.snap(page, "03-logged-in")

    await page.click("#menu-api-get")
    await page.get_by_role("button", name="Commencer l'intégration").click()
    await page.wait_for_selector("#example-curl")
    await browsing.snap(page, "04-integration-started")

    await page.click("#menu-settings")
    await page.fill("input[name=callback_url]", "http://127.0.0.1:9/callback")
    await page.fill("input[name=api_password]", API_PASSWORD)
    await page.click("form#settings button[type=submit]")
    await page.wait_for_selector(".notice")
    await browsing.snap(page, "05-settings-saved")

    await page.click("#menu-api-get")
    example = await page.inner_text("#example-curl")
    assert login in example and f"{base}/client/api" in example, example
    command = example.replace("VOTRE_MOT_DE_PASSE_API", API_PASSWORD)
    done = await asyncio.to_thread(
        subprocess.run, shlex.split(command), capture_output=True, text=True, timeout=30
    )
    assert SENT.fullmatch(done.stdout.strip()), (command, done.stdout, done.stderr)
    msgid = done.stdout.split("|")[0]

    await page.goto(f"{base}/sms")
    cell = page.locator(f"[data-msgid='{msgid}'].state").first
    assert "en cours" in await cell.inner_text()
    await page.evaluate("window.passerelleNoReload = true")
    await browsing.snap(page, "06-history-en-cours")
    await cell.filter(has_text="reçu").wait_for(timeout=LIVE_WAIT_MS)
    assert await page.evaluate("window.passerelleNoReload === true")  # the same document
    await browsing.snap(page, "07-history-recu")

    await page.goto(f"{base}/groupes/importer")
    await page.fill("input[name=group]", "clients")
    await page.set_input_files(
        "input[name=file]",
        files=[{"name": "clients.csv", "mimeType": "text/csv", "buffer": CSV.encode()}],
    )
    await page.click("form.card button[type=submit]")
    report = await page.inner_text("main")
    assert "2 importés, 0 mis à jour" in report, report
    refused = await page.locator("table tr").all_inner_texts()
    assert any(row.split()[:2] == ["3", "not-a-number"] for row in refused), refused
    await browsing.snap(page, "08-group-imported")

    before = int((await page.inner_text("#balance")).split(":")[1].split()[0])
    await page.goto(f"{base}/sms/envoyer?groupe=clients")
    await page.fill("textarea[name=msg]", "Bonjour les clients")
    await page.fill("input[name=origine]", "Journey")
    await page.click("form#send button[type=submit]")
    await page.wait_for_url(re.compile(r"/sms/\d{9}"))
    after = int((await page.inner_text("#balance")).split(":")[1].split()[0])
    assert after == before - 2, (before, after)
    await browsing.snap(page, "09-sent-to-group")


@browsing.BROWSER
async def test_journey_with_an_smtp_server(page: Page, servers: Servers, smtp: SmtpServer) -> None:
    """The whole journey, the activation e-mail received by a real SMTP server."""
    server = await asyncio.to_thread(
        console_server,
        servers,
        "journey-smtp",
        PASSERELLE_SMTP_HOST="127.0.0.1",
        PASSERELLE_SMTP_PORT=str(smtp.port),
        PASSERELLE_SMTP_STARTTLS="false",
    )

    def read() -> list[bytes]:
        return [r.data for r in smtp.received()]

    await journey(page, server, lambda: wait_for_link(read), "julie")


@browsing.BROWSER
async def test_journey_without_an_smtp_server(page: Page, servers: Servers) -> None:
    """The whole journey with no SMTP server: the e-mail is an .eml file in the mail
    folder, and its link works the same."""
    server = await asyncio.to_thread(console_server, servers, "journey-eml")
    folder = server.folder / "mail"  # PASSERELLE_MAIL_DIR's default, ./mail

    def read() -> list[bytes]:
        return [p.read_bytes() for p in sorted(Path(folder).glob("*.eml"))]

    await journey(page, server, lambda: wait_for_link(read), "jules")
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in folder.glob("*.eml"))
