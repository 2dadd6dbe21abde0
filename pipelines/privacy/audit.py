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
file, Airflow's configuration and the Data Docs' static assets (CSS, JavaScript, fonts, images).

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

Everything is vectorised: each distinct value of a column (DuckDB groups it first, with its row
count) or each line of a text file goes into batches of ``BATCH_VALUES``, and each rule is one
Polars expression per batch (a regex, or one Aho-Corasick automaton for all known refs and key
forms). Only values that match a cheap first test are looked at again with the stricter rules.

The report gives, per finding, where (file, then ``schema.table.column`` or the line), the kind,
how many rows or lines match and a sample redacted to its shape (``jxxx.xxx(at)xxxxxxx.xxx``):
the report itself must not leak what it found, nor match a rule when it is quoted in a log.
Usage, measurements and limits: docs/privacy.md.
"""

from __future__ import annotations

import base64
import os
import re
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb
import polars as pl

from pipelines.core.settings import MissingKeyError, Settings, load_secret_key
from pipelines.landing.records import FileUnusable, iter_raw_chunks, landing_format
from pipelines.privacy.scrub import _EMAIL as EMAIL_PATTERN
from pipelines.privacy.scrub import _PHONE as PHONE_PATTERN
from pipelines.privacy.scrub import _URL as URL_PATTERN

__all__ = ["AuditError", "AuditReport", "Finding", "Needles", "PiiFound", "run_audit", "scan_texts"]

KINDS = ("email", "phone", "url", "client_ref", "secret_key")
BATCH_VALUES = 1_000_000  # distinct text values per scanning batch
MIN_REF_CHARS = 6
REF_DAYS = 90  # landing files younger than this give the known client_refs
MIN_SECRET_CHARS = 8  # a shorter key form would match by chance; it is reported as unchecked

DUCKDB_SUFFIXES = (".duckdb",)
PARQUET_SUFFIXES = (".parquet",)
DATA_TEXT_SUFFIXES = (".csv", ".tsv", ".json", ".jsonl", ".ndjson", ".xml")
REPORT_TEXT_SUFFIXES = (".html", ".htm", ".log", ".txt", ".md", ".yml", ".yaml")
TEXT_SUFFIXES = DATA_TEXT_SUFFIXES + REPORT_TEXT_SUFFIXES
AIRFLOW_DB = "airflow.db"

# Tokens blanked before the phone rule: they are never phone numbers, but the notes-oriented
# phone regex can fire inside them (a timestamp's "18:04:00.069709+00:00", an id's "0012345").
_NOT_A_PHONE = "|".join(
    [
        # ISO 8601 dates and timestamps: 2026-03-02, 2026-03-02T18:04:00.069709+00:00
        r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?"
        r"(?:Z|[+-]\d{2}(?::?\d{2})?)?)?",
        # clock times and durations: 18:04, 0:00:01.234567
        r"\b\d{1,3}:\d{2}(?::\d{2})?(?:[.,]\d+)?",
        # UUIDs
        r"(?i:\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b)",
        # hex words with at least one letter: pseudonyms, content hashes, snapshot digests
        r"\b[0-9a-fA-F]*[a-fA-F][0-9a-fA-F]*\b",
        # ids with a letter prefix: SC-DEB-0012345, int-77, cl_42-7
        r"\b[A-Za-z][A-Za-z0-9]*(?:[-_][A-Za-z][A-Za-z0-9]*)*[-_]\d+(?:[-_.]\d+)*\b",
        # zero-padded counters: 0000017, 2025-000123 (a number dialled with the international
        # prefix 00 has a separator after the country code: 0044 20 7946 0958)
        r"\b00\d{4,}\b",
        # decimals as tools print them: 0.0123456789, 12.3456789e-05
        r"\b\d+\.\d{5,}(?:[eE][-+]?\d+)?\b",
        # version strings: v1.24.0
        r"\bv\d+(?:\.\d+)+\b",
    ]
)
# Hosts the tools themselves write into their output (GX Data Docs pages link their CDNs,
# Airflow logs its own API): never personal.
TOOL_HOSTS = (
    "greatexpectations.io",
    "great-expectations-web-assets.s3.us-east-2.amazonaws.com",
    "cdn.jsdelivr.net",
    "cdnjs.cloudflare.com",
    "unpkg.com",
    "stackpath.bootstrapcdn.com",
    "maxcdn.bootstrapcdn.com",
    "code.jquery.com",
    "airflow.apache.org",
    "www.w3.org",
    "localhost",
    "127.0.0.1",
    "0.0.0.0",
)
_TOOL_URL = (
    r"(?i:\b(?:(?:https?|ftp)://)?(?:[a-z0-9-]+\.)*(?:"
    + "|".join(re.escape(h) for h in TOOL_HOSTS)
    + r")(?::\d+)?(?:[/?#][^\s<>\"'`]*)?)"
)
# A URL found by the scrubber's regex counts when it is a link, not just a domain name.
_LINK = r"(?i)^(?:[a-z]+://|www\d{0,3}\.)|/"


class AuditError(RuntimeError):
    """The audit cannot run (a locked or unreadable database, no home): exit code 2."""


class PiiFound(Exception):
    """Raised by the DAG task when the audit finds something; the message is the report."""


@dataclass(frozen=True)
class Finding:
    location: str  # file, relative to SEALDEAL_HOME when under it
    where: str  # schema.table.column, or "text" for a text file, "xcom.value" for XComs
    kind: str  # one of KINDS
    count: int  # values (rows, lines) that match
    first_line: int | None  # text files and XComs: the first matching line / row id
    sample: str  # the first match, redacted to its shape

    def describe(self) -> str:
        at = f"{self.location}: {self.where}"
        if self.first_line is not None:
            at += f" (first at line/row {self.first_line})"
        return f"{self.kind:<10} {self.count:>8}  {at}  e.g. {self.sample}"


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


@dataclass(frozen=True)
class Needles:
    """Exact strings to look for: raw client_refs and the forms of the key."""

    client_refs: tuple[str, ...] = ()
    secrets: tuple[str, ...] = ()
    landing_files: int = 0


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


# --------------------------------------------------------------------------- redaction


def redact(value: str, kind: str) -> str:
    """The shape of a found value, never the value: its first letter, then x/X per letter, # per
    digit, (at) for @. No rule matches a shape, so a report quoted in a log (the DAG task's
    failure) does not become a finding of the next audit."""
    if kind == "secret_key":
        return f"<a form of the pseudonymisation key, {len(value)} characters>"
    value = value[:60]
    shape = "".join(
        "#" if c.isdigit() else "X" if c.isupper() else "x" if c.isalpha() else c for c in value[1:]
    )
    first = "#" if value[:1].isdigit() else value[:1]
    return (first + shape).replace("@", "(at)")


# --------------------------------------------------------------------------- the scanner


class _Scanner:
    """Collects (source, line, text) values into batches and runs every rule per batch."""

    def __init__(self, needles: Needles, batch_values: int = BATCH_VALUES):
        self.needles = needles
        self.batch_values = batch_values
        self.sources: list[tuple[str, str]] = []
        self._buffer: list[pl.DataFrame] = []
        self._buffered = 0
        # (source index, kind) -> [count, first line, sample]
        self.hits: dict[tuple[int, str], list] = {}
        self.values = 0

    def source(self, location: str, where: str) -> int:
        self.sources.append((location, where))
        return len(self.sources) - 1

    def add(
        self,
        src: int,
        texts: pl.Series,
        lines: pl.Series | None = None,
        rows: pl.Series | None = None,
    ) -> None:
        """Values of one source; `lines` numbers them (text files), `rows` counts the rows that
        hold each (distinct values of a column)."""
        n = len(texts)
        frame = pl.DataFrame(
            {
                "src": pl.repeat(src, n, dtype=pl.UInt32, eager=True),
                "line": lines
                if lines is not None
                else pl.repeat(None, n, dtype=pl.Int64, eager=True),
                "rows": rows if rows is not None else pl.repeat(1, n, dtype=pl.Int64, eager=True),
                "text": texts,
            },
            schema={"src": pl.UInt32, "line": pl.Int64, "rows": pl.Int64, "text": pl.String},
        ).filter(pl.col("text").is_not_null() & (pl.col("text") != ""))
        if frame.is_empty():
            return
        self._buffer.append(frame)
        self._buffered += frame.height
        if self._buffered >= self.batch_values:
            self.flush()

    def flush(self) -> None:
        if not self._buffer:
            return
        batch = pl.concat(self._buffer, rechunk=True)
        self._buffer, self._buffered = [], 0
        self.values += batch["rows"].sum()
        text = pl.col("text")
        none = pl.lit(False)
        first = batch.with_columns(
            text.str.contains(EMAIL_PATTERN).alias("email"),
            text.str.contains(PHONE_PATTERN).alias("phone"),
            text.str.contains(URL_PATTERN).alias("url"),
            (
                text.str.contains_any(list(self.needles.client_refs))
                if self.needles.client_refs
                else none
            ).alias("client_ref"),
            (
                text.str.contains_any(list(self.needles.secrets)) if self.needles.secrets else none
            ).alias("secret_key"),
        ).filter(pl.any_horizontal(KINDS))
        if first.is_empty():
            return
        self._confirm(first)

    def _confirm(self, rows: pl.DataFrame) -> None:
        """Stricter rules on the few rows that matched a first test; record the findings."""
        text = pl.col("text")
        no_email = text.str.replace_all(EMAIL_PATTERN, " ")
        no_links = no_email.str.replace_all(_TOOL_URL, " ")
        phone_view = no_links.str.replace_all(URL_PATTERN, " ").str.replace_all(_NOT_A_PHONE, " ")
        links = (
            no_links.str.extract_all(URL_PATTERN)
            .list.eval(pl.element().filter(pl.element().str.contains(_LINK)))
            .list.first()
        )
        rows = rows.with_columns(
            pl.when("email").then(text.str.extract(EMAIL_PATTERN, 0)).alias("email_match"),
            pl.when("phone").then(phone_view.str.extract(PHONE_PATTERN, 0)).alias("phone_match"),
            pl.when("url").then(links).alias("url_match"),
        )
        for kind in KINDS:
            if kind in ("email", "phone", "url"):
                hit = rows.filter(pl.col(f"{kind}_match").is_not_null())
                sample_col = f"{kind}_match"
            else:
                hit = rows.filter(kind)
                sample_col = "text"
            if hit.is_empty():
                continue
            grouped = hit.group_by("src", maintain_order=True).agg(
                pl.col("rows").sum().alias("n"), pl.col("line").min(), pl.col(sample_col).first()
            )
            for src, n, line, sample in grouped.iter_rows():
                entry = self.hits.get((src, kind))
                if entry is None:
                    self.hits[(src, kind)] = [n, line, self._sample(kind, sample)]
                else:
                    entry[0] += n

    def _sample(self, kind: str, text: str) -> str:
        if kind == "client_ref":
            found = next((r for r in self.needles.client_refs if r in text), text)
            return redact(found, kind)
        if kind == "secret_key":
            found = next((s for s in self.needles.secrets if s in text), text)
            return redact(found, kind)
        return redact(text, kind)

    def findings(self) -> list[Finding]:
        self.flush()
        out = []
        for (src, kind), (count, line, sample) in self.hits.items():
            location, where = self.sources[src]
            out.append(Finding(location, where, kind, count, line, sample))
        return sorted(out, key=lambda f: (f.location, f.where, KINDS.index(f.kind)))


def scan_texts(texts: list[str], needles: Needles | None = None) -> list[set[str]]:
    """The kinds of finding in each of a few texts, by the same rules (for tests and triage)."""
    scanner = _Scanner(needles or Needles())
    for i, text in enumerate(texts):
        scanner.add(scanner.source("<texts>", str(i)), pl.Series([text], dtype=pl.String))
    found: list[set[str]] = [set() for _ in texts]
    for finding in scanner.findings():
        found[int(finding.where)].add(finding.kind)
    return found


# --------------------------------------------------------------------------- locations


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _is_text_type(data_type: str) -> bool:
    return any(t in data_type.upper() for t in ("VARCHAR", "JSON", "ENUM"))


def _scan_relation(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    columns: list[tuple[str, str]],
    scanner: _Scanner,
    location: str,
    label: str,
) -> None:
    # Each distinct value once, with how many rows hold it: ids, enums and keys repeat (about
    # one value in five is distinct in a built warehouse), and DuckDB groups faster than any
    # rule scans.
    for column in (c for c, t in columns if _is_text_type(t)):
        src = scanner.source(location, f"{label}.{column}" if label else column)
        reader = con.sql(
            f"SELECT CAST({_quote(column)} AS VARCHAR) AS text, count(*) AS n FROM {relation} "
            f"WHERE {_quote(column)} IS NOT NULL GROUP BY ALL"
        ).to_arrow_reader(scanner.batch_values)
        for batch in reader:
            frame = pl.from_arrow(batch)
            scanner.add(src, frame["text"], rows=frame["n"])


def _open_duckdb(path: Path, location: str) -> duckdb.DuckDBPyConnection:
    try:
        return duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:
        if "lock" in str(exc).lower():
            raise AuditError(
                f"{location} is open for writing by another process (an ingest, build or "
                "publish is running): run the audit when it has finished"
            ) from exc
        raise AuditError(f"cannot open {location} as a DuckDB database: {exc}") from exc


def _scan_duckdb(path: Path, location: str, scanner: _Scanner, scanned: dict) -> None:
    con = _open_duckdb(path, location)
    try:
        (database,) = con.execute("SELECT current_database()").fetchone()
        columns = con.execute(
            "SELECT c.schema_name, c.table_name, c.column_name, c.data_type "
            "FROM duckdb_columns() c JOIN duckdb_tables() t "
            "USING (database_name, schema_name, table_name) "
            "WHERE c.database_name = current_database() "
            "ORDER BY c.schema_name, c.table_name, c.column_index"
        ).fetchall()
        tables: dict[tuple[str, str], list[tuple[str, str]]] = {}
        for schema, table, column, data_type in columns:
            tables.setdefault((schema, table), []).append((column, data_type))
        for (schema, table), cols in tables.items():
            # fully qualified: a schema may share the database's name (detail.detail)
            relation = f"{_quote(database)}.{_quote(schema)}.{_quote(table)}"
            _scan_relation(con, relation, cols, scanner, location, f"{schema}.{table}")
            scanned["tables"] += 1
            scanned["columns"] += sum(_is_text_type(t) for _, t in cols)
    finally:
        con.close()
    scanned["duckdb_files"] += 1


def _scan_parquet(path: Path, location: str, scanner: _Scanner, scanned: dict) -> None:
    con = duckdb.connect(":memory:")
    try:
        relation = f"read_parquet('{str(path).replace(chr(39), chr(39) * 2)}')"
        cols = [(r[0], r[1]) for r in con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()]
        _scan_relation(con, relation, cols, scanner, location, "")
        scanned["columns"] += sum(_is_text_type(t) for _, t in cols)
    except duckdb.Error as exc:
        raise AuditError(f"cannot read {location} as Parquet: {exc}") from exc
    finally:
        con.close()
    scanned["parquet_files"] += 1


def _scan_text(path: Path, location: str, scanner: _Scanner, scanned: dict) -> None:
    lines = path.read_bytes().decode("utf-8", "replace").splitlines()
    src = scanner.source(location, "text")
    scanner.add(
        src,
        pl.Series(lines, dtype=pl.String),
        pl.int_range(1, len(lines) + 1, eager=True).cast(pl.Int64),
    )
    scanned["text_files"] += 1


def _scan_xcom(path: Path, location: str, scanner: _Scanner, scanned: dict) -> None:
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise AuditError(f"cannot open {location}: {exc}") from exc
    con.text_factory = lambda b: b.decode("utf-8", "replace")
    try:
        rows = con.execute("SELECT rowid, CAST(value AS TEXT) FROM xcom").fetchall()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return  # Airflow's DB not migrated yet: no XComs
        raise AuditError(f"cannot read the XComs in {location}: {exc}") from exc
    finally:
        con.close()
    if rows:
        ids, values = zip(*rows, strict=True)
        src = scanner.source(location, "xcom.value")
        scanner.add(src, pl.Series(values, dtype=pl.String), pl.Series(ids, dtype=pl.Int64))
    scanned["xcom_rows"] += len(rows)


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def audit_locations(settings: Settings, airflow_home: Path | None = None) -> Iterator[tuple]:
    """(kind, path) of everything to scan: kind is duckdb, parquet, text or xcom.

    Airflow's homes (the given one and SEALDEAL_HOME/airflow) contribute their task logs and the
    XCom table of their metadata DB only; their configuration is no output.
    """
    home = settings.home.resolve()
    airflow_homes = list(dict.fromkeys(p.resolve() for p in (airflow_home, home / "airflow") if p))
    skip = [d.resolve() for d in raw_dirs(settings)] + airflow_homes
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


_SCANNERS = {"duckdb": _scan_duckdb, "parquet": _scan_parquet, "text": _scan_text}


def run_audit(
    settings: Settings | None = None,
    *,
    airflow_home: Path | None = None,
    ref_days: int | None = REF_DAYS,
    needles: Needles | None = None,
) -> AuditReport:
    """Scan every output under SEALDEAL_HOME (and the Airflow home's logs and XComs)."""
    started = time.perf_counter()
    settings = settings or Settings.from_env()
    home = settings.home.resolve()
    if not home.is_dir():
        raise AuditError(f"SEALDEAL_HOME {home} does not exist: nothing to audit")
    unchecked: list[str] = []
    needles = needles or load_needles(settings, ref_days=ref_days, unchecked=unchecked)
    scanner = _Scanner(needles)
    scanned = dict.fromkeys(
        ("duckdb_files", "tables", "columns", "parquet_files", "text_files", "xcom_rows"), 0
    )
    for kind, path in audit_locations(settings, airflow_home):
        location = str(path.relative_to(home)) if _inside(path, home) else str(path)
        if kind == "xcom":
            _scan_xcom(path, location, scanner, scanned)
        else:
            _SCANNERS[kind](path, location, scanner, scanned)
    findings = scanner.findings()
    scanned |= {
        "values": scanner.values,
        "client_refs": len(needles.client_refs),
        "landing_files": needles.landing_files,
        "secret_forms": len(needles.secrets),
    }
    return AuditReport(str(home), findings, scanned, unchecked, time.perf_counter() - started)
