"""The access log of signed-in mode: who signed in, which pages they viewed, which CSV files
they downloaded.

Append-only JSON Lines under ``$SEALDEAL_HOME/access_log/``, one file per month
(``access-2026-11.jsonl``), one object per event::

    {"time": "2026-11-26T09:14:03Z", "identity": "ana@north-star.example", "role": "coach",
     "firm": "north-star", "event": "page_view", "page": "Seal the deal", "download": null}

Nothing else about the person is written (no name, address, browser or token). A month's file
is deleted once the month ended more than ``RETENTION_DAYS`` ago, at server start
(``sealdeal serve``) and whenever a new month's file is begun. The PII audit skips the folder:
it holds sign-in e-mails by design (``Settings.access_log_dir``).
"""

from __future__ import annotations

import json
import os
import re
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from pipelines.core.settings import Settings

RETENTION_DAYS = 90
EVENTS = ("sign_in", "refused", "page_view", "download", "sign_out")
_FILE = re.compile(r"access-(\d{4})-(\d{2})\.jsonl")
_lock = threading.Lock()  # sessions run on threads of one process


def log_dir(home: Path) -> Path:
    return Settings(home=home).access_log_dir


def month_file(home: Path, when: datetime) -> Path:
    return log_dir(home) / f"access-{when:%Y-%m}.jsonl"


def record(
    home: Path,
    event: str,
    identity: str,
    role: str | None,
    firm: str | None,
    *,
    page: str | None = None,
    download: str | None = None,
    now: datetime | None = None,
) -> None:
    """Append one event (a whole line, flushed: a crash loses at most the line being written)."""
    if event not in EVENTS:
        raise ValueError(f"unknown access-log event {event!r}")
    now = now or datetime.now(UTC)
    entry = {
        "time": f"{now.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}",
        "identity": identity,
        "role": role,
        "firm": firm,
        "event": event,
        "page": page,
        "download": download,
    }
    line = json.dumps(entry, ensure_ascii=False)
    path = month_file(home, now)
    with _lock:
        new_month = not path.exists()
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # O_APPEND: earlier lines are never rewritten; 0600: it names people.
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as f:
            f.write(line + "\n")
    if new_month:
        prune(home, now)


def _month_end(year: int, month: int) -> date:
    first_of_next = date(year + month // 12, month % 12 + 1, 1)
    return first_of_next - timedelta(days=1)


def prune(home: Path, now: datetime | None = None, days: int = RETENTION_DAYS) -> list[str]:
    """Delete the monthly files whose every entry is older than ``days``; their names."""
    today = (now or datetime.now(UTC)).astimezone(UTC).date()
    folder = log_dir(home)
    removed = []
    for path in sorted(folder.glob("access-*.jsonl")) if folder.is_dir() else []:
        match = _FILE.fullmatch(path.name)
        if match and (today - _month_end(int(match[1]), int(match[2]))).days > days:
            path.unlink(missing_ok=True)
            removed.append(path.name)
    return removed


def read(home: Path) -> list[dict]:
    """Every event still kept, oldest first (for tests and operators' scripts)."""
    folder = log_dir(home)
    rows: list[dict] = []
    for path in sorted(folder.glob("access-*.jsonl")) if folder.is_dir() else []:
        rows += [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return rows
