"""A process's own peak resident memory, for the benchmark's figures (ingest's worker processes
report theirs with their results)."""

from __future__ import annotations

from pathlib import Path


def own_peak_rss() -> int | None:
    """This process's peak resident memory in bytes (VmHWM), None where /proc is missing."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024  # kB
    return None
