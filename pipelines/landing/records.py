"""Reading landing files into typed records.

Two stages, so that JSONL and CSV share every rule after the first:

1. `iter_raw_chunks` streams a file in chunks of text columns (one per spec field) plus the
   record's line number and any record-level parse error. JSON values are rendered as the CSV
   flavour would spell them (lists `;`-joined, booleans `true`/`false`), so both formats look
   the same from here on.
2. `typed_records` turns those text columns into the spec's types and lists, per record, every
   value that could not be read, in words a coach can act on.

A problem with one record never stops the file; a problem with the file itself (not UTF-8, no
header, not a landing format) raises FileUnusable and nothing of it is used.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path

import duckdb
import polars as pl

from pipelines.core import spec

CHUNK_ROWS = 200_000

RAW_SCHEMA: dict[str, pl.DataType] = {
    "source_line": pl.Int64(),
    **{c: pl.String() for c in spec.CSV_COLUMNS},
    "parse_errors": pl.List(pl.String()),
}

_KIND_DTYPES: dict[str, pl.DataType] = {
    "str": pl.String(),
    "int": pl.Int64(),
    "bool": pl.Boolean(),
    "list": pl.List(pl.String()),
    "timestamp": pl.Datetime("us", "UTC"),
    "date": pl.Date(),
}

TYPED_SCHEMA: dict[str, pl.DataType] = {
    "source_line": pl.Int64(),
    **{f: _KIND_DTYPES[k] for f, k in spec.FIELD_KINDS.items()},
    "parse_errors": pl.List(pl.String()),
    "is_unreadable": pl.Boolean(),
}

# Values are echoed back in error messages only when they cannot be personal data: a short
# word or a short number. Anything else (an e-mail in the stage column...) is not repeated.
SAFE_ECHO = r"^(?:[A-Za-z_ -]{1,24}|-?[0-9.,]{1,8})$"


class FileUnusable(Exception):
    """The file as a whole cannot be read as a landing file; nothing of it may be used."""


def landing_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if suffix == ".csv":
        return "csv"
    raise FileUnusable(f"{path.name}: not a landing file (expected *.jsonl or *.csv)")


def iter_raw_chunks(
    path: Path, chunk_rows: int = CHUNK_ROWS, fields: tuple[str, ...] | None = None
) -> Iterator[pl.DataFrame]:
    """Yield the file's records as RAW_SCHEMA frames of at most chunk_rows rows; with
    ``fields``, only ``source_line``, those spec fields and ``parse_errors`` (a JSONL file's
    one-pass read then converts just those: ~10x faster for two fields)."""
    is_jsonl = landing_format(path) == "jsonl"
    whole = (_jsonl_whole_file if is_jsonl else _csv_whole_file)(path, fields)
    if whole is not None:
        for start in range(0, whole.height, chunk_rows):
            yield whole.slice(start, chunk_rows)
        return
    chunks = (_jsonl_chunks_by_line if is_jsonl else _csv_chunks)(path, chunk_rows)
    columns = ["source_line", *(fields or ()), "parse_errors"]
    yield from (c.select(columns) for c in chunks) if fields else chunks


# -- JSON Lines ------------------------------------------------------------------------------

# JSON value -> the CSV spelling of it. Arrays become `;`-joined text; objects are kept as JSON
# text so that typing rejects them with the field's own rule.
_JSON_FIELD_SQL = """
    CASE json_type({v})
        WHEN 'NULL' THEN NULL
        WHEN 'VARCHAR' THEN {v} ->> '$'
        WHEN 'ARRAY' THEN array_to_string(json_extract_string({v}, '$[*]'), ';')
        ELSE {v}::VARCHAR
    END
