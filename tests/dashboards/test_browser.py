"""The real thing: `sealdeal serve` (= `streamlit run`) on a free port, driven by headless
Chromium. Checks the home page shows the tactic ranking, changes a filter, saves a screenshot.

Uses Debian's chromium (never a downloaded browser). Without it the test skips locally, but
fails when the environment variable CI is set: in CI it must run.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TIMEOUT_MS = 90_000

pytestmark = pytest.mark.browser


def _require_chromium() -> None:
    if CHROMIUM.exists():
        return
    message = f"{CHROMIUM} not found (Debian: apt-get install chromium)"
    if os.environ.get("CI"):
        pytest.fail(f"{message}; CI is set, so the browser test may not be skipped")
    pytest.skip(f"{message}; skipped locally (it fails instead when CI is set)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(built_home, tmp_path):
    _require_chromium()
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "SEALDEAL_FIRM"}
    log_path = tmp_path / "streamlit.log"
    serve = ["--home", str(built_home.home), "serve", "--port", str(port)]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pipelines.cli", *serve],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + TIMEOUT_MS / 1000
        while True:
            if proc.poll() is not None:
                pytest.fail(f"streamlit exited early:\n{log_path.read_text()}")
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"streamlit did not come up:\n{log_path.read_text()}")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log = log_path.read_text()
        assert "Traceback" not in log, log


def test_home_page_in_a_real_browser(server, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)  # the first run loads the snapshot: be generous
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1100})
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(server)

            expect(page.get_by_role("heading", name="Seal the deal")).to_be_visible()
            expect(page.get_by_role("heading", name="In plain words")).to_be_visible()
            chart = page.locator("[data-testid='stVegaLiteChart']").first
            expect(chart).to_be_visible()
            expect(chart.locator("canvas, svg").first).to_be_visible()
            ranking = page.get_by_text(re.compile(r"^1\. .*Clients who "))
            expect(ranking).to_be_visible()
            summary = page.get_by_text(re.compile(r"interviews \(.* decided\) of .* clients"))
            before = summary.inner_text()
            sentences_before = page.get_by_text(re.compile(r"Clients who ")).all_inner_texts()
            assert len(sentences_before) == 5

            stage = page.get_by_test_id("stSidebar").get_by_test_id("stMultiSelect")
            stage = stage.filter(has_text="Stage")
            stage.click()
            page.get_by_role("option", name="hiring_manager", exact=True).click()
            page.keyboard.press("Escape")

            # Streamlit replaces elements as the rerun reaches them: wait for both to change.
            expect(summary).not_to_have_text(before)
            expect(ranking).not_to_have_text(sentences_before[0])
            expect(page.get_by_test_id("stStatusWidget")).to_be_hidden()
            after = summary.inner_text()
            assert int(after.split()[0].replace(",", "")) < int(before.split()[0].replace(",", ""))
            sentences_after = page.get_by_text(re.compile(r"Clients who ")).all_inner_texts()
            assert len(sentences_after) == 5
            assert sentences_after != sentences_before

            shot = tmp_path / "home.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 20_000
            keep = os.environ.get("SEALDEAL_SCREENSHOT_DIR")  # e.g. a CI artifact folder
            if keep:
                Path(keep).mkdir(parents=True, exist_ok=True)
                shutil.copy(shot, Path(keep) / "home.png")
        finally:
            browser.close()
