"""`sealdeal refresh`: both DAGs' steps in order, without Airflow, on real DuckDB and GX; it
stops at the first failure."""

from __future__ import annotations

import json
import re

import duckdb

from pipelines.landing.files import landing_files
from tests.pipelines.app.conftest import current_snapshot_id, sealdeal
from tests.samples import debrief, write_jsonl, zone
from warehouse.publish import snapshot_dirs


def log_position(settings) -> int:
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        return con.execute("SELECT max(position) FROM eventstore.events").fetchall()[0][0]
    finally:
        con.close()


def published(settings) -> tuple[str, int]:
    snapshot = settings.published_dir / "current" / "research.duckdb"
    con = duckdb.connect(str(snapshot), read_only=True)
    try:
        return con.execute("SELECT snapshot_id, last_event_position FROM meta.snapshot").fetchall()[
            0
        ]
    finally:
        con.close()


def steps(output: str) -> list[str]:
    return [line.split(":")[0] for line in output.splitlines() if not line.startswith("HELD ")]


def late_file(settings, name: str = "2026-07-01_north-star.jsonl"):
    """Two debriefs of new interviews: new events after the first refresh."""
    return write_jsonl(zone(settings) / name, [debrief(9001), debrief(9002)])


def test_refresh_ingests_builds_checks_publishes_and_audits(refreshed):
    result, settings = refreshed.result, refreshed.settings
    assert result.exit_code == 0, result.output
    assert steps(result.output) == ["ingest", "build", "check", "publish", "audit"]
    lines = result.output.splitlines()

    files = landing_files([settings.landing_dir])
    appended = int(re.search(r"(\d+) events appended", lines[0]).group(1))
    assert lines[0].startswith(f"ingest: {len(files)} new file(s), ") and appended > 500
    position = log_position(settings)
    assert position == appended
    assert lines[1].startswith(f"build: events 1..{position} ({position} new)")
    assert re.fullmatch(r"check: \d+ mart checks passed", lines[2])

    snapshot_id, snapshot_position = published(settings)
    assert snapshot_position == position and snapshot_id.endswith(f"-p{position}")
    assert lines[3] == f"publish: {snapshot_id}" and current_snapshot_id(settings) == snapshot_id
    values = re.match(r"audit: clean \(([\d,]+) text values", lines[4]).group(1)
    assert int(values.replace(",", "")) > 10_000


def test_a_second_refresh_publishes_nothing_new_and_audits_again(home):
    before = current_snapshot_id(home)
    result = sealdeal(home, "refresh")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "ingest: no new landing files"
    position = log_position(home)
    assert lines[1] == (
        f"build, check, publish: nothing to do, the published snapshot is at event {position}, "
        "as is the event log"
    )
    assert lines[2].startswith("audit: clean") and len(lines) == 3
    assert current_snapshot_id(home) == before and len(snapshot_dirs(home.published_dir)) == 1


def test_a_failed_mart_check_publishes_nothing_and_skips_the_audit(home):
    """A mart row duplicated by hand (an interview the new events do not touch, so the
    incremental build keeps it): the GX uniqueness check fails and the refresh stops there."""
    con = duckdb.connect(str(home.warehouse_path))
    try:
        con.execute("INSERT INTO marts.fct_interviews SELECT * FROM marts.fct_interviews LIMIT 1")
    finally:
        con.close()
    before = published(home)
    late_file(home)

    result = sealdeal(home, "refresh")
    assert result.exit_code == 1, result.output
    assert steps(result.output)[:2] == ["ingest", "build"]
    assert "ingest: 1 new file(s), 2 events appended" in result.output
    assert result.output.splitlines()[-1] == (
        "Error: mart checks failed: fct_interviews: "
        "expect_compound_columns_to_be_unique(firm_id,interview_key) x2; nothing was published"
    )
    assert "publish:" not in result.output and "audit:" not in result.output
    assert published(home) == before and log_position(home) == before[1] + 2


def test_personal_data_in_an_output_fails_the_refresh_with_the_redacted_report(home):
    planted = "jane.roe-4821@example.org"
    (home.quality_dir / "leak.json").write_text(json.dumps({"unexpected": planted}))
    late_file(home)

    result = sealdeal(home, "refresh")
    assert result.exit_code == 1, result.output
    # Everything before the audit ran: the new events are published, then the audit fails.
    assert steps(result.output)[:4] == ["ingest", "build", "check", "publish"]
    assert published(home)[1] == log_position(home)
    assert "quality/leak.json" in result.stderr and "1 finding(s)" in result.stderr
    assert result.output.splitlines()[-1] == (
        "Error: audit: personal data in the outputs (report above)"
    )
    assert planted not in result.output and "jane.roe" not in result.output


def test_a_held_file_keeps_no_other_file_out_but_fails_the_refresh(home):
    late_file(home, "2026-07-01_north-star.jsonl")
    write_jsonl(zone(home) / "2026-07-02_north-star.jsonl", ["not json", "{", "[]"])

    result = sealdeal(home, "refresh")
    assert result.exit_code == 1, result.output
    assert "HELD 2026-07-02_north-star.jsonl: " in result.stderr
    assert steps(result.output)[:5] == ["ingest", "build", "check", "publish", "audit"]
    assert "ingest: 2 new file(s), 2 events appended" in result.output
    assert ", 1 held" in result.output
    assert published(home)[1] == log_position(home)  # the good file's events are published
    assert result.output.splitlines()[-1].startswith(
        "Error: 1 landing file(s) held: 2026-07-02_north-star.jsonl"
    )
