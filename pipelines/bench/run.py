"""`sealdeal bench`: ingest, build, dashboard and memory figures at N interviews, in one run.

What is measured (each figure the median of `repeats` runs):

- ingest: `pipelines.ingest.load.ingest_paths` (parse, validate, anonymise, append, Data Docs) over
  the generated JSONL into an empty warehouse; the same files loaded by DuckDB alone
  (`read_json` into a table: the limit); the pandas baseline
  (`pipelines.bench.pandas_baseline.ingest`).
- build: `pipelines.insights.build.build(full=True)` on the ingested warehouse; an incremental build
  after 1% more events (the last 1% of the records in arrival order are held back from the
  ingest and ingested, unmeasured, into a copy of the built warehouse); the pandas analysis
  (`pipelines.bench.pandas_baseline.analyse`).
- dashboard: every page of `dashboards.PAGES` run with Streamlit's `AppTest` on the published
  snapshot; the first run warms the cache and is not counted.
- memory: the peak RSS of every measured process.

Every measured run is a fresh child process (`python -m pipelines.bench.run _phase ...`): the child
times only the work (imports excluded) and writes its figures as JSON, with its peak RSS read
from /proc/self/status (VmHWM: the peak of the child's own memory since it started). Not
getrusage: on Linux a child's ru_maxrss also counts the parent's memory at the fork (exec records
the forked address space's high-water mark), and RUSAGE_CHILDREN is the maximum over all
children so far. Peak RSS is reported as the maximum over the repeats.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

DEFAULT_INTERVIEWS = 1_000_000
DEFAULT_REPEATS = 3
QUICK_INTERVIEWS = 2_000
QUICK_REPEATS = 2
SEED = 42
FIRMS = 3  # the generator's default
QUICK_FIRMS = 1
HOLDOUT_SHARE = 0.01  # "incremental build after 1% more events"
BENCH_KEY = b"bench-only-key"
GIB = 1024**3
PACKAGES = (
    "sealdeal",
    "duckdb",
    "polars",
    "pandas",
    "pyarrow",
    "numpy",
    "great-expectations",
    "streamlit",
)
# (key, description, figure, comparison, limit): the targets at 1M interviews, 2 cores.
TARGETS = (
    ("ingest_vs_duckdb", "ingest within 3x of DuckDB alone", "ingest.slowdown_vs_duckdb", "<=", 3),
    ("ingest_vs_pandas", "ingest >= 5x faster than pandas", "ingest.speedup_vs_pandas", ">=", 5),
    ("build_vs_pandas", "build >= 5x faster than pandas", "build.speedup_vs_pandas", ">=", 5),
    ("build_full", "full build <= 10 s", "build.full.seconds", "<=", 10),
    (
        "build_incremental",
        "incremental build <= 10% of full",
        "build.incremental_share",
        "<=",
        0.10,
    ),
    ("dashboard", "every dashboard page <= 1 s warm", "dashboard.slowest_page_seconds", "<=", 1),
    ("memory", "peak RSS <= 2 GiB", "memory.peak_rss_gib", "<=", 2),
)


# ---------------------------------------------------------------------------- child processes


class PhaseFailed(RuntimeError):
    pass


def run_child(phase: str, args: dict, workdir: Path, env: dict | None = None) -> dict:
    """Run one phase in a fresh interpreter; its figures plus `peak_rss_bytes` and `wall_s`."""
    out = workdir / f"{phase}.result.json"
    log = workdir / f"{phase}.log"
    out.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "pipelines.bench.run", "_phase", phase, json.dumps(args), str(out)]
    started = time.perf_counter()
    with log.open("ab") as err:
        child_env = {k: v for k, v in os.environ.items() if k != "SEALDEAL_FIRM"} | (env or {})
        proc = subprocess.Popen(cmd, stdout=err, stderr=err, env=child_env, cwd=_repo_root())
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    if proc.returncode != 0 or not out.exists():
        tail = log.read_text(errors="replace")[-3000:]
        raise PhaseFailed(f"phase {phase} exited {proc.returncode}; log {log}:\n{tail}")
    result = json.loads(out.read_text())
    result["wall_s"] = time.perf_counter() - started
    if result.get("peak_rss_bytes") is None:  # no /proc: the (over-)estimate of rusage
        result["peak_rss_bytes"] = usage.ru_maxrss * (1 if sys.platform == "darwin" else 1024)
    return result


def own_peak_rss() -> int | None:
    """This process's peak resident memory in bytes (VmHWM), None where /proc is missing."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024  # kB
    return None