"""


def _whole_file_fields(fields: tuple[str, ...]) -> str:
    return ", ".join(f"{_JSON_FIELD_SQL.format(v=f)} AS {f}" for f in fields)


_JSON_COLUMNS = "{" + ", ".join(f"'{f}': 'JSON'" for f in spec.CSV_COLUMNS) + "}"
# A blank line (it would shift the line numbers) or one holding only JSON null (read_json makes
# it a record of nulls, but it is no record). Anchored on the newline: a literal prefix makes
# the scan ~5x faster than a multi-line ^...$.
_BLANK_OR_NULL_LINE = re.compile(rb"\n[ \t\r\f\v]*(?:null[ \t\r\f\v]*)?\n")


def _jsonl_whole_file(path: Path, fields: tuple[str, ...] | None = None) -> pl.DataFrame | None:
    """The file parsed by DuckDB's read_json in one pass, or None when a line would need the
    line-by-line reader's care (one that is not an object, a blank line, bad UTF-8...).

    The common case of a clean export is parsed about four times faster this way; any file
    read_json refuses, or whose record count differs from its line count, takes the careful
    route, which reports each bad line. Both give the same frame (tested).
    """
    data = path.read_bytes()
    body = data[:-1] if data.endswith(b"\n") else data
    lines = body.count(b"\n") + 1
    if not body or _has_blank_or_null_line(body, lines) or not _is_utf8(data):
        return None
    selected = _whole_file_fields(fields or spec.CSV_COLUMNS)
    query = f"""
        SELECT row_number() OVER () AS source_line, {selected},
               []::VARCHAR[] AS parse_errors
        FROM read_json(?, format = 'newline_delimited', records = true,
                       columns = {_JSON_COLUMNS})
    """
    con = duckdb.connect(":memory:")
    try:
        frame = con.sql(query, params=[str(path)]).pl()
    except duckdb.Error:
        return None
    finally:
        con.close()
    if frame.height != lines:
        return None
    return frame.cast({c: RAW_SCHEMA[c] for c in frame.columns})


def _has_blank_or_null_line(body: bytes, lines: int) -> bool:
    # Every line of a clean export opens with "{", which no blank or null line does: counting
    # those line starts is ~2.5x faster than the regex, which only other files need.
    if body.startswith(b"{") and body.count(b"\n{") == lines - 1:
        return False
    return _BLANK_OR_NULL_LINE.search(b"\n" + body + b"\n") is not None


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _jsonl_chunks_by_line(path: Path, chunk_rows: int) -> Iterator[pl.DataFrame]:
    con = duckdb.connect(":memory:")
    fields = list(spec.CSV_COLUMNS)
    paths = [f'$."{f}"' for f in fields]
    select_fields = ",\n".join(
        f"CASE WHEN is_object THEN {_JSON_FIELD_SQL.format(v=f'vals[{i + 1}]')} END AS {f}"
        for i, f in enumerate(fields)
    )
    query = f"""
        WITH valid AS (
            -- CASE does not short-circuit in a vectorised engine: feed JSON functions only
            -- text that parses.
            SELECT source_line, json_valid(raw) AS is_json,
                   CASE WHEN json_valid(raw) THEN raw ELSE 'null' END AS json_text
            FROM lines
        ), checked AS (
            SELECT *, json_type(json_text) = 'OBJECT' AS is_object FROM valid
        ), extracted AS (
            SELECT *,
                   json_extract(CASE WHEN is_object THEN json_text ELSE '{{}}' END, ?) AS vals
            FROM checked
        )
        SELECT source_line, {select_fields},
               CASE WHEN NOT is_json THEN ['line is not valid JSON']
                    WHEN NOT is_object THEN ['line is a JSON value but not an object {{...}}']
                    ELSE []::VARCHAR[] END AS parse_errors
        FROM extracted ORDER BY source_line
    """
    try:
        for numbers, texts in _line_batches(path, chunk_rows):
            lines = pl.DataFrame(
                {"source_line": numbers, "raw": texts},
                schema={"source_line": pl.Int64, "raw": pl.String},
            )
            con.register("lines", lines.to_arrow())
            frame = con.sql(query, params=[paths]).pl()
            con.unregister("lines")
            yield frame.cast(RAW_SCHEMA)
    finally:
        con.close()


def _line_batches(path: Path, chunk_rows: int) -> Iterator[tuple[list[int], list[str]]]:
    numbers: list[int] = []
    texts: list[str] = []
    with path.open("rb") as fh:
        for line_no, raw in enumerate(fh, start=1):
            try:
                text = raw.decode("utf-8-sig" if line_no == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                raise FileUnusable(
                    f"{path.name}: line {line_no} is not UTF-8 text ({exc.reason}); "
                    "re-export the file as UTF-8"
                ) from exc
            text = text.strip()
            if not text:
                continue  # blank lines carry no record
            numbers.append(line_no)
            texts.append(text)
            if len(texts) >= chunk_rows:
                yield numbers, texts
                numbers, texts = [], []
    if texts:
        yield numbers, texts


# -- CSV -------------------------------------------------------------------------------------

REQUIRED_CSV_COLUMNS = ("record_type", "record_id", "firm_id", "client_ref")
# Python's csv refuses fields over 128 KiB by default, which would hold a whole file for one long
# note; validation, not the reader, decides what is too long.
csv.field_size_limit(2**31 - 1)


def _csv_chunks(path: Path, chunk_rows: int) -> Iterator[pl.DataFrame]:
    with path.open("rb") as binary:
        text = io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")
        try:
            yield from _csv_rows(path, text, chunk_rows)
        except UnicodeDecodeError as exc:
            raise FileUnusable(
                f"{path.name}: not UTF-8 text ({exc.reason}); re-export the file as UTF-8"
            ) from exc
        except csv.Error as exc:
            raise FileUnusable(f"{path.name}: not readable as CSV ({exc})") from exc


def _csv_rows(path: Path, text: io.TextIOWrapper, chunk_rows: int) -> Iterator[pl.DataFrame]:
    reader = csv.reader(text)
    header = next(reader, None)
    if header is None:
        return
    header = [h.strip() for h in header]
    missing = [c for c in REQUIRED_CSV_COLUMNS if c not in header]
    if missing:
        raise FileUnusable(
            f"{path.name}: no usable header row (missing column(s) {', '.join(missing)}); "
            "the first row must name the columns of the debrief export"
        )
    positions = [(c, header.index(c)) for c in spec.CSV_COLUMNS if c in header]
    width = len(header)
    rows: list[list[str]] = []
    lines: list[int] = []
    errors: list[list[str]] = []
    start = reader.line_num + 1
    for row in reader:
        if not row or (len(row) == 1 and not row[0].strip()):
            start = reader.line_num + 1
            continue
        lines.append(start)
        if len(row) != width:
            errors.append([f"row has {len(row)} fields but the header has {width}"])
            row = [""] * width
        else:
            errors.append([])
        rows.append(row)
        start = reader.line_num + 1
        if len(rows) >= chunk_rows:
            yield _csv_frame(rows, lines, errors, positions)
            rows, lines, errors = [], [], []
    if rows:
        yield _csv_frame(rows, lines, errors, positions)


def _csv_frame(rows, lines, errors, positions) -> pl.DataFrame:
    columns = list(zip(*rows, strict=True))
    data = {"source_line": lines}
    for name, idx in positions:
        data[name] = columns[idx]
    frame = pl.DataFrame(data, schema={k: RAW_SCHEMA[k] for k in data})
    return _raw_csv_frame(frame, pl.Series("parse_errors", errors, dtype=pl.List(pl.String)))


def _raw_csv_frame(frame: pl.DataFrame, parse_errors: pl.Series | pl.Expr) -> pl.DataFrame:
    """source_line and the header's spec columns -> RAW_SCHEMA, an empty cell null (spec)."""
    present = [c for c in spec.CSV_COLUMNS if c in frame.columns]
    return frame.with_columns(
        *(pl.when(pl.col(c).str.strip_chars() != "").then(pl.col(c)) for c in present),
        *(pl.lit(None, dtype=pl.String).alias(c) for c in spec.CSV_COLUMNS if c not in present),
        parse_errors.alias("parse_errors"),
    ).select(list(RAW_SCHEMA))


