"""Processes sharing one quality folder (ingest workers, Airflow tasks) share GX's saved suite
and checkpoint: a process starting later reuses them instead of saving them again, which would
make every earlier process's checkpoint fail GX's freshness check."""

from __future__ import annotations

import json

import pandas as pd

from pipelines.ingest import gx_runtime as v


def run(runtime: v.GxRuntime) -> bool:
    view = pd.DataFrame({"source_line": [1], "record_type": ["debrief"]}).set_index("source_line")
    _, result = runtime.run(view, "one-row")
    return result is not None


def test_a_later_process_reuses_the_saved_suite_and_the_earlier_one_still_runs(tmp_path):
    first = v.GxRuntime(tmp_path)  # as in one process ...
    suite_file = next((tmp_path / "gx" / "expectations").glob("*.json"))
    saved = suite_file.read_text()
    second = v.GxRuntime(tmp_path)  # ... and in another, started later
    assert suite_file.read_text() == saved  # reused, not saved again with new ids
    assert run(first) and run(second)


def test_changed_rules_are_saved_again(tmp_path, monkeypatch):
    v.GxRuntime(tmp_path)
    suite_file = next((tmp_path / "gx" / "expectations").glob("*.json"))
    before = json.loads(suite_file.read_text())["meta"]["digest"]
    monkeypatch.setitem(v.RESULT_FORMAT, "partial_unexpected_count", 21)
    later = v.GxRuntime(tmp_path)
    assert json.loads(suite_file.read_text())["meta"]["digest"] != before
    assert run(later)
