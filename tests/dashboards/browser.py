"""What the browser tests share: Debian's chromium (never a downloaded browser), a free port on
127.0.0.1, and `sealdeal serve` as a real process, stopped afterwards."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
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


def require_chromium() -> None:
    """Skip locally without chromium; fail when CI is set (in CI the browser tests must run)."""
    if CHROMIUM.exists():
        return
    message = f"{CHROMIUM} not found (Debian: apt-get install chromium)"
    if os.environ.get("CI"):
        pytest.fail(f"{message}; CI is set, so the browser test may not be skipped")
    pytest.skip(f"{message}; skipped locally (it fails instead when CI is set)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(
    home: Path, port: int, log_path: Path, env: dict[str, str] | None = None
) -> Iterator[str]:
    """`sealdeal serve` on 127.0.0.1:port until the block ends; yields its URL. The server's
    output must hold no traceback."""
    inherited = ("SEALDEAL_FIRM", "SEALDEAL_AUTH_CONFIG")  # only what the test gives counts
    base = {k: v for k, v in os.environ.items() if k not in inherited}
    args = ["--home", str(home), "serve", "--port", str(port), "--address", "127.0.0.1"]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pipelines.app.cli", *args],
            env=base | (env or {}),
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


def settled(page) -> None:
    """Wait until Streamlit has finished the rerun."""
    from playwright.sync_api import expect

    expect(page.get_by_test_id("stStatusWidget")).to_be_hidden()