def _repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


def _timed(fn: Callable[[], dict | None]) -> dict:
    started = time.perf_counter()
    extra = fn() or {}
    return {"seconds": time.perf_counter() - started, **extra}


def _phase_generate(args: dict) -> dict:
    from pipelines.synthetic.generate import generate

    out, interviews, firms = Path(args["out"]), args["interviews"], args["firms"]
    return _timed(lambda: {"summary": generate(out, interviews, SEED, firms=firms)})


def _phase_ingest(args: dict) -> dict:
    from pipelines.core.settings import Settings
    from pipelines.ingest.load import ingest_paths

    settings = Settings(home=Path(args["home"]))

    def work() -> dict:
        summary = ingest_paths([Path(p) for p in args["paths"]], settings, BENCH_KEY)
        return summary.totals()

    return _timed(work)


def _phase_duckdb_load(args: dict) -> dict:
    import duckdb

    def load() -> None:
        # Connect, load and close (which checkpoints) are all timed, as they are for the ingest.
        with duckdb.connect(args["database"]) as con:
            con.execute(
                "CREATE TABLE raw AS SELECT * FROM read_json(?, format='newline_delimited')",
                [args["files"]],
            )

    result = _timed(load)
    with duckdb.connect(args["database"], read_only=True) as con:
        (records,) = con.execute("SELECT count(*) FROM raw").fetchone()
    return {**result, "records": records}


def _phase_pandas_ingest(args: dict) -> dict:
    from pipelines.bench import pandas_baseline as bench_pandas

    files = [Path(p) for p in args["files"]]
    return _timed(lambda: bench_pandas.ingest(files, Path(args["database"]), BENCH_KEY))


def _phase_build(args: dict) -> dict:
    import duckdb

    from pipelines.core.settings import Settings
    from pipelines.insights.build import build

    settings = Settings(home=Path(args["home"]))
    result = _timed(lambda: _build_figures(build(settings, full=args["full"])))
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:  # outside the timing: the estimates the pandas analysis is checked against
        rows = con.execute(
            "SELECT tactic, estimate FROM marts.tactic_estimates WHERE segment = 'all' "
            "AND estimand = 'advance' AND method = 'crude'"
        ).fetchall()
    finally:
        con.close()
    return {**result, "crude_diff_all": dict(rows)}


def _build_figures(report) -> dict:
    return {"events": report.events, "interviews_recomputed": report.interviews_recomputed}


def _phase_pandas_build(args: dict) -> dict:
    from pipelines.bench import pandas_baseline as bench_pandas

    frame: dict = {}

    def work() -> None:
        frame["effects"] = bench_pandas.analyse(Path(args["database"]))

    result = _timed(work)
    effects = frame["effects"]
    overall = effects[effects["segment"] == "all"]
    return {
        **result,
        "crude_diff_all": dict(zip(overall["tactic"], overall["crude_diff"], strict=True)),
    }


def _phase_publish(args: dict) -> dict:
    from pipelines.core.settings import Settings
    from pipelines.release.publishing import publish_snapshot

    return _timed(lambda: {"snapshot": publish_snapshot(Settings(home=Path(args["home"])))})


