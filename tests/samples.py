"""Small inline landing records (from the spec's own example) and writers for both formats."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from pipelines.core import spec

# The spec's example records; the debrief's note also carries a phone number.
DEBRIEF = {
    **spec.EXAMPLE_DEBRIEF,
    "notes": "Asked Tom (tom@acme.io) if he had concerns; call him on +1 (415) 555-0132.",
}
OUTCOME = dict(spec.EXAMPLE_OUTCOME)
ERASURE = dict(spec.EXAMPLE_ERASURE)
FIRM = DEBRIEF["firm_id"]  # the firm of every sample record


def zone(settings, firm: str = FIRM) -> Path:
    """A firm's landing zone, `landing/<firm_id>/`: where that firm's files arrive."""
    return settings.landing_dir / firm


def debrief(i: int, **changes) -> dict:
    """A valid debrief with its own ids and client."""
    return {
        **DEBRIEF,
        "record_id": f"d-{i}",
        "interview_ref": f"int-{i}",
        "client_ref": f"Client Number{i} <client{i}@example.org>",
        **changes,
    }


def write_jsonl(path: Path, lines: list) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n",
        encoding="utf-8",
    )
    return path


def csv_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ";".join(map(str, value))
    return str(value)


def write_csv(path: Path, records: list[dict], bom: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(spec.CSV_COLUMNS)
    for record in records:
        writer.writerow([csv_cell(record.get(c)) for c in spec.CSV_COLUMNS])
    path.write_text(("\ufeff" if bom else "") + buf.getvalue(), encoding="utf-8")
    return path


def warehouse_rows(settings, sql: str) -> list[tuple]:
    """Rows of a query on the warehouse, opened read-only as an outside reader would."""
    import duckdb

    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def sorted_tables(database, queries: dict[str, str]):
    """Each query's result on the warehouse (opened read-only), sorted by all its columns: row
    order is no part of a table, so two builds compare equal whatever order they wrote in."""
    import duckdb

    con = duckdb.connect(str(database), read_only=True)
    try:
        frames = {name: con.sql(sql).pl() for name, sql in queries.items()}
    finally:
        con.close()
    return {name: f.sort(f.columns, nulls_last=True) for name, f in frames.items()}
