"""Which firm's zone each landing file came through."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.landing.files import deliveries, landing_files


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{}\n")
    return path


def test_the_zone_is_the_first_folder_below_the_landing_folder(tmp_path):
    landing = tmp_path / "landing"
    a = touch(landing / "firm-a" / "2026-01-02_x.jsonl")
    deep = touch(landing / "firm-b" / "sub" / "firm-a" / "2026-01-01_y.csv")
    found = {d.path: d.zone for d in deliveries([landing], landing_dir=landing)}
    # Deeper folders never change the zone: firm-b cannot write as firm-a by naming a folder.
    assert found == {a: "firm-a", deep: "firm-b"}
    assert deliveries([a], landing_dir=landing)[0].zone == "firm-a"


def test_files_outside_every_zone_have_none(tmp_path):
    landing = tmp_path / "landing"
    at_root = touch(landing / "loose.jsonl")
    not_a_firm = touch(landing / "Bad Folder" / "x.jsonl")
    elsewhere = touch(tmp_path / "elsewhere.jsonl")
    found = deliveries([landing, elsewhere], landing_dir=landing)
    assert {d.path: d.zone for d in found} == {at_root: None, not_a_firm: None, elsewhere: None}
    reason = found[0].outside_zones()
    assert "outside any firm's landing zone" in reason and "landing/<firm_id>/" in reason


def test_a_folder_named_outside_the_landing_folder_is_laid_out_like_it(tmp_path):
    export = tmp_path / "export"
    f = touch(export / "firm-c" / "2026-01-01.jsonl")
    loose = touch(export / "2026-01-01.jsonl")
    found = {d.path: d.zone for d in deliveries([export], landing_dir=tmp_path / "landing")}
    assert found == {f: "firm-c", loose: None}


def test_single_firm_owns_every_file(tmp_path):
    landing = tmp_path / "landing"
    files = [touch(landing / "a.jsonl"), touch(landing / "other-firm" / "b.jsonl")]
    found = deliveries([landing, tmp_path], landing_dir=landing, single_firm="solo-firm")
    assert {d.zone for d in found} == {"solo-firm"}
    assert {d.path for d in found} >= set(files)
    with pytest.raises(ValueError, match="not a firm id"):
        deliveries([landing], landing_dir=landing, single_firm="Not A Firm")


def test_arrival_order_is_by_file_name_across_zones(tmp_path):
    landing = tmp_path / "landing"
    late = touch(landing / "aaa-firm" / "2026-02-01_a.jsonl")
    early = touch(landing / "zzz-firm" / "2026-01-01_z.jsonl")
    hidden = touch(landing / "aaa-firm" / ".partial.jsonl")
    assert landing_files([landing]) == [early, late]
    assert hidden not in landing_files([landing])