# A CSV field as Python's csv module and Polars read it alike: quoted (quotes doubled inside)
# or bare without quotes, commas or line breaks. Possessive, so checking a file is linear.
_CSV_FIELD = rb'(?:"(?:[^"]|"")*+"|[^",\r\n]*+)'


def _csv_whole_file(path: Path, fields: tuple[str, ...] | None = None) -> pl.DataFrame | None:
    """The file parsed by Polars' CSV reader in one pass, or None when a record would need the
    careful reader (mixed or bare carriage returns, a blank or short or long row, a stray
    quote, a line break inside a quoted field, a quoted header, bad UTF-8, no usable header...).

    Every line is checked first to hold exactly the header's number of well-formed fields, the
    form on which both readers agree; then both give the same frame (tested), Polars several
    times faster than a Python loop over the csv module's rows.
    """
    data = path.read_bytes().removeprefix(b"\xef\xbb\xbf")
    crlf = b"\r" in data  # then every line must end in CR LF, or the careful reader reads it
    eol = b"\r\n" if crlf else b"\n"
    body = data.removesuffix(eol)
    first = body.split(eol, 1)[0]
    if (
        (crlf and not body.count(b"\r") == body.count(b"\n") == body.count(eol))
        or b"\0" in body
        or b'"' in first
        or first == body
        or not _is_utf8(body)
    ):
        return None
    header = [h.strip() for h in first.decode().split(",")]  # no quotes: as csv splits it
    if any(c not in header for c in REQUIRED_CSV_COLUMNS):
        return None
    width = len(header)
    line = rb"%s(?:,%s){%d}" % (_CSV_FIELD, _CSV_FIELD, width - 1)
    if not re.fullmatch(rb"(?:%s%s)*+%s" % (line, eol, line), body):
        return None
    names = [f"_{i}" for i in range(width)]
    try:
        cells = pl.read_csv(
            io.BytesIO(body),
            has_header=False,
            skip_rows=1,
            new_columns=names,
            infer_schema=False,
            quote_char='"',
            raise_if_empty=False,
        )
    except pl.exceptions.PolarsError:
        return None
    if cells.height != body.count(eol):
        return None
    wanted = fields or spec.CSV_COLUMNS
    frame = cells.select(  # only the wanted columns are converted (an erasure look-up wants two)
        pl.int_range(2, cells.height + 2, dtype=pl.Int64).alias("source_line"),
        *(pl.col(names[header.index(c)]).alias(c) for c in wanted if c in header),
    )
    raw = _raw_csv_frame(frame, pl.lit([], dtype=pl.List(pl.String)))
    return raw.select("source_line", *wanted, "parse_errors")


