"""The PII audit's scanner: every rule on batches of text values, and the readers that feed it.

pipelines.privacy.audit decides what to scan and what to look for (docstring there: the rules and
why); this module reads DuckDB tables, Parquet files, text files and Airflow's XComs into one
:class:`Scanner`, which reports each kind found per source as a :class:`Finding`.

Everything is vectorised: each distinct value of a column (DuckDB groups it first, with its row
count) or each line of a text file goes into batches of ``BATCH_VALUES``, and each rule is one
Polars expression per batch (a regex, or one Aho-Corasick automaton for all known refs and key
forms). Only values that match a cheap first test are looked at again with the stricter rules.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from pipelines.privacy.scrub import _EMAIL as EMAIL_PATTERN
from pipelines.privacy.scrub import _PHONE as PHONE_PATTERN
from pipelines.privacy.scrub import _URL as URL_PATTERN

KINDS = ("email", "phone", "url", "client_ref", "secret_key")
BATCH_VALUES = 1_000_000  # distinct text values per scanning batch

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


@dataclass(frozen=True)
class Needles:
    """Exact strings to look for: raw client_refs and the forms of the key."""

    client_refs: tuple[str, ...] = ()
    secrets: tuple[str, ...] = ()
    landing_files: int = 0


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


class Scanner:
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
    scanner = Scanner(needles or Needles())
    for i, text in enumerate(texts):
        scanner.add(scanner.source("<texts>", str(i)), pl.Series([text], dtype=pl.String))
    found: list[set[str]] = [set() for _ in texts]
    for finding in scanner.findings():
        found[int(finding.where)].add(finding.kind)
    return found


# --------------------------------------------------------------------------- readers


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _is_text_type(data_type: str) -> bool:
    return any(t in data_type.upper() for t in ("VARCHAR", "JSON", "ENUM"))


def _scan_relation(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    columns: list[tuple[str, str]],
    scanner: Scanner,
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


def _scan_duckdb(path: Path, location: str, scanner: Scanner, scanned: dict) -> None:
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


def _scan_parquet(path: Path, location: str, scanner: Scanner, scanned: dict) -> None:
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


def _scan_text(path: Path, location: str, scanner: Scanner, scanned: dict) -> None:
    # Lines at "\n", as editors and grep number them (str.splitlines also breaks at U+2028).
    lines = path.read_bytes().decode("utf-8", "replace").removesuffix("\n").split("\n")
    src = scanner.source(location, "text")
    scanner.add(
        src,
        pl.Series(lines, dtype=pl.String),
        pl.int_range(1, len(lines) + 1, eager=True).cast(pl.Int64),
    )
    scanned["text_files"] += 1


def _add_xcoms(rows: list, location: str, scanner: Scanner, scanned: dict) -> None:
    """(id, value as text) rows of an XCom table, to scan."""
    if rows:
        ids, values = zip(*rows, strict=True)
        src = scanner.source(location, "xcom.value")
        scanner.add(src, pl.Series(values, dtype=pl.String), pl.Series(ids, dtype=pl.Int64))
    scanned["xcom_rows"] += len(rows)


def _scan_xcom(path: Path, location: str, scanner: Scanner, scanned: dict) -> None:
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
    _add_xcoms(rows, location, scanner, scanned)


def _scan_xcom_server(url: str, location: str, scanner: Scanner, scanned: dict) -> None:
    """The XComs of an Airflow whose metadata DB is a server (PostgreSQL in a cluster)."""
    import sqlalchemy  # Airflow's own dependency; the driver comes with the `cluster` extra

    engine = sqlalchemy.create_engine(url)
    try:
        with engine.connect() as con:
            rows = con.execute(
                sqlalchemy.text("SELECT row_number() OVER (), CAST(value AS TEXT) FROM xcom")
            ).all()
    except sqlalchemy.exc.SQLAlchemyError as exc:
        raise AuditError(f"cannot read the XComs in {location}: {exc}") from exc
    finally:
        engine.dispose()
    _add_xcoms(rows, location, scanner, scanned)


SCANNERS: dict[str, Callable[[Path, str, Scanner, dict], None]] = {
    "duckdb": _scan_duckdb,
    "parquet": _scan_parquet,
    "text": _scan_text,
    "xcom": _scan_xcom,
    "xcom_server": _scan_xcom_server,
}
