"""Story: ingest -> build -> publish -> erase one client -> the client is found nowhere, and
nobody else's figures move except the aggregates that counted them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import polars as pl
import pytest
from click.testing import CliRunner

from pipelines.app.cli import main
from pipelines.app.tasks import publish_snapshot
from pipelines.ingest.load import ingest_paths
from pipelines.insights.build import build, build_as_of
from pipelines.insights.marts import MARTS
from pipelines.landing.records import iter_raw_chunks
from pipelines.privacy.anonymise import pseudonym
from pipelines.synthetic.generate import generate
from tests.conftest import TEST_KEY
from tests.warehouse.test_event_store_contract import stale_hashes
from warehouse.publish import snapshot_dirs

KEY = TEST_KEY.encode()
TEXT_TYPES = ("VARCHAR", "JSON", "VARCHAR[]")


def occurrences(home: Path, needles: list[str]) -> list[str]:
    """Every place under ``home`` where one of ``needles`` occurs: every text column of every
    DuckDB and Parquet file, and the bytes of every other file."""
    found = []
    for path in sorted(p for p in home.rglob("*") if p.is_file() and not p.is_symlink()):
        if path.suffix == ".duckdb":
            con = duckdb.connect(str(path), read_only=True)
            try:
                cols = con.execute(
                    "SELECT database_name, schema_name, table_name, column_name "
                    "FROM duckdb_columns() "
                    "WHERE database_name = current_database() AND data_type IN ?",
                    [list(TEXT_TYPES)],
                ).fetchall()
                for db, schema, table, col in cols:
                    name = f'"{db}"."{schema}"."{table}"'
                    for needle in needles:
                        query = f'SELECT count(*) FROM {name} WHERE contains("{col}"::VARCHAR, ?)'
                        (n,) = con.execute(query, [needle]).fetchall()[0]
                        if n:
                            found.append(f"{path.name}:{schema}.{table}.{col}")
            finally:
                con.close()
        elif path.suffix == ".parquet":
            text = duckdb.sql(f"SELECT COLUMNS(*)::VARCHAR FROM read_parquet('{path}')").pl()
            blob = text.write_csv()
            found += [f"{path}" for n in needles if n in blob]
        elif path.name != "secret.key":
            data = path.read_bytes()
            found += [f"{path}" for n in needles if n.encode() in data]
    return found


def _clients_in_landing(landing: Path) -> pl.DataFrame:
    frames = [raw for p in sorted(landing.rglob("*.jsonl")) for raw in iter_raw_chunks(p)]
    return pl.concat(frames, how="diagonal_relaxed")


def _unique_refs(refs: list[str], raw: pl.DataFrame) -> list[str]:
    """The refs that are no substring of any other ref (else a search finds other people)."""
    every = set(raw["client_ref"].drop_nulls()) | set(raw["interview_ref"].drop_nulls())
    return [r for r in set(refs) if not any(r in o for o in every if o != r)]


@pytest.fixture(scope="module")
def story(tmp_path_factory):
    """A home whose landing zone holds generated files (with their own erasure records),
    ingested, built, published twice, with an as-of build."""
    from pipelines.core.settings import Settings

    root = tmp_path_factory.mktemp("erasure")
    home = Settings(home=root / "home")
    home.ensure_dirs()
    # Generated beside the home (its truth.json names the erased clients), then each firm's
    # files delivered into its own zone, landing/<firm_id>/.
    for name in generate(root / "gen", interviews=900, seed=21)["files"]:
        (home.landing_dir / name).parent.mkdir(exist_ok=True)
        shutil.copy(root / "gen" / name, home.landing_dir / name)
    originals = root / "originals"
    shutil.copytree(home.landing_dir, originals)
    truth = json.loads((root / "gen" / "truth.json").read_text())
    ingest_paths([home.landing_dir], home, KEY)
    build(home)
    mp = pytest.MonkeyPatch()
    mp.setenv("SEALDEAL_HOME", str(home.home))
    mp.setenv("SEALDEAL_SECRET_KEY", TEST_KEY)
    publish_snapshot(home)
    build_as_of(home, "100")
    publish_snapshot(home)
    yield home, originals, truth
    mp.undo()


def _fct(home) -> pl.DataFrame:
    con = duckdb.connect(str(home.warehouse_path), read_only=True)
    try:
        return con.sql("SELECT * FROM marts.fct_interviews ORDER BY firm_id, interview_key").pl()
    finally:
        con.close()


def test_clients_erased_by_landing_records_are_found_nowhere(story):
    home, originals, truth = story
    erased = truth["erasures"]["client_refs"]
    assert erased
    raw = _clients_in_landing(originals)
    needles = []
    for e in erased:
        needles.append(e["client_ref"])
        needles.append(pseudonym(KEY, e["firm_id"], "client", e["client_ref"]))
        mine = raw.filter(
            (pl.col("firm_id") == e["firm_id"]) & (pl.col("client_ref") == e["client_ref"])
        )
        interview_refs = mine.get_column("interview_ref").drop_nulls().unique().to_list()
        needles += [pseudonym(KEY, e["firm_id"], "interview", i) for i in interview_refs]
        needles += _unique_refs(interview_refs, raw)
    assert occurrences(home.home, needles) == []


def test_erase_one_client_from_the_command_line(story, monkeypatch):
    home, originals, _ = story
    monkeypatch.setenv("SEALDEAL_HOME", str(home.home))
    monkeypatch.setenv("SEALDEAL_SECRET_KEY", TEST_KEY)
    raw = _clients_in_landing(home.landing_dir)
    # A client with several debriefs and notes, whose ref is long enough to search for.
    debriefs = raw.filter(pl.col("record_type") == "debrief")
    pick = (
        debriefs.group_by("firm_id", "client_ref")
        .agg(pl.len().alias("n"), pl.col("notes").drop_nulls().alias("notes"))
        .filter((pl.col("n") >= 3) & (pl.col("client_ref").str.len_chars() >= 8))
        .filter(pl.col("notes").list.len() >= 3)
        .sort("n", "client_ref", descending=[True, False])
        .row(0, named=True)
    )
    firm, ref = pick["firm_id"], pick["client_ref"]
    key = pseudonym(KEY, firm, "client", ref)
    interview_refs = debriefs.filter(pl.col("client_ref") == ref)["interview_ref"].to_list()
    interview_keys = [pseudonym(KEY, firm, "interview", i) for i in interview_refs]

    before = _fct(home)
    mine = before.filter((pl.col("firm_id") == firm) & (pl.col("client_key") == key))
    assert mine.height >= 3
    con = duckdb.connect(str(home.warehouse_path), read_only=True)
    try:
        # Scrubbed notes as stored, where no other client's notes contain the text (templated
        # notes are shared by many clients and would be found for them).
        notes = con.execute(
            "SELECT DISTINCT d.notes FROM staging.stg_debriefs d WHERE d.client_key = $1 "
            "AND d.notes IS NOT NULL "
            "AND NOT EXISTS (SELECT 1 FROM staging.stg_debriefs o "
            "                WHERE o.client_key <> $1 AND contains(o.notes, d.notes))",
            [key],
        ).fetchall()
        (events_before,) = con.execute("SELECT count(*) FROM eventstore.events").fetchall()[0]
    finally:
        con.close()
    assert notes
    fragments = sorted({n for (n,) in notes if len(n) >= 20})[:5]
    assert fragments
    assert len(snapshot_dirs(home.published_dir)) >= 2

    result = CliRunner().invoke(main, ["erase", "--firm", firm, "--client", ref])
    assert result.exit_code == 0, result.output
    assert "removed 1 older snapshots" in result.output or "removed" in result.output

    # Found nowhere: pseudonyms, raw refs, note fragments (every file under the home).
    refs = _unique_refs([ref, *interview_refs], raw)
    assert ref in refs
    for needle in [key, *refs, *interview_keys, *fragments]:
        assert occurrences(home.home, [needle]) == [], needle
    # Only the new snapshot is left: the older ones counted the client.
    assert len(snapshot_dirs(home.published_dir)) == 1
    assert not (home.home / "as_of").exists()

    con = duckdb.connect(str(home.warehouse_path), read_only=True)
    try:
        positions = con.execute(
            "SELECT count(*), min(position), max(position) FROM eventstore.events"
        ).fetchall()[0]
        tombstones = con.execute(
            "SELECT count(*) FROM eventstore.events WHERE stream_id LIKE 'erased-%' "
            "AND payload->>'erased_by' IS NOT NULL AND client_key IS NULL"
        ).fetchall()[0][0]
        erasures = con.execute(
            "SELECT count(*), count(raw_redacted_at) FROM eventstore.erasures"
        ).fetchall()[0]
        # Tombstones are found by the hashes of their new ids (the append looks them up so).
        stale = stale_hashes(con)
    finally:
        con.close()
    # The log is still gap-free: one more event (the erasure), nothing deleted.
    assert positions == (events_before + 1, 1, events_before + 1)
    assert tombstones >= mine.height + 1
    assert stale == 0
    assert erasures[0] == erasures[1]  # every raw-file redaction is done

    # Everyone else's rows are exactly as they were; the aggregates are recomputed without them.
    after = _fct(home)
    others = before.filter(~((pl.col("firm_id") == firm) & (pl.col("client_key") == key)))
    assert after.equals(others)
    con = duckdb.connect(str(home.warehouse_path), read_only=True)
    try:
        funnel = con.sql("SELECT * FROM marts.funnel_by_stage ORDER BY stage_order").pl()
    finally:
        con.close()
    assert funnel.equals(MARTS["funnel_by_stage"](after.lazy()).collect())
    assert funnel["interviews"].sum() == before.height - mine.height

    # The firm sends its old files again: the client's records are refused, nobody comes back.
    again = home.landing_dir / firm / "resent"  # in the firm's own zone
    again.mkdir()
    # One new file with every old record of the firm (a new delivery: a byte-identical copy of
    # a file already taken in would simply be skipped).
    resent = again / "2099-01-01_resent.jsonl"
    resent.write_bytes(b"".join(f.read_bytes() for f in sorted((originals / firm).glob("*.jsonl"))))
    summary = ingest_paths([again], home, KEY)
    assert [(r.zone, r.status, r.quarantined) for r in summary.reports] == [(firm, "ingested", 0)]
    assert sum(r.erased_skipped for r in summary.reports) >= mine.height
    build(home)
    assert _fct(home).equals(others)
    con = duckdb.connect(str(home.warehouse_path), read_only=True)
    try:
        (n,) = con.execute(
            "SELECT count(*) FROM eventstore.events WHERE client_key = ?", [key]
        ).fetchall()[0]
    finally:
        con.close()
    assert n == 0
    # The re-sent copies were redacted too (they are in the landing zone).
    assert occurrences(again, [ref]) == []


def test_erasing_an_unknown_client_is_recorded_and_says_so(story, monkeypatch):
    home, _, _ = story
    monkeypatch.setenv("SEALDEAL_HOME", str(home.home))
    monkeypatch.setenv("SEALDEAL_SECRET_KEY", TEST_KEY)
    result = CliRunner().invoke(
        main, ["erase", "--firm", "bright-path", "--client", "nobody-ever@example.com",
               "--no-publish"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "no data of this client was found" in result.output


def test_a_warehouse_refuses_appends_under_another_key(settings, master_key, monkeypatch):
    # One client would become two, and an erasure under the new key would miss the old rows.
    from tests.samples import debrief, write_jsonl, zone

    ingest_paths([write_jsonl(zone(settings) / "a.jsonl", [debrief(1)])], settings, KEY)
    other = zone(settings) / "b.jsonl"
    write_jsonl(other, [debrief(2)])
    monkeypatch.setenv("SEALDEAL_SECRET_KEY", "another-key-" + "1" * 40)
    result = CliRunner().invoke(main, ["ingest", "--no-progress", str(other)])
    assert result.exit_code == 1
    assert "written under another pseudonymisation key" in result.output
    erase = CliRunner().invoke(main, ["erase", "--firm", "north-star", "--client", "x@y.z"])
    assert erase.exit_code == 1 and "another pseudonymisation key" in erase.output
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM eventstore.events").fetchall() == [(1,)]
    finally:
        con.close()
    # Under the warehouse's own key the same file goes in.
    monkeypatch.setenv("SEALDEAL_SECRET_KEY", TEST_KEY)
    assert CliRunner().invoke(main, ["ingest", "--no-progress", str(other)]).exit_code == 0


def test_raw_file_rewrite_counts_lines_as_the_readers_do(settings, master_key):
    # A note may hold a raw U+2028 or U+0085 (valid inside a JSON string): the readers number
    # lines by "\n" only, so the rewrite must too, or it drops a neighbour's record and keeps
    # the erased client's.
    from tests.samples import ERASURE, debrief, zone

    records = [
        debrief(1, notes="Went well\u2028then a long pause\x85and a smile"),
        debrief(2, client_ref=ERASURE["client_ref"]),
        debrief(3),
    ]
    raw = zone(settings) / "a.jsonl"
    raw.parent.mkdir(parents=True, exist_ok=True)
    raw.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), "utf-8")
    erasure = zone(settings) / "b.jsonl"
    erasure.write_text(json.dumps(ERASURE) + "\n", "utf-8")
    ingest_paths([settings.landing_dir], settings, master_key)
    kept = [json.loads(line) for line in raw.read_bytes().split(b"\n") if line]
    assert kept == [records[0], records[2]]
