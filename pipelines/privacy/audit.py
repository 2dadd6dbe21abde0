"""PII audit: look for personal data and for the pseudonymisation key in everything SealDeal writes.

``sealdeal audit`` and the last task of the ``build_insights`` DAG scan, under SEALDEAL_HOME:

- every DuckDB file (the warehouse, every published snapshot, ``as_of/`` builds): every text
  column of every table, in every schema (VARCHAR, JSON, ENUM, and lists, structs and maps that
  hold text, read as their text form);
- every Parquet file (published exports, staged chunks): every text column, the same way;
- every text file (GX validation results and Data Docs, summaries, CSV/JSON exports, Airflow task
  logs), line by line;
- the XCom table of Airflow's metadata DB (``airflow/airflow.db``).

Not scanned: the landing zone and any archive of landing files (raw input by definition), the key
file, the dashboards' access log (``Settings.access_log_dir``: sign-in e-mails by design,
docs/access.md), the cluster's servers (``Settings.cluster_dir``: their data and logs; the
Airflow task logs in it are scanned), Airflow's configuration and the Data Docs' static assets
(CSS, JavaScript, fonts, images).

What counts as a finding, per text value:

- ``email``, ``phone``, ``url``: the scrubber's own regexes (``pipelines.privacy.scrub``), so the
  audit and the scrubber agree on what these look like. Values that are not phone numbers but can
  look like one to a regex written for notes are blanked before the phone rule: ISO timestamps,
  clock times, hex words (pseudonyms, hashes), UUIDs, ids with a letter prefix (``SC-DEB-0012345``),
  zero-padded counters and long decimals. A URL counts when it has a scheme, starts with ``www.`` or
  has a path (``linkedin.com/in/...``); bare domains (``acme.io``, or Python module paths like
  ``pandas.io`` in a traceback) and the tools' own hosts (the CDNs of GX Data Docs, localhost) do
  not. E-mails are blanked first so that their domain is not a URL too.
- ``client_ref``: the raw ``client_ref`` values of the landing files of the last
  ``ref_days`` days (landing zone and archive), read with the ingestion's own readers and
  searched as exact substrings. Only distinctive values are searched: at least
  ``MIN_REF_CHARS`` characters and a digit, an ``@`` or a space (``C000123``, ``Jane Doe``), and
  not only lower-case hex (that would match inside every pseudonym).
- ``secret_key``: the pseudonymisation key as text, hex and base64, and the per-firm keys derived
  from it (hex and base64) for the firms of those landing files.

The scanner (batches of values, one Polars expression per rule and batch) and the readers of
each kind of file live in pipelines.privacy.audit_scan.

The report gives, per finding, where (file, then ``schema.table.column`` or the line), the kind,
how many rows or lines match and a sample redacted to its shape (``jxxx.xxx(at)xxxxxxx.xxx``):
the report itself must not leak what it found, nor match a rule when it is quoted in a log.
Usage, measurements and limits: docs/privacy.md.
"""

from __future__ import annotations

import base64
import os
import re
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb
import polars as pl

from pipelines.core.settings import MissingKeyError, Settings, load_secret_key
from pipelines.landing.records import FileUnusable, iter_raw_chunks, landing_format

# The scanner moved to audit_scan; what callers import from here stays importable from here.
from pipelines.privacy.audit_scan import BATCH_VALUES as BATCH_VALUES
from pipelines.privacy.audit_scan import (
    KINDS,
    SCANNERS,
    AuditError,
    Finding,
    Needles,
    Scanner,
    scan_texts,
)
from pipelines.privacy.audit_scan import TOOL_HOSTS as TOOL_HOSTS
from pipelines.privacy.audit_scan import redact as redact

__all__ = ["AuditError", "AuditReport", "Finding", "Needles", "PiiFound", "run_audit", "scan_texts"]

