"""Browser tests: real headless Chromium driven by Playwright (the web console's tests).

The browser is Debian's ``chromium`` (``/usr/bin/chromium``, found on ``PATH``), which
``./dev test`` installs with apt; Playwright is given its path (``executable_path``) and
never downloads a browser of its own. The fixtures, in ``tests/acceptance/conftest.py``:

- ``browser`` (session): one Chromium for the whole run, closed at the end of it;
- ``page`` (function): a new browser context (fresh cookies and storage) and a page in
  it, both closed after the test; the test's screenshot folder is emptied before it.

``snap(page, name)`` saves a PNG of the page as ``tests/artifacts/<test name>/<name>.png``
(ignored by git): the console tests keep a screenshot of each step there.

Async API, not sync. The sync API runs its own asyncio loop in a greenlet and, for as long
as Playwright is started, leaves that loop marked as the thread's *running* loop between
calls. With a session-scoped browser, every ``async def`` test that pytest-asyncio (auto
mode) runs after it then fails with "Runner.run() cannot be called from a running event
loop" (tried: a sync session browser, then a plain async test). The async API lives in
pytest-asyncio's session loop instead, which runs only while a session-loop fixture or
test runs: browser tests are ``async def`` marked ``pytest.mark.asyncio(loop_scope=
"session")`` (the ``BROWSER`` mark below), and every other test keeps its own loop.
Blocking set-up (``Server.start()``) belongs in sync fixtures, not in the tests.

Under ``CI`` (set and not ``0``/``false``/``no``) browser tests must run: a missing
Playwright or Chromium fails them with one line; elsewhere they are skipped with it.

The machine has 2 cores: one Chromium serves every test (a context per test costs a few
milliseconds), headless. Chromium listens on no port: Playwright talks to it over a
pipe (``--remote-debugging-pipe``) and to its own driver over stdio; the servers under
test listen on 127.0.0.1. The sandbox is on, except as root: Chromium refuses to start
its sandbox as root ("Chromium sandboxing failed!"), so there, and only there, it runs
with ``--no-sandbox`` (``chromium_sandbox=False``).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.pgserver import in_ci

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page

ARTIFACTS = Path(__file__).parent / "artifacts"
BROWSER = pytest.mark.asyncio(loop_scope="session")  # every browser test, see the docstring
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def chromium_path() -> str | None:
    """The path of Debian's ``chromium`` on PATH (``/usr/bin/chromium``), or None."""
    return shutil.which("chromium")


def missing() -> str | None:
    """Why the browser tests cannot run here (one line), or None when they can."""
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        return "the Python package playwright is not installed (./dev test installs it)"
    if chromium_path() is None:
        return "no chromium on PATH (the Debian package chromium: ./dev test installs it)"
    return None


def require() -> None:
    """Fail the test under ``CI``, skip it elsewhere, when Playwright or Chromium is missing."""
    reason = missing()
    if reason is None:
        return
    if in_ci():
        pytest.fail(f"browser tests must run under CI: {reason}", pytrace=False)
    pytest.skip(f"no browser: {reason}")


def sandboxed() -> bool:
    """Chromium's sandbox cannot start as root: off for root, on for everyone else."""
    return os.geteuid() != 0


@asynccontextmanager
async def launched() -> AsyncIterator[Browser]:
    """Playwright started and one headless Chromium launched; both stopped on exit."""
    require()
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium_path(),
            headless=True,
            chromium_sandbox=sandboxed(),
        )
        try:
            yield browser
        finally:
            await browser.close()


@asynccontextmanager
async def new_page(browser: Browser) -> AsyncIterator[Page]:
    """A page in a new context of `browser` (its own cookies and storage), closed on exit."""
    context = await browser.new_context()
    try:
        yield await context.new_page()
    finally:
        await context.close()


def artifact_folder(test_name: str) -> Path:
    """``tests/artifacts/<test name>/`` (characters unsafe in a file name replaced)."""
    return ARTIFACTS / _SAFE.sub("_", test_name)


def current_test_name() -> str:
    """The name of the running test (``test_x[param]``), from PYTEST_CURRENT_TEST."""
    current = os.environ.get("PYTEST_CURRENT_TEST", "")
    assert current, "snap() is called from a running test"
    return current.rsplit(" ", 1)[0].rsplit("::", 1)[-1]


async def snap(page: Page, name: str) -> Path:
    """Save a full-page PNG screenshot as ``tests/artifacts/<test name>/<name>.png``."""
    assert re.fullmatch(r"[A-Za-z0-9_.-]+", name), f"screenshot name {name!r}"
    path = artifact_folder(current_test_name()) / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=path, full_page=True)
    return path