# -- typing ----------------------------------------------------------------------------------


def _echo(col: str) -> pl.Expr:
    raw = pl.col(col).str.strip_chars()
    return (
        pl.when(raw.str.contains(SAFE_ECHO))
        .then(pl.lit(" (got '") + raw + pl.lit("')"))
        .otherwise(pl.lit(""))
    )


def _typed(field: str, kind: str) -> tuple[pl.Expr, pl.Expr | None]:
    """(typed value, error message when a present value could not be read) for one field."""
    raw = pl.col(field).str.strip_chars()
    present = raw.is_not_null() & (raw != "")
    if kind == "str":
        return pl.when(present).then(raw).alias(field), None
    if kind == "int":
        value = raw.cast(pl.Int64, strict=False)
        as_float = raw.cast(pl.Float64, strict=False)
        # "9.0" is a whole number written as a float (spreadsheets do that); "9.5" is not.
        integral = as_float.is_finite() & (as_float == as_float.floor()) & (as_float.abs() < 2**53)
        # Non-strict: when/then evaluates both branches, and NaN or 1e300 must not raise.
        value = pl.coalesce(value, pl.when(integral).then(as_float.cast(pl.Int64, strict=False)))
        message = f"{field} must be a whole number"
    elif kind == "bool":
        lowered = raw.str.to_lowercase()
        value = (
            pl.when(lowered.is_in(spec.TRUE_LITERALS))
            .then(True)
            .when(lowered.is_in(spec.FALSE_LITERALS))
            .then(False)
        )
        message = f"{field} must be true/false (or yes/no, 1/0)"
    elif kind == "list":
        items = raw.str.split(spec.LIST_SEPARATOR).list.eval(
            pl.element().str.strip_chars().filter(pl.element().str.strip_chars() != "")
        )
        value = pl.when(present).then(items).otherwise(pl.lit([], dtype=pl.List(pl.String)))
        return value.alias(field), None
    elif kind == "timestamp":
        normal = raw.str.to_uppercase().str.replace(" ", "T").str.replace(r"Z$", "+00:00")
        value = normal.str.to_datetime(
            "%Y-%m-%dT%H:%M:%S%.f%:z", strict=False, time_unit="us"
        ).dt.convert_time_zone("UTC")
        message = (
            f"{field} must be an RFC 3339 timestamp with a time zone, like 2026-03-02T18:04:00Z"
        )
    elif kind == "date":
        value = raw.str.to_date("%Y-%m-%d", strict=False)
        message = f"{field} must be a date YYYY-MM-DD"
    else:  # pragma: no cover - spec.FIELD_KINDS is closed
        raise ValueError(kind)
    error = pl.when(present & value.is_null()).then(pl.lit(message) + _echo(field))
    return pl.when(present).then(value).alias(field), error


def typed_records(raw: pl.LazyFrame) -> pl.LazyFrame:
    """Typed spec fields plus `parse_errors` listing every value that could not be read."""
    values, errors = [], []
    for field, kind in spec.FIELD_KINDS.items():
        value, error = _typed(field, kind)
        values.append(value)
        if error is not None:
            errors.append(error)
    all_errors = pl.concat_list([pl.col("parse_errors"), *errors]).list.drop_nulls()
    return raw.select(
        pl.col("source_line"),
        *values,
        all_errors.alias("parse_errors"),
        # The line itself could not be read as a record (not JSON, ragged CSV row): its field
        # rules would only repeat that, so validation reports just this.
        (pl.col("parse_errors").list.len() > 0).alias("is_unreadable"),
    ).with_columns(
        # Absent schema_version means 1 (spec).
        pl.col("schema_version").fill_null(spec.CURRENT_SCHEMA_VERSION)
    )