MIN_REF_CHARS = 6
REF_DAYS = 90  # landing files younger than this give the known client_refs
MIN_SECRET_CHARS = 8  # a shorter key form would match by chance; it is reported as unchecked

DUCKDB_SUFFIXES = (".duckdb",)
PARQUET_SUFFIXES = (".parquet",)
DATA_TEXT_SUFFIXES = (".csv", ".tsv", ".json", ".jsonl", ".ndjson", ".xml")
REPORT_TEXT_SUFFIXES = (".html", ".htm", ".log", ".txt", ".md", ".yml", ".yaml")
TEXT_SUFFIXES = DATA_TEXT_SUFFIXES + REPORT_TEXT_SUFFIXES
AIRFLOW_DB = "airflow.db"
SERVER_DBS = ("postgresql", "mysql")  # metadata DBs whose XComs are read through SQLAlchemy


class PiiFound(Exception):
    """Raised by the DAG task when the audit finds something; the message is the report."""


@dataclass
class AuditReport:
    home: str
    findings: list[Finding] = field(default_factory=list)
    scanned: dict[str, int] = field(default_factory=dict)
    unchecked: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def clean(self) -> bool:
        return not self.findings

    def counts(self) -> dict[str, int]:
        """Matching values per kind (zero kinds included): XCom-safe."""
        out = dict.fromkeys(KINDS, 0)
        for f in self.findings:
            out[f.kind] += f.count
        return out

    def summary(self) -> dict:
        """Counts only, nothing found is quoted: what the DAG task returns as its XCom."""
        return {
            "clean": self.clean,
            "findings": len(self.findings),
            "values_by_kind": self.counts(),
            "scanned": dict(self.scanned),
            "unchecked": len(self.unchecked),
            "seconds": round(self.seconds, 2),
        }

    def to_dict(self) -> dict:
        return {
            "home": self.home,
            "clean": self.clean,
            "findings": [asdict(f) for f in self.findings],
            "values_by_kind": self.counts(),
            "scanned": dict(self.scanned),
            "unchecked": list(self.unchecked),
            "seconds": round(self.seconds, 2),
        }

    def format(self) -> str:
        s = self.scanned
        lines = [
            f"PII audit of {self.home}: "
            + ("clean" if self.clean else f"{len(self.findings)} finding(s)"),
            f"scanned {s.get('values', 0):,} text values in {s.get('duckdb_files', 0)} DuckDB "
            f"file(s) ({s.get('tables', 0)} tables, {s.get('columns', 0)} text columns), "
            f"{s.get('parquet_files', 0)} Parquet file(s), {s.get('text_files', 0)} text "
            f"file(s), {s.get('xcom_rows', 0)} XCom row(s); searched {s.get('client_refs', 0):,} "
            f"known client_ref(s) from {s.get('landing_files', 0)} landing file(s) and "
            f"{s.get('secret_forms', 0)} form(s) of the key; {self.seconds:.1f}s",
        ]
        lines += [f"  unchecked: {u}" for u in self.unchecked]
        lines += ["  " + f.describe() for f in self.findings]
        return "\n".join(lines)


# --------------------------------------------------------------------------- what to look for


def distinctive_ref(ref: str) -> bool:
    """Whether a raw client_ref is specific enough to search for as a substring everywhere."""
    if len(ref) < MIN_REF_CHARS:
        return False
    if re.fullmatch(r"[0-9a-f-]+", ref):  # would match inside pseudonyms and hashes
        return False
    return bool(re.search(r"[0-9@\s]", ref))


def raw_dirs(settings: Settings) -> list[Path]:
    """Folders that hold raw landing data by design: read for refs, never audited."""
    dirs = [settings.landing_dir, settings.home / "archive"]
    archive = getattr(settings, "archive_dir", None)  # if a processed-files archive exists
    if archive is not None:
        dirs.append(Path(archive))
    return dirs


