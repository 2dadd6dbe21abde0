"""`sealdeal build` says when readers would not see what it built: the published snapshot is
behind the marts (or there is none) until `sealdeal publish`."""

from __future__ import annotations

from tests.pipelines.app.conftest import current_snapshot_id, sealdeal
from tests.samples import debrief, write_jsonl, zone

ADVICE = "run `sealdeal publish` (or `sealdeal refresh`)"


def ingest(settings, name: str, records: list) -> None:
    path = write_jsonl(zone(settings) / name, records)
    result = sealdeal(settings, "ingest", "--no-progress", str(path))
    assert result.exit_code == 0, result.output


def test_build_says_the_published_snapshot_is_behind_until_it_is_published(home):
    published = current_snapshot_id(home)
    position = int(published.rsplit("-p", 1)[1])
    assert sealdeal(home, "build").output.splitlines()[-1].startswith("  marts.")  # current

    ingest(home, "2026-07-01_north-star.jsonl", [debrief(9001), debrief(9002)])
    result = sealdeal(home, "build")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == (
        f"published snapshot {published} is at event {position}, the marts at {position + 2}: "
        f"{ADVICE}"
    )

    assert sealdeal(home, "publish").exit_code == 0
    after = sealdeal(home, "build")
    assert after.exit_code == 0 and "published snapshot" not in after.output


def test_build_without_any_snapshot_says_none_is_published(settings):
    ingest(settings, "2026-03-01_north-star.jsonl", [debrief(1), debrief(2), debrief(3)])
    result = sealdeal(settings, "build")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == (
        f"no snapshot is published yet, the marts are at event 3: {ADVICE}"
    )


def test_an_as_of_build_is_never_published_and_says_nothing_of_it(home, tmp_path):
    ingest(home, "2026-07-01_north-star.jsonl", [debrief(9001)])
    out = tmp_path / "as-of.duckdb"
    result = sealdeal(home, "build", "--as-of", "5", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert out.exists() and "publish" not in result.output
