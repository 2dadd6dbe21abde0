"""`sealdeal bench`: the quick smoke run completes and reports every figure; the pieces it is made
of (hold-back split, target verdicts, per-child peak RSS) do what they say."""

from __future__ import annotations

import json
import time

import pytest
from click.testing import CliRunner

import dashboards
from pipelines.app.cli import main
from pipelines.bench import run as bench

BENCH_PACKAGES = bench.PACKAGES


@pytest.fixture(scope="module")
def quick(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("bench") / "bench.json"
    args = ["bench", "--quick", "--json", str(out), "--dashboard-timeout", "300"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "| ingest: DuckDB alone" in result.output  # the printed table
    return json.loads(out.read_text())


def positive(value) -> bool:
    return isinstance(value, int | float) and value > 0


def test_quick_bench_reports_every_ingest_figure(quick):
    ingest = quick["ingest"]
    assert quick["bench"]["quick"] is True
    assert ingest["records"] == ingest["events_appended"] == quick["bench"]["records"] > 0
    for way in ("sealdeal", "duckdb_read_json", "pandas"):
        figures = ingest[way]
        assert len(figures["runs_s"]) == quick["bench"]["repeats"] == bench.QUICK_REPEATS
        for key in ("seconds", "records_per_s", "peak_rss_bytes"):
            assert positive(figures[key]), (way, key)
    assert positive(ingest["slowdown_vs_duckdb"])
    assert positive(ingest["speedup_vs_pandas"])


def test_quick_bench_reports_every_build_figure(quick):
    build = quick["build"]
    for way in ("full", "incremental", "pandas"):
        assert positive(build[way]["seconds"]), way
        assert positive(build[way]["peak_rss_bytes"]), way
    # The incremental build saw exactly the held-back 1%, the full one everything before it.
    assert build["incremental"]["events"] == quick["bench"]["holdout_records"] > 0
    assert build["full"]["events"] == quick["bench"]["records"]
    assert positive(build["incremental_share"])
    assert positive(build["speedup_vs_pandas"])
    # The pandas baseline computes the same adjusted effects from the same records.
    assert build["pandas_max_abs_crude_gap"] < 1e-9


def test_quick_bench_times_every_dashboard_page(quick):
    pages = quick["dashboard"]["pages"]
    assert [p["title"] for p in pages] == [title for title, _ in dashboards.PAGES]
    assert all(positive(p["seconds"]) and positive(p["first_run_s"]) for p in pages)
    assert positive(quick["dashboard"]["app_first_load_s"])
    assert quick["bench"]["dashboard_timeout_s"] == 300
    assert quick["dashboard"]["slowest_page_seconds"] == max(p["seconds"] for p in pages)


def test_quick_bench_states_memory_machine_versions_and_targets(quick):
    memory = quick["memory"]
    steps = ("ingest", "build_full", "build_incremental", "publish")
    assert all(positive(memory[f"{step}_peak_rss_gib"]) for step in steps)
    assert memory["peak_rss_gib"] == max(memory[f"{step}_peak_rss_gib"] for step in steps)
    assert positive(quick["publish"]["seconds"])
    assert memory["publish_peak_rss_gib"] == quick["publish"]["peak_rss_bytes"] / 1024**3
    assert quick["machine"]["cores"] >= 1 and positive(quick["machine"]["memory_gib"])
    assert all(quick["versions"][p] for p in ("python", *BENCH_PACKAGES))
    assert [t["target"] for t in quick["targets"]] == [t[0] for t in bench.TARGETS]
    assert all(positive(t["figure"]) and isinstance(t["met"], bool) for t in quick["targets"])


def test_split_holds_back_the_last_records_in_arrival_order(tmp_path):
    gen = tmp_path / "gen"
    gen.mkdir()
    (gen / "b.jsonl").write_text("".join(f"b{i}\n" for i in range(30)))
    (gen / "a.jsonl").write_text("".join(f"a{i}\n" for i in range(80)))
    (gen / "truth.json").write_text("{}")
    counts = bench.split_holdout(gen, tmp_path / "main", tmp_path / "late", share=0.1)
    assert counts == {"records": 99, "holdout_records": 11, "files": 2}
    main_lines = [
        line for f in sorted((tmp_path / "main").iterdir()) for line in f.read_text().split()
    ]
    late = [line for f in sorted((tmp_path / "late").iterdir()) for line in f.read_text().split()]
    assert main_lines == [f"a{i}" for i in range(80)] + [f"b{i}" for i in range(19)]
    assert late == [f"b{i}" for i in range(19, 30)]


def test_split_moves_whole_files_when_the_share_spans_them(tmp_path):
    gen = tmp_path / "gen"
    gen.mkdir()
    for name, n in (("a", 50), ("b", 3), ("c", 2)):
        (gen / f"{name}.jsonl").write_text("".join(f"{name}{i}\n" for i in range(n)))
    counts = bench.split_holdout(gen, tmp_path / "main", tmp_path / "late", share=0.12)
    assert counts["holdout_records"] == 7
    assert sorted(p.name for p in (tmp_path / "main").iterdir()) == ["a.jsonl"]
    assert len((tmp_path / "main" / "a.jsonl").read_text().split()) == 48


def figures(**overrides) -> dict:
    result = {
        "ingest": {"slowdown_vs_duckdb": 2.9, "speedup_vs_pandas": 5.0},
        "build": {"speedup_vs_pandas": 7.0, "full": {"seconds": 9.5}, "incremental_share": 0.1},
        "dashboard": {"slowest_page_seconds": 0.4},
        "memory": {
            "ingest_peak_rss_gib": 1.9,
            "build_full_peak_rss_gib": 2.0,
            "build_incremental_peak_rss_gib": 0.5,
            "publish_peak_rss_gib": 1.0,
        },
    }
    for dotted, value in overrides.items():
        *path, last = dotted.split("__")
        node = result
        for part in path:
            node = node[part]
        node[last] = value
    return result


def test_targets_are_met_at_their_limits_and_missed_beyond_them():
    verdicts = {t["target"]: t["met"] for t in bench.evaluate_targets(figures())}
    assert all(verdicts.values()), verdicts
    missed = bench.evaluate_targets(
        figures(
            ingest__slowdown_vs_duckdb=3.1,
            ingest__speedup_vs_pandas=4.9,
            build__full={"seconds": 10.5},
            memory__publish_peak_rss_gib=2.1,
        )
    )
    assert {t["target"] for t in missed if not t["met"]} == {
        "ingest_vs_duckdb",
        "ingest_vs_pandas",
        "build_full",
        "memory_publish",
    }


def test_a_target_without_its_figure_is_not_measured_rather_than_met():
    result = figures(dashboard__slowest_page_seconds=None)
    (dash,) = [t for t in bench.evaluate_targets(result) if t["target"] == "dashboard"]
    assert dash["met"] is None and dash["figure"] is None


def test_child_peak_rss_is_the_childs_own(tmp_path):
    # A child that holds 300 MiB reports at least that; a small child reports its own small peak,
    # neither a bigger earlier child's (RUSAGE_CHILDREN would) nor this test process's (a child's
    # ru_maxrss counts the parent's memory at the fork).
    ballast = bytearray(400 * 1024**2)
    ballast[::4096] = b"x" * len(range(0, len(ballast), 4096))  # the parent now holds 400 MiB
    big = bench.run_child("probe", {"mib": 300}, tmp_path)
    small = bench.run_child("probe", {"mib": 1}, tmp_path)
    assert big["peak_rss_bytes"] >= 300 * 1024**2
    assert small["peak_rss_bytes"] < 150 * 1024**2
    assert len(ballast) == 400 * 1024**2


def test_without_pandas_the_pandas_targets_are_not_measured():
    result = figures(ingest__speedup_vs_pandas=None, build__speedup_vs_pandas=None)
    verdicts = {t["target"]: t["met"] for t in bench.evaluate_targets(result)}
    assert verdicts["ingest_vs_pandas"] is None and verdicts["build_vs_pandas"] is None
    assert verdicts["ingest_vs_duckdb"] is True


def test_tree_memory_counts_the_children_while_they_run(tmp_path):
    from pipelines.bench.phases import TreeMemory

    with TreeMemory() as alone:
        time.sleep(0.5)
    with TreeMemory() as tree:
        bench.run_child("probe", {"mib": 300, "hold_s": 1.0}, tmp_path)
    assert tree.peak >= alone.peak + 300 * 1024**2
