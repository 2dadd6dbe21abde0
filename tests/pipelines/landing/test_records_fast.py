"""The one-pass JSONL reader (DuckDB read_json) gives the line-by-line reader's frame exactly,
and leaves to it every file it cannot read faithfully."""

from __future__ import annotations

import json
import re
from pathlib import Path

import polars as pl
import pytest

from pipelines.landing import records
from pipelines.landing.records import (
    FileUnusable,
    _csv_chunks,
    _csv_whole_file,
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


def test_the_blank_or_null_line_scan_runs_only_where_a_line_opens_otherwise(tmp_path, monkeypatch):
    scanned = []
    scan = records._BLANK_OR_NULL_LINE

    class Spy:
        def search(self, data):
            scanned.append(data)
            return scan.search(data)

    monkeypatch.setattr(records, "_BLANK_OR_NULL_LINE", Spy())
    clean = tmp_path / "clean.jsonl"
    clean.write_bytes(b'{"stage":"x"}\n{"stage":"y"}\n')
    assert _jsonl_whole_file(clean) is not None and scanned == []
    # Not every line opens with "{": the full scan decides, and reads these in one pass.
    spaced = tmp_path / "spaced.jsonl"
    spaced.write_bytes(b'{"stage":"x"}\n  {"stage":"y"}\n\t{"stage":"nullish"}\n')
    fast = _jsonl_whole_file(spaced)
    assert len(scanned) == 1 and fast is not None
    assert fast.equals(by_line(spaced)) and fast.height == 3


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


def by_row(path: Path) -> pl.DataFrame:
    return pl.concat(_csv_chunks(path, 1000))


TRICKY_CSV = (
    "\ufeffrecord_type, record_id ,firm_id,client_ref,notes,stage,unknown,stage\n"
    'debrief,1,f,c1,"Asked, then ""waited""",onsite,x,final\n'
    'debrief,2,f,"c2",,  ,"",\n'
    'outcome,3,f,c3,"  ",phone_screen,"a,b",\n'
    'debrief,4,f,c4,café 🙂 ß,"",,\n'
    ",,,,,,,\n"
    'debrief,6,f,c6,  spaced  ,onsite,"",x'
)


@pytest.mark.parametrize("eol", ["\n", "\r\n"])
def test_tricky_but_clean_csv_reads_the_same(tmp_path, eol):
    # Quoted commas and quotes, spaces around values and header names, empty and blank cells,
    # an unknown and a repeated column (the first counts), a BOM, no final line break; every
    # line ending in LF, or every one in CR LF.
    path = tmp_path / "a.csv"
    path.write_text(TRICKY_CSV.replace("\n", eol), encoding="utf-8", newline="")
    fast = _csv_whole_file(path)
    assert fast is not None
    assert fast.equals(by_row(path))
    assert fast["notes"].to_list()[:3] == ['Asked, then "waited"', None, None]
    assert fast["source_line"].to_list() == [2, 3, 4, 5, 6, 7]


@pytest.mark.parametrize(
    "content",
    [
        "record_type,record_id,firm_id,client_ref\r\nx,1,f,c\nx,2,f,c\r\n",  # mixed line ends
        "record_type,record_id,firm_id,client_ref\rx,1,f,c\r",  # bare carriage returns
        'record_type,record_id,firm_id,client_ref\r\nx,1,f,"a\rb"\r\n',  # a CR in quotes
        'record_type,record_id,firm_id,client_ref\r\nx,1,f,"a\r\nb"\r\n',  # CR LF in quotes
        "record_type,record_id,firm_id,client_ref\nx,1,f,c\n\nx,2,f,c\n",  # a blank line
        "record_type,record_id,firm_id,client_ref\nx,1,f,c\n   \n",  # whitespace only
        "record_type,record_id,firm_id,client_ref\nx,1,f\n",  # a short row
        "record_type,record_id,firm_id,client_ref\nx,1,f,c,d\n",  # a long row
        'record_type,record_id,firm_id,client_ref\nx,1,f,"two\nlines"\n',  # a break in quotes
        'record_type,record_id,firm_id,client_ref\nx,1,f,ab"c\n',  # a stray quote
        'record_type,record_id,firm_id,client_ref\nx,1,f,"ab"c\n',  # text after the quote
        'record_type,record_id,firm_id,client_ref\nx,1,f,"open\n',  # an unclosed quote
        '"record_type",record_id,firm_id,client_ref\nx,1,f,c\n',  # a quoted header
        "record_type,record_id,firm_id\nx,1,f\n",  # a required column missing
        "record_type,record_id,firm_id,client_ref\n",  # a header only
        "",
    ],
)
def test_csv_needing_care_takes_the_row_by_row_reader(tmp_path, content):
    path = tmp_path / "b.csv"
    path.write_text(content, encoding="utf-8", newline="")
    assert _csv_whole_file(path) is None
    try:  # the careful reader reads it, or says why not, as iter_raw_chunks then does
        careful = list(_csv_chunks(path, 1000))
    except FileUnusable as exc:
        with pytest.raises(FileUnusable, match=re.escape(str(exc))):
            list(iter_raw_chunks(path))
        return
    chunks = list(iter_raw_chunks(path))
    assert pl.concat(chunks).equals(pl.concat(careful)) if careful else chunks == []


def test_csv_not_utf8_takes_the_careful_reader(tmp_path):
    path = tmp_path / "c.csv"
    path.write_bytes(b"record_type,record_id,firm_id,client_ref\nx,1,f,caf\xe9\n")
    assert _csv_whole_file(path) is None


def test_generated_csv_export_reads_the_same_in_chunks(tmp_path):
    generate(tmp_path / "gen", interviews=3_000, seed=3, fmt="csv")
    files = sorted((tmp_path / "gen").rglob("*.csv"))
    assert any(b'"' in f.read_bytes() for f in files)  # quoted notes among them
    for path in files:
        fast = _csv_whole_file(path)
        assert fast is not None and fast.equals(by_row(path)), path.name
    windows = tmp_path / "windows.csv"  # as a Windows export would end its lines
    windows.write_bytes(files[0].read_bytes().replace(b"\n", b"\r\n"))
    fast = _csv_whole_file(windows)
    assert fast is not None and fast.equals(by_row(windows))
    biggest = max(files, key=lambda f: f.stat().st_size)
    chunks = list(iter_raw_chunks(biggest, chunk_rows=97))
    assert [c.height for c in chunks[:-1]] == [97] * (len(chunks) - 1)
    assert pl.concat(chunks).equals(by_row(biggest))


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