def _phase_dashboard(args: dict) -> dict:
    """Each page of dashboards.PAGES through the app's entry script (which every page needs: it
    loads the snapshot and draws the filters): one warm-up run, then `repeats` timed runs."""
    from streamlit.testing.v1 import AppTest

    import dashboards

    pages = getattr(dashboards, "PAGES", None)
    if not pages:
        raise PhaseFailed("dashboards.PAGES (ordered (title, page script) pairs) is missing")
    app = AppTest.from_file(
        str(Path(dashboards.__file__).parent / "app.py"), default_timeout=args["timeout"]
    )

    def run() -> float:
        started = time.perf_counter()
        app.run()
        seconds = time.perf_counter() - started
        if app.exception:
            messages = "; ".join(e.message for e in app.exception)
            raise PhaseFailed(f"dashboard page {title!r} raised: {messages}")
        return seconds

    title = pages[0][0]
    first_load = run()  # loads the snapshot into the cache
    out = []
    for title, page in pages:
        app.switch_page(str(page))
        first = run()  # fills the page's own cache entries
        runs = [run() for _ in range(args["repeats"])]
        out.append({"title": title, "page": str(page), "first_run_s": first, "runs": runs})
    return {"app_first_load_s": first_load, "pages": out}


def _phase_probe(args: dict) -> dict:
    """Hold `mib` MiB: a known peak, to check that peak RSS is measured per child."""
    block = bytearray(args["mib"] * 1024**2)
    block[::4096] = b"x" * len(range(0, len(block), 4096))  # touch every page
    return {"seconds": 0.0}


PHASES: dict[str, Callable[[dict], dict]] = {
    "generate": _phase_generate,
    "ingest": _phase_ingest,
    "duckdb_load": _phase_duckdb_load,
    "pandas_ingest": _phase_pandas_ingest,
    "build": _phase_build,
    "pandas_build": _phase_pandas_build,
    "publish": _phase_publish,
    "dashboard": _phase_dashboard,
    "probe": _phase_probe,
}


def _child_main(argv: list[str]) -> int:
    phase, args, out = argv
    result = PHASES[phase](json.loads(args))
    result["peak_rss_bytes"] = own_peak_rss()
    Path(out).write_text(json.dumps(result, default=str))
    return 0


# ---------------------------------------------------------------------------- data preparation


def split_holdout(gen: Path, main: Path, holdout: Path, share: float = HOLDOUT_SHARE) -> dict:
    """Copy the landing files to `main`, except the last `share` of the records in arrival order
    (file name, then line), which go to `holdout` as a later delivery."""
    files = sorted(gen.glob("*.jsonl"))
    counts = [_line_count(f) for f in files]
    total = sum(counts)
    held = max(1, round(total * share))
    main.mkdir(parents=True)
    holdout.mkdir(parents=True)
    remaining = held
    for f, n in reversed(list(zip(files, counts, strict=True))):
        take = min(n, remaining)
        remaining -= take
        if take == 0:
            shutil.copyfile(f, main / f.name)
            continue
        lines = f.read_bytes().splitlines(keepends=True)
        if take < n:
            (main / f.name).write_bytes(b"".join(lines[: n - take]))
        (holdout / f"{f.stem}_late.jsonl").write_bytes(b"".join(lines[n - take :]))
    return {"records": total - held, "holdout_records": held, "files": len(files)}


def _line_count(path: Path) -> int:
    with path.open("rb") as fh:
        return sum(1 for line in fh if line.strip())


# ---------------------------------------------------------------------------- the run


def _median(results: list[dict], key: str = "seconds") -> float:
    return statistics.median(r[key] for r in results)


def _summary(results: list[dict], records: int | None = None) -> dict:
    seconds = _median(results)
    out = {
        "seconds": seconds,
        "runs_s": [r["seconds"] for r in results],
        "peak_rss_bytes": max(r["peak_rss_bytes"] for r in results),
    }
    if records is not None:
        out["records_per_s"] = records / seconds
    return out


def machine() -> dict:
    import psutil

    cpu = platform.processor()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        models = [
            line.split(":", 1)[1].strip()
            for line in cpuinfo.read_text().splitlines()
            if line.startswith("model name")
        ]
        cpu = models[0] if models else cpu
    affinity = getattr(os, "sched_getaffinity", None)
    return {
        "cores": len(affinity(0)) if affinity else os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / GIB, 1),
        "cpu": cpu,
        "platform": platform.platform(),
    }