def _landing_paths(settings: Settings, ref_days: int | None) -> list[Path]:
    cutoff = time.time() - ref_days * 86400 if ref_days else None
    found = []
    for root in raw_dirs(settings):
        if not root.is_dir():
            continue
        for path in sorted(root.rglob("*")):
            if not path.is_file() or path.name.startswith("."):
                continue
            try:
                landing_format(path)
            except FileUnusable:
                continue
            if cutoff is None or path.stat().st_mtime >= cutoff:
                found.append(path)
    return found


def secret_forms(master_key: bytes, firm_ids: list[str]) -> list[str]:
    """The key as it could be written out: text, hex, base64; and the per-firm keys."""
    from pipelines.privacy.anonymise import firm_key

    def forms(key: bytes) -> list[str]:
        b64 = base64.b64encode(key).decode()
        url = base64.urlsafe_b64encode(key).decode()
        return [key.hex(), b64, b64.rstrip("="), url.rstrip("=")]

    out = [master_key.decode("utf-8", "replace"), *forms(master_key)]
    for firm in sorted(set(firm_ids)):
        out += forms(firm_key(master_key, firm))
    return sorted({f for f in out if len(f) >= MIN_SECRET_CHARS})


def _ref_frames(path: Path) -> Iterator[pl.DataFrame]:
    """client_ref and firm_id of every record of a landing file, as ingestion reads them.

    CSV goes through the ingestion's reader (pipelines.landing.records). For JSON Lines, DuckDB
    reads just these two fields of every line, about 15 times faster than the full record reader
    (which renders all 27 fields of each line); when DuckDB cannot read the file (not UTF-8, a
    broken line it will not skip), the record reader decides, as in ingestion.
    """
    if landing_format(path) == "jsonl":
        con = duckdb.connect(":memory:")
        try:
            frame = con.sql(
                "SELECT client_ref, firm_id FROM read_json(?, format = 'newline_delimited', "
                "columns = {client_ref: 'VARCHAR', firm_id: 'VARCHAR'}, ignore_errors = true, "
                "maximum_object_size = 1073741824)",
                params=[str(path)],
            ).pl()
        except duckdb.Error:
            frame = None
        finally:
            con.close()
        if frame is not None:
            yield frame
            return
    for raw in iter_raw_chunks(path):
        yield raw.select("client_ref", "firm_id")


def load_needles(
    settings: Settings, *, ref_days: int | None = REF_DAYS, unchecked: list[str] | None = None
) -> Needles:
    """Known raw client_refs of recent landing files, and the forms of the key."""
    unchecked = unchecked if unchecked is not None else []
    refs: set[str] = set()
    firms: set[str] = set()
    paths = _landing_paths(settings, ref_days)
    for path in paths:
        try:
            for raw in _ref_frames(path):
                frame = raw.select(
                    pl.col("client_ref").str.strip_chars(), pl.col("firm_id").str.strip_chars()
                )
                refs.update(frame["client_ref"].drop_nulls().unique().to_list())
                firms.update(frame["firm_id"].drop_nulls().unique().to_list())
        except FileUnusable:
            unchecked.append(f"landing file {path.name} is unreadable: its client_refs are unknown")
    if not paths:
        unchecked.append("no recent landing files: no known client_refs to search for")
    try:
        key = load_secret_key(settings)
    except MissingKeyError:
        key = None
        unchecked.append("no pseudonymisation key configured: the key was not searched for")
    secrets = secret_forms(key, sorted(firms)) if key else []
    if key and len(key) < MIN_SECRET_CHARS:
        unchecked.append(
            f"the key is shorter than {MIN_SECRET_CHARS} characters: only its longer encodings "
            "were searched for"
        )
    return Needles(tuple(sorted(r for r in refs if distinctive_ref(r))), tuple(secrets), len(paths))


