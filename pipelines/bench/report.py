"""The figures of a `sealdeal bench` run (`pipelines.bench.run.run_bench`) as a Markdown table,
one row per step, with the target verdicts (the README's Performance section)."""

from __future__ import annotations

GIB = 1024**3

Row = tuple[str, str, str, str, str]  # step, median, figure, peak RSS, target


def format_table(r: dict) -> str:
    """Every figure and target verdict as a Markdown table, under a line saying what was run."""
    rows = [
        *_ingest_rows(r),
        *_build_rows(r),
        _publish_row(r),
        *_dashboard_rows(r),
        *_memory_rows(r),
    ]
    lines = [
        _head(r),
        "",
        "| step | median | figure | peak RSS | target |",
        "|---|---|---|---|---|",
    ]
    lines += [f"| {' | '.join(row)} |" for row in rows]
    return "\n".join(lines)


def _head(r: dict) -> str:
    b, m = r["bench"], r["machine"]
    return (
        f"{b['interviews']:,} interviews = {r['ingest']['records']:,} records in "
        f"{b['landing_files']} files (+{b['holdout_records']:,} for the incremental build); "
        f"median of {b['repeats']} runs, peak RSS the maximum; {m['cores']} cores, "
        f"{m['memory_gib']} GiB, {m['cpu']}; {b['finished_at'][:10]}"
    )


def _ingest_rows(r: dict) -> list[Row]:
    ing = r["ingest"]
    ways = (
        (
            "ingest: SealDeal from the landing zones (parse, validate with GX, anonymise, "
            "append, erasures' raw-file rewrites; Data Docs)",
            "sealdeal",
        ),
        ("ingest: DuckDB alone (`read_json` into a table)", "duckdb_read_json"),
        ("ingest: pandas baseline", "pandas"),
    )
    rows: list[Row] = [
        (label, *_timing(ing[way], f"{ing[way]['seconds']:.1f} s", rate=True), "")
        if ing[way]
        else (label, NOT_RUN, "", "", "")
        for label, way in ways
    ]
    rows.append(
        (
            "ingest: SealDeal time / DuckDB-alone time",
            "",
            f"{ing['slowdown_vs_duckdb']:.1f}x the time",
            "",
            _verdict(r, "ingest_vs_duckdb"),
        )
    )
    rows.append(
        (
            "ingest: pandas time / SealDeal time",
            "",
            _times(ing["speedup_vs_pandas"]),
            "",
            _verdict(r, "ingest_vs_pandas"),
        )
    )
    return rows


NOT_RUN = "not run"


def _timing(figures: dict, median: str, rate: bool = False) -> tuple[str, str, str]:
    """(median, figure, peak RSS) of a step that ran."""
    figure = _rate(figures["records_per_s"]) if rate else ""
    return median, figure, _gib(figures["peak_rss_bytes"])


def _times(ratio: float | None) -> str:
    return NOT_RUN if ratio is None else f"{ratio:.2f}x"


def _build_rows(r: dict) -> list[Row]:
    bld = r["build"]
    full, inc, pandas = bld["full"], bld["incremental"], bld["pandas"]
    return [
        (
            "build: full rebuild (projections, marts, statistics)",
            f"{full['seconds']:.1f} s",
            f"{full['events']:,} events",
            _gib(full["peak_rss_bytes"]),
            _verdict(r, "build_full"),
        ),
        (
            "build: incremental, after 1% more events",
            f"{inc['seconds']:.2f} s",
            f"{inc['events']:,} events; {bld['incremental_share']:.0%} of full",
            _gib(inc["peak_rss_bytes"]),
            _verdict(r, "build_incremental"),
        ),
        ("build: pandas analysis", *_timing(pandas, f"{pandas['seconds']:.1f} s"), "")
        if pandas
        else ("build: pandas analysis", NOT_RUN, "", "", ""),
        (
            "build: pandas time / SealDeal full-build time",
            "",
            _times(bld["speedup_vs_pandas"]),
            "",
            _verdict(r, "build_vs_pandas"),
        ),
    ]


def _publish_row(r: dict) -> Row:
    publish = r["publish"]
    label = "publish: research snapshot of the built warehouse"
    return (label, *_timing(publish, f"{publish['seconds']:.1f} s"), "")


def _dashboard_rows(r: dict) -> list[Row]:
    dashboard = r["dashboard"]
    rows: list[Row] = []
    if dashboard.get("app_first_load_s") is not None:  # None: the dashboard phase failed
        first = f"{dashboard['app_first_load_s']:.2f} s"
        memory = _gib(dashboard["peak_rss_bytes"])
        rows.append(("dashboard: first load of the snapshot (cold)", first, "", memory, ""))
    for page in dashboard["pages"]:
        warm, cold = f"{page['seconds']:.2f} s", f"first view {page['first_run_s']:.2f} s"
        rows.append((f"dashboard: {page['title']} (warm)", warm, cold, "", ""))
    error = (dashboard.get("error") or "").split("\n")[0]
    rows.append(("dashboard: slowest page", "", error, "", _verdict(r, "dashboard")))
    return rows


def _memory_rows(r: dict) -> list[Row]:
    steps = ("ingest", "build_full", "build_incremental", "publish")
    return [
        (
            f"peak RSS: {step.replace('_', ' ')}",
            "",
            "",
            f"{r['memory'][f'{step}_peak_rss_gib']:.2f} GiB",
            _verdict(r, f"memory_{step}"),
        )
        for step in steps
    ]


def _gib(n: float) -> str:
    return f"{n / GIB:.2f} GiB"


def _rate(per_s: float) -> str:
    return f"{per_s / 1000:,.1f}k records/s"


def _verdict(result: dict, key: str) -> str:
    (target,) = [t for t in result["targets"] if t["target"] == key]
    met = {True: "met", False: "**missed**", None: "not measured"}[target["met"]]
    return f"{target['text']}: {met}"