def versions() -> dict:
    out = {"python": platform.python_version()}
    for package in PACKAGES:
        try:
            out[package] = version(package)
        except PackageNotFoundError:
            out[package] = None
    return out


def _figure(result: dict, dotted: str):
    value = result
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def evaluate_targets(result: dict) -> list[dict]:
    out = []
    for key, text, dotted, op, limit in TARGETS:
        figure = _figure(result, dotted)
        met = None if figure is None else (figure <= limit if op == "<=" else figure >= limit)
        out.append({"target": key, "text": text, "figure": figure, "limit": limit, "met": met})
    return out


def run_bench(
    interviews: int = DEFAULT_INTERVIEWS,
    repeats: int = DEFAULT_REPEATS,
    workdir: Path | None = None,
    *,
    quick: bool = False,
    dashboard_timeout: float = 120.0,
    log: Callable[[str], None] = print,
) -> dict:
    """Generate data and measure every phase; return every figure as one JSON-able dict."""
    own = workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="sealdeal-bench-")) if own else workdir
    workdir.mkdir(parents=True, exist_ok=True)
    started = datetime.now(UTC)
    try:
        return _run(interviews, repeats, workdir, quick, dashboard_timeout, log, started)
    finally:
        if own:
            shutil.rmtree(workdir, ignore_errors=True)


def _run(interviews, repeats, workdir, quick, dashboard_timeout, log, started) -> dict:
    def step(text: str) -> None:
        log(f"[{time.strftime('%H:%M:%S')}] {text}")

    step(f"generating {interviews:,} interviews in {workdir}")
    # One firm for the smoke run: fewer, larger files (each file is one GX validation run).
    firms = QUICK_FIRMS if quick else FIRMS
    generated = {"out": str(workdir / "gen"), "interviews": interviews, "firms": firms}
    gen = run_child("generate", generated, workdir)
    data = split_holdout(workdir / "gen", workdir / "main", workdir / "holdout")
    records = data["records"]
    files = sorted(str(p) for p in (workdir / "main").glob("*.jsonl"))
    step(f"{records:,} records in {len(files)} files, {data['holdout_records']:,} held back")

    ingests, base = [], None
    for i in range(repeats):
        home = workdir / f"ingest-{i}"
        step(f"ingest {i + 1}/{repeats}")
        ingests.append(run_child("ingest", {"home": str(home), "paths": files}, workdir))
        if base is not None:
            shutil.rmtree(base)
        base = home
    loads = []
    for i in range(repeats):
        step(f"duckdb read_json {i + 1}/{repeats}")
        database = workdir / "duckdb-only.duckdb"
        database.unlink(missing_ok=True)
        loads.append(run_child("duckdb_load", {"database": str(database), "files": files}, workdir))
    pandas_ingests = []
    pandas_db = workdir / "pandas.duckdb"
    for i in range(repeats):
        step(f"pandas ingest {i + 1}/{repeats}")
        pandas_db.unlink(missing_ok=True)
        pandas_ingests.append(
            run_child("pandas_ingest", {"database": str(pandas_db), "files": files}, workdir)
        )

    fulls = []
    for i in range(repeats):
        step(f"full build {i + 1}/{repeats}")
        fulls.append(run_child("build", {"home": str(base), "full": True}, workdir))
    template = workdir / "incremental-template"
    template.mkdir()
    shutil.copyfile(base / "warehouse.duckdb", template / "warehouse.duckdb")
    step(f"ingesting the {data['holdout_records']:,} held-back records (not measured)")
    late = {"home": str(template), "paths": [str(workdir / "holdout")]}
    holdout = run_child("ingest", late, workdir)
    incrementals = []
    for i in range(repeats):
        step(f"incremental build {i + 1}/{repeats}")
        home = workdir / "incremental"
        shutil.rmtree(home, ignore_errors=True)
        home.mkdir()
        shutil.copyfile(template / "warehouse.duckdb", home / "warehouse.duckdb")
        incrementals.append(run_child("build", {"home": str(home), "full": False}, workdir))
    pandas_builds = []
    for i in range(repeats):
        step(f"pandas analysis {i + 1}/{repeats}")
        pandas_builds.append(run_child("pandas_build", {"database": str(pandas_db)}, workdir))

    step("publishing a snapshot for the dashboards")
    run_child("publish", {"home": str(base)}, workdir)
    step("dashboard pages")
    dashboard = _dashboard(base, repeats, dashboard_timeout, workdir)

    result = {
        "bench": {
            "interviews": interviews,
            "repeats": repeats,
            "quick": quick,
            "statistic": "median of repeats; peak RSS = maximum over repeats",
            "seed": SEED,
            "firms": firms,
            "records": records,
            "holdout_records": data["holdout_records"],
            "landing_files": len(files),
            "generate_seconds": gen["seconds"],
            "started_at": started.isoformat(timespec="seconds"),
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        },
        "machine": machine(),
        "versions": versions(),
        "ingest": _ingest_figures(records, ingests, loads, pandas_ingests),
        "build": _build_figures_all(fulls, incrementals, pandas_builds, holdout),
        "dashboard": dashboard,
    }
    result["memory"] = {
        "ingest_peak_rss_gib": result["ingest"]["sealdeal"]["peak_rss_bytes"] / GIB,
        "build_peak_rss_gib": max(
            result["build"][k]["peak_rss_bytes"] for k in ("full", "incremental")
        )
        / GIB,
    }
    result["memory"]["peak_rss_gib"] = max(result["memory"].values())
    result["targets"] = evaluate_targets(result)
    return result


