"""The landing zone: which files are there to take in, and their content hashes (a file's
identity in the manifest: the same bytes sent again are the same delivery)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

LANDING_SUFFIXES = (".jsonl", ".ndjson", ".csv")


def file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def landing_files(paths: Iterable[Path]) -> list[Path]:
    """Files named directly, plus landing files found in folders (any case of the suffix,
    hidden files skipped), in name order."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(
                sorted(
                    p
                    for p in path.rglob("*")
                    if p.is_file()
                    and p.suffix.lower() in LANDING_SUFFIXES
                    and not p.name.startswith(".")
                )
            )
        else:
            found.append(path)
    return found
