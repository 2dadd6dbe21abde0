"""The landing zone: which files are there to take in, whose zone each came through, and their
content hashes (a file's identity in the manifest: the same bytes sent again are the same
delivery).

Files arrive in per-firm zones, `landing/<firm_id>/…`: the zone, not the file, says which firm
delivered it, so that a firm can neither write into nor erase clients of another firm (its
records naming another firm are quarantined). A single-firm deployment
(`SEALDEAL_SINGLE_FIRM`) has one zone, the whole landing folder.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pipelines.core import spec

LANDING_SUFFIXES = (".jsonl", ".ndjson", ".csv")


@dataclass(frozen=True)
class Delivery:
    """A landing file and the firm whose zone it came through (None: outside every zone)."""

    path: Path
    zone: str | None

    def outside_zones(self) -> str:
        """Why a file outside every zone is held: what to do with it."""
        return (
            f"{self.path.name} is outside any firm's landing zone: files go in "
            "landing/<firm_id>/, the delivering firm's own folder (or set SEALDEAL_SINGLE_FIRM "
            "for a single-firm deployment); nothing of it was used, move it and it is taken in"
        )


def file_hash(path: Path, zone: str | None = None) -> str:
    """A delivery's identity: SHA-256 of its zone's firm id and its bytes, so that the same
    bytes delivered through another firm's zone are another delivery (a firm that first sends
    a copy of another firm's file cannot make the real one look delivered already)."""
    digest = hashlib.sha256()
    if zone is not None:
        digest.update(f"zone:{zone}\n".encode())
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def landing_files(paths: Iterable[Path]) -> list[Path]:
    """Files named directly, plus landing files found in folders (any case of the suffix,
    hidden files skipped), each folder's in arrival order: by file name (exports are named by
    date), whatever zone they lie in."""
    found: list[Path] = []
    for path in paths:
        found.extend(sorted(_files_in(path), key=_arrival) if path.is_dir() else [path])
    return found


def deliveries(
    paths: Iterable[Path], *, landing_dir: Path, single_firm: str | None = None
) -> list[Delivery]:
    """The landing files in `paths` (as landing_files) with their zones.

    A file's zone is the first folder below its root: the landing folder for files inside it,
    else the folder named in `paths` it was found in. A file lying at a root, in a folder that
    is no firm id, or named directly outside the landing folder is in no zone. With
    `single_firm` every file is that firm's.
    """
    if single_firm is not None and not re.match(spec.FIRM_ID_PATTERN, single_firm):
        raise ValueError(
            f"the single firm {single_firm!r} is not a firm id ({spec.FIRM_ID_PATTERN})"
        )
    found: list[Delivery] = []
    for path in paths:
        if _inside(path, landing_dir):
            root: Path | None = landing_dir
        else:
            root = path if path.is_dir() else None
        found.extend(Delivery(p, single_firm or _zone(p, root)) for p in landing_files([path]))
    return found


def _arrival(path: Path) -> tuple[str, str]:
    return path.name, str(path)


def _files_in(folder: Path) -> list[Path]:
    return [
        p
        for p in folder.rglob("*")
        if p.is_file() and p.suffix.lower() in LANDING_SUFFIXES and not p.name.startswith(".")
    ]


def _inside(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())


def _zone(path: Path, root: Path | None) -> str | None:
    if root is None:
        return None
    parts = path.resolve().relative_to(root.resolve()).parts
    if len(parts) < 2 or not re.match(spec.FIRM_ID_PATTERN, parts[0]):
        return None
    return parts[0]