def _location(path: Path | str, home: Path) -> str:
    """Where a finding is: a path below SEALDEAL_HOME, or a database server without password."""
    if isinstance(path, str):
        from sqlalchemy.engine import make_url

        return make_url(path).render_as_string(hide_password=True)
    return str(path.relative_to(home)) if _inside(path, home) else str(path)


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def audit_locations(
    settings: Settings, airflow_home: Path | None = None, airflow_db: str | None = None
) -> Iterator[tuple]:
    """(kind, path) of everything to scan: kind is duckdb, parquet, text or xcom (or
    xcom_server, whose path is the SQLAlchemy URL of `airflow_db`, a server's metadata DB).

    Airflow's homes (the given one and SEALDEAL_HOME/airflow) contribute their task logs and the
    XCom table of their metadata DB only; their configuration is no output.
    """
    home = settings.home.resolve()
    airflow_homes = list(dict.fromkeys(p.resolve() for p in (airflow_home, home / "airflow") if p))
    skip = [d.resolve() for d in raw_dirs(settings)] + airflow_homes
    skip.append(settings.access_log_dir.resolve())  # e-mails by design, never an output
    skip.append(settings.cluster_dir.resolve())  # servers' own files; Airflow's logs come below
    key_file = settings.key_file.resolve()
    for root, dirs, files in os.walk(home):
        here = Path(root)
        dirs[:] = sorted(
            d
            for d in dirs
            if not d.startswith(".")
            and not d.endswith(".partial")
            and not any(_inside((here / d).resolve(), s) for s in skip)
        )
        yield from _classified(here, files, key_file)
    for airflow in airflow_homes:
        for root, dirs, files in os.walk(airflow / "logs"):
            dirs.sort()
            yield from _classified(Path(root), files, key_file)
        if (airflow / AIRFLOW_DB).is_file():
            yield "xcom", airflow / AIRFLOW_DB
    # Only a database server's URL: Airflow 3 hands its tasks a placeholder, for a task may not
    # open the metadata DB (an operator's `sealdeal audit` reads a cluster's XComs).
    if airflow_db and airflow_db.startswith(SERVER_DBS):
        yield "xcom_server", airflow_db


def _classified(folder: Path, files: list[str], key_file: Path) -> Iterator[tuple[str, Path]]:
    for name in sorted(files):
        path = folder / name
        if name.startswith(".") or path.is_symlink() or path == key_file:
            continue  # a symlink (published/current) points at a file scanned anyway
        lower = name.lower()
        if lower.endswith(DUCKDB_SUFFIXES):
            yield "duckdb", path
        elif lower.endswith(PARQUET_SUFFIXES):
            yield "parquet", path
        elif lower.endswith(TEXT_SUFFIXES):
            yield "text", path


def run_audit(
    settings: Settings | None = None,
    *,
    airflow_home: Path | None = None,
    airflow_db: str | None = None,
    ref_days: int | None = REF_DAYS,
    needles: Needles | None = None,
) -> AuditReport:
    """Scan every output under SEALDEAL_HOME (and the Airflow home's logs and XComs, those of
    the metadata DB at the SQLAlchemy URL `airflow_db` too when it is a server)."""
    started = time.perf_counter()
    settings = settings or Settings.from_env()
    home = settings.home.resolve()
    if not home.is_dir():
        raise AuditError(f"SEALDEAL_HOME {home} does not exist: nothing to audit")
    unchecked: list[str] = []
    needles = needles or load_needles(settings, ref_days=ref_days, unchecked=unchecked)
    scanner = Scanner(needles)
    scanned = dict.fromkeys(
        ("duckdb_files", "tables", "columns", "parquet_files", "text_files", "xcom_rows"), 0
    )
    for kind, path in audit_locations(settings, airflow_home, airflow_db):
        location = _location(path, home)
        SCANNERS[kind](path, location, scanner, scanned)
    findings = scanner.findings()
    scanned |= {
        "values": scanner.values,
        "client_refs": len(needles.client_refs),
        "landing_files": needles.landing_files,
        "secret_forms": len(needles.secrets),
    }
    return AuditReport(str(home), findings, scanned, unchecked, time.perf_counter() - started)