def _ingest_figures(records, ingests, loads, pandas_ingests) -> dict:
    ours, duck, pandas = (_summary(runs, records) for runs in (ingests, loads, pandas_ingests))
    totals = ingests[-1]
    if totals["records"] != records or loads[-1]["records"] != records:
        raise PhaseFailed(
            f"record counts differ: {records} generated, {totals['records']} ingested, "
            f"{loads[-1]['records']} loaded by DuckDB"
        )
    return {
        "records": records,
        "events_appended": totals["events_appended"],
        "quarantined": totals["quarantined"],
        "sealdeal": ours,
        "duckdb_read_json": duck,
        "pandas": pandas,
        "slowdown_vs_duckdb": ours["seconds"] / duck["seconds"],
        "speedup_vs_pandas": pandas["seconds"] / ours["seconds"],
    }


def _build_figures_all(fulls, incrementals, pandas_builds, holdout) -> dict:
    full, inc, pandas = (_summary(r) for r in (fulls, incrementals, pandas_builds))
    full["events"] = fulls[-1]["events"]
    inc["events"] = incrementals[-1]["events"]
    inc["interviews_recomputed"] = incrementals[-1]["interviews_recomputed"]
    ours, theirs = fulls[-1]["crude_diff_all"], pandas_builds[-1]["crude_diff_all"]
    gaps = [
        abs(ours[t] - theirs[t]) for t in ours if ours[t] is not None and theirs.get(t) is not None
    ]
    return {
        "full": full,
        "incremental": inc,
        "pandas": pandas,
        "holdout_ingest_seconds": holdout["seconds"],
        "incremental_share": inc["seconds"] / full["seconds"],
        "speedup_vs_pandas": pandas["seconds"] / full["seconds"],
        # Same data, same definitions: the crude per-round effects should agree (a sanity check
        # that the baseline does the same analysis); they differ only where ties are broken.
        "pandas_max_abs_crude_gap": max(gaps) if gaps else None,
    }


def _dashboard(home: Path, repeats: int, timeout: float, workdir: Path) -> dict:
    try:
        result = run_child(
            "dashboard",
            {"repeats": repeats, "timeout": timeout},
            workdir,
            env={"SEALDEAL_HOME": str(home)},
        )
    except PhaseFailed as exc:  # the other figures are still worth having
        return {"error": str(exc), "pages": [], "slowest_page_seconds": None, "peak_rss_bytes": 0}
    pages = [
        {**p, "seconds": statistics.median(p["runs"]), "runs_s": p.pop("runs")}
        for p in result["pages"]
    ]
    return {
        "app_first_load_s": result["app_first_load_s"],
        "pages": pages,
        "slowest_page_seconds": max(p["seconds"] for p in pages),
        "peak_rss_bytes": result["peak_rss_bytes"],
    }


