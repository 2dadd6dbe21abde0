"""The researchers' doc: its data dictionary is current and complete, and its SQL really runs."""

from __future__ import annotations

import re
import shutil

import pytest

import warehouse.store
from pipelines.release.dictionary import (
    DOC_PATH,
    END,
    NO_DESCRIPTION,
    START,
    data_dictionary_markdown,
    is_stale,
    with_dictionary,
    write_researchers_doc,
)
from warehouse import tables
from warehouse.publish import PARTS, open_snapshot

DOC = DOC_PATH.read_text(encoding="utf-8")


def _blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", DOC, re.S | re.M)


def _heading_before(block: str) -> str:
    """The last markdown heading before a block: a readable test id."""
    headings = re.findall(r"^#+ (.+)$", DOC[: DOC.index(block)], re.M)
    return headings[-1] if headings else "top"


SQL_BLOCKS = _blocks("sql")


@pytest.fixture(scope="module")
def published(built_home):
    """A real snapshot (generated landing files -> ingest -> build -> publish)."""
    return built_home.published_dir


def test_committed_doc_is_not_stale():
    assert not is_stale(DOC_PATH), (
        "docs/researchers.md is behind the table/column COMMENTs: run `uv run sealdeal docs` "
        "and commit the result"
    )


def test_changing_a_comment_makes_the_doc_stale_until_regenerated(tmp_path, monkeypatch):
    sql_dir = tmp_path / "sql"
    shutil.copytree(warehouse.store.SQL_DIR, sql_dir)
    marts_sql = sql_dir / "050_marts.sql"
    old = "COMMENT ON COLUMN marts.perception_gap.self_rating IS '"
    assert old in marts_sql.read_text()
    marts_sql.write_text(marts_sql.read_text().replace(old, old + "Reworded: "))
    monkeypatch.setattr(warehouse.store, "SQL_DIR", sql_dir)
    doc = tmp_path / "researchers.md"
    shutil.copy(DOC_PATH, doc)

    assert is_stale(doc)
    assert write_researchers_doc(doc) is True
    assert not is_stale(doc)
    assert write_researchers_doc(doc) is False
    text = doc.read_text()
    assert "| `self_rating` | `INTEGER` | Reworded: How well" in text
    # Only the generated section changed.
    assert text.split(START)[0] == DOC.split(START)[0]
    assert text.split(END)[1] == DOC.split(END)[1]


def test_dictionary_is_deterministic_and_needs_the_markers():
    assert data_dictionary_markdown() == data_dictionary_markdown()
    with pytest.raises(ValueError, match="markers"):
        with_dictionary("# no markers here\n", "dictionary")


def _dictionary_sections() -> dict[str, tuple[str, dict[str, tuple[str, str]]]]:
    """From the committed doc: table -> (table description, column -> (type, description))."""
    generated = DOC.split(START)[1].split(END)[0]
    sections = {}
    for part in generated.split("\n#### ")[1:]:
        lines = part.strip().splitlines()
        name = lines[0].strip("`")
        description = lines[2].strip()
        rows = [line for line in lines if line.startswith("| `")]
        columns = {}
        for row in rows:
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", row)[1:-1]]
            columns[cells[0].strip("`")] = (cells[1].strip("`"), cells[2])
        sections[name] = (description, columns)
    return sections


def test_every_table_and_column_of_a_real_snapshot_is_described(published):
    sections = _dictionary_sections()
    tables, columns = set(), []
    for part in PARTS:
        con = open_snapshot(published, part=part)
        try:
            tables |= set(
                con.execute(
                    "SELECT schema_name, table_name FROM duckdb_tables() "
                    "WHERE database_name = current_database()"
                ).fetchall()
            )
            columns += con.execute(
                "SELECT schema_name, table_name, column_name, data_type FROM duckdb_columns() "
                "WHERE database_name = current_database()"
            ).fetchall()
        finally:
            con.close()
    assert {f"{s}.{t}" for s, t in tables} == set(sections)
    assert len([s for s, _ in tables if s == "marts"]) >= 8
    for schema, table, column, dtype in columns:
        table_description, described = sections[f"{schema}.{table}"]
        assert table_description and table_description != NO_DESCRIPTION, f"{schema}.{table}"
        assert column in described, f"{schema}.{table}.{column} missing from the dictionary"
        assert described[column][0] == dtype
        assert described[column][1] not in ("", NO_DESCRIPTION), (
            f"{schema}.{table}.{column} has no COMMENT"
        )


def test_the_doc_has_sql_for_every_main_question():
    assert len(SQL_BLOCKS) >= 12
    text = "\n".join(SQL_BLOCKS)
    for table in (
        *tables.RESEARCH_MARTS,
        *tables.MICRODATA,
        "is_suppressed",
        "meta.snapshot",
    ):
        assert table in text, table


@pytest.mark.parametrize("sql", SQL_BLOCKS, ids=[_heading_before(b) for b in SQL_BLOCKS])
def test_every_sql_block_runs_on_a_real_snapshot(published, sql):
    con = open_snapshot(published)
    try:
        rows = con.sql(sql).fetchall()
    finally:
        con.close()
    assert rows, "the example returns nothing on a real snapshot"


def test_python_example_runs(published):
    (example,) = [b for b in _blocks("python") if "read_only=True" in b]
    exec(example.replace("data/published", str(published)), {})
