"""The browser-test infrastructure, pinned for real: headless Chromium (Debian's, through
Playwright) reads a real `passerelle serve` and keeps screenshots (tests/browser.py)."""

from __future__ import annotations

import struct
import sys
from typing import TYPE_CHECKING

import pytest

from tests import browser as browsing
from tests.acceptance.conftest import Server, Servers

if TYPE_CHECKING:
    from playwright.async_api import Page


@pytest.fixture(scope="module")
def served(servers: Servers) -> Server:
    """One `passerelle serve` on 127.0.0.1 (port read back), stopped by pid at module end."""
    return servers.new("browser").start()


async def body_text(page: Page, url: str) -> str:
    """Open `url` (asserting a 200) and return the text the page renders."""
    response = await page.goto(url)
    assert response is not None and response.status == 200, url
    return await page.inner_text("body")


@browsing.BROWSER
async def test_healthz_and_metrics_render_in_chromium(page: Page, served: Server) -> None:
    """Chromium opens a real server's /healthz and /metrics and renders their text."""
    assert (await body_text(page, f"{served.base_url}/healthz")).strip() == "ok"
    await browsing.snap(page, "01-healthz")
    metrics = await body_text(page, f"{served.base_url}/metrics")
    assert "# TYPE passerelle_store_commits_total counter" in metrics, metrics[:2000]
    assert "# TYPE passerelle_legacy_request_seconds histogram" in metrics, metrics[:2000]
    shot = await browsing.snap(page, "02-metrics")
    assert shot.is_file()


@browsing.BROWSER
async def test_snap_writes_a_png_under_artifacts(page: Page, served: Server) -> None:
    """snap() writes tests/artifacts/<test name>/<name>.png, a real PNG of the page."""
    await page.set_viewport_size({"width": 800, "height": 600})
    await body_text(page, f"{served.base_url}/healthz")
    shot = await browsing.snap(page, "healthz")
    expected = browsing.ARTIFACTS / "test_snap_writes_a_png_under_artifacts" / "healthz.png"
    assert shot == expected
    data = expected.read_bytes()
    assert data.startswith(browsing.PNG_SIGNATURE), data[:16]
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (800, 600)


def test_missing_browser_fails_under_ci_and_skips_elsewhere(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With no chromium or no playwright, browser tests fail (one line) under CI and are
    skipped elsewhere."""
    monkeypatch.setattr(browsing, "chromium_path", lambda: None)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="browser tests must run under CI: no chromium"):
        browsing.require()
    for off in ("", "0", "false", "no"):
        monkeypatch.setenv("CI", off)
        with pytest.raises(pytest.skip.Exception, match="no browser: no chromium on PATH"):
            browsing.require()
    monkeypatch.setitem(sys.modules, "playwright.async_api", None)  # import fails
    with pytest.raises(pytest.skip.Exception, match="no browser: the Python package playwright"):
        browsing.require()
    monkeypatch.setenv("CI", "1")
    with pytest.raises(pytest.fail.Exception, match="under CI: the Python package playwright"):
        browsing.require()