# ---------------------------------------------------------------------------- report


def _gib(n: float) -> str:
    return f"{n / GIB:.2f} GiB"


def _rate(per_s: float) -> str:
    return f"{per_s / 1000:,.1f}k records/s"


def _verdict(result: dict, key: str) -> str:
    (target,) = [t for t in result["targets"] if t["target"] == key]
    met = {True: "met", False: "**missed**", None: "not measured"}[target["met"]]
    return f"{target['text']}: {met}"


def format_table(r: dict) -> str:
    """Every figure and target verdict as a Markdown table (README's Performance section)."""
    ing, bld, m, b = r["ingest"], r["build"], r["machine"], r["bench"]
    ours, duck, pandas = ing["sealdeal"], ing["duckdb_read_json"], ing["pandas"]
    full, inc = bld["full"], bld["incremental"]
    ingests = (
        ("ingest: SealDeal (parse, validate with GX, anonymise, append; Data Docs)", ours),
        ("ingest: DuckDB alone (`read_json` into a table)", duck),
        ("ingest: pandas baseline", pandas),
    )
    rows = [
        *(
            (
                label,
                f"{fig['seconds']:.1f} s",
                _rate(fig["records_per_s"]),
                _gib(fig["peak_rss_bytes"]),
                "",
            )
            for label, fig in ingests
        ),
        (
            "ingest: SealDeal time / DuckDB-alone time",
            "",
            f"{ing['slowdown_vs_duckdb']:.1f}x the time",
            "",
            _verdict(r, "ingest_vs_duckdb"),
        ),
        (
            "ingest: pandas time / SealDeal time",
            "",
            f"{ing['speedup_vs_pandas']:.2f}x",
            "",
            _verdict(r, "ingest_vs_pandas"),
        ),
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
        (
            "build: pandas analysis",
            f"{bld['pandas']['seconds']:.1f} s",
            "",
            _gib(bld["pandas"]["peak_rss_bytes"]),
            "",
        ),
        (
            "build: pandas time / SealDeal full-build time",
            "",
            f"{bld['speedup_vs_pandas']:.2f}x",
            "",
            _verdict(r, "build_vs_pandas"),
        ),
    ]
    dashboard = r["dashboard"]
    if dashboard.get("app_first_load_s") is not None:
        first = f"{dashboard['app_first_load_s']:.2f} s"
        memory = _gib(dashboard["peak_rss_bytes"])
        rows.append(("dashboard: first load of the snapshot (cold)", first, "", memory, ""))
    for page in dashboard["pages"]:
        warm, cold = f"{page['seconds']:.2f} s", f"first view {page['first_run_s']:.2f} s"
        rows.append((f"dashboard: {page['title']} (warm)", warm, cold, "", ""))
    error = (dashboard.get("error") or "").split("\n")[0]
    rows.append(("dashboard: slowest page", "", error, "", _verdict(r, "dashboard")))
    memory = f"{r['memory']['peak_rss_gib']:.2f} GiB"
    rows.append(("peak RSS of ingest and build", "", "", memory, _verdict(r, "memory")))
    head = (
        f"{b['interviews']:,} interviews = {ing['records']:,} records in {b['landing_files']} "
        f"files (+{b['holdout_records']:,} for the incremental build); median of {b['repeats']} "
        f"runs, peak RSS the maximum; {m['cores']} cores, {m['memory_gib']} GiB, {m['cpu']}; "
        f"{b['finished_at'][:10]}"
    )
    lines = [head, "", "| step | median | figure | peak RSS | target |", "|---|---|---|---|---|"]
    lines += [f"| {' | '.join(row)} |" for row in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_phase":
        raise SystemExit(_child_main(sys.argv[2:]))
    raise SystemExit("usage: sealdeal bench (this module's _phase entry is for its children)")
