"""The one-pass JSONL reader (DuckDB read_json) gives the line-by-line reader's frame exactly,
and leaves to it every file it cannot read faithfully."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from pipelines.landing.records import (
    _jsonl_chunks_by_line,
    _jsonl_whole_file,
    iter_raw_chunks,
)
from pipelines.synthetic.generate import generate
from tests.samples import DEBRIEF

TRICKY_LINES = [
    json.dumps(DEBRIEF),
    '{"record_type":"debrief","Stage":"onsite","stage":"final"}',
    '{"stage":{"a": 1,  "b": [1, 2]}, "seniority": [1, "x", null, true, 2.50, 1e3]}',
    '{"asked_at_pct": 1.0, "experience_years": 1e3, "firm_id": 123456789012345678901234567890}',
    '  {"notes":"caf\\u00e9 \\"q\\" \\n"}  ',
    '{"fit_question_kinds":["a;b","c"], "concerns_raised": "x", "asked_fit_question": true}',
    "{}",
    '{"notes": "\\ud83d\\ude00", "client_ref": ""}',
    '{"asked_at_pct": -0.0, "experience_years": 12345678901234567890, "stage": NaN}',
    '{"a":1,}',
    '{"STAGE":"x", "Record_Type": "debrief"}\r',
]


def by_line(path: Path) -> pl.DataFrame:
    return pl.concat(_jsonl_chunks_by_line(path, 1000))


def test_tricky_but_readable_lines_read_the_same(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_bytes(("\ufeff" + "\n".join(TRICKY_LINES) + "\n").encode())
    fast = _jsonl_whole_file(path)
    assert fast is not None
    assert fast.equals(by_line(path))


@pytest.mark.parametrize(
    "content",
    [
        b'{"stage":"x"}\nnull\n',  # a JSON null line: no record, an error
        b' null \r\n{"stage":"x"}',  # ... first, spaced, CRLF, no final newline
        b'\n{"stage":"x"}\n',  # a blank line first
        b'{"stage":"x"}\n \t\r\n',  # a whitespace-only line last
        b'{"stage":"x"}\n\n{"stage":"y"}\n',  # a blank line: line numbers would shift
        b'{"stage":"x","stage":"y"}\n',  # duplicate keys
        b'{"stage":"x"}{"stage":"y"}\n',  # two values on one line
        b'[{"stage":"x"}]\n',  # an array, not an object
        b'{"stage":\n"x"}\n',  # one object over two lines
        b'{"stage":"caf\xe9"}\n',  # not UTF-8
        b"",
    ],
)
def test_files_needing_care_take_the_line_by_line_reader(tmp_path, content):
    path = tmp_path / "b.jsonl"
    path.write_bytes(content)
    assert _jsonl_whole_file(path) is None


def test_generated_export_reads_the_same_in_order_and_chunks(tmp_path):
    generate(tmp_path / "gen", interviews=3_000, seed=3)
    files = sorted((tmp_path / "gen").rglob("*.jsonl"))
    # One file large enough for DuckDB to read it in several parallel pieces.
    big = tmp_path / "big.jsonl"
    big.write_bytes(b"".join(f.read_bytes() for f in files) * 4)
    for path in [*files, big]:
        fast = _jsonl_whole_file(path)
        assert fast is not None and fast.equals(by_line(path)), path.name
    chunks = list(iter_raw_chunks(big, chunk_rows=997))
    assert [c.height for c in chunks[:-1]] == [997] * (len(chunks) - 1)
    assert pl.concat(chunks).equals(by_line(big))


@pytest.mark.parametrize("name", ["fast.jsonl", "careful.jsonl", "export.csv"])
def test_reading_some_fields_gives_those_columns_of_the_whole_read(tmp_path, name):
    path = tmp_path / name
    if name == "export.csv":
        path.write_text("record_type,record_id,firm_id,client_ref,stage\nx,1,f,c1,onsite\n,2,g,,\n")
    else:
        careful = "\n\n" if name == "careful.jsonl" else "\n"  # a blank line: line by line
        path.write_text(careful.join(TRICKY_LINES) + "\n")
    fields = ("firm_id", "client_ref")
    whole = pl.concat(iter_raw_chunks(path))
    some = pl.concat(iter_raw_chunks(path, fields=fields))
    assert some.equals(whole.select("source_line", *fields, "parse_errors"))
