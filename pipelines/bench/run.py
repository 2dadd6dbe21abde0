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
- publish: `pipelines.release.publishing.publish_snapshot` of the fully built warehouse (the
  research snapshot the dashboards read).
- dashboard: every page of `dashboards.PAGES` run with Streamlit's `AppTest` on the published
  snapshot; the first run warms the cache and is not counted.
- memory: the peak RSS of every measured process; each step of the product (ingest, full build,
  incremental build, publish) is held to 2 GiB on its own.

Every measured run is a fresh child process (`python -m pipelines.bench.phases ...`, see that
module): the child times only the work (imports excluded) and writes its figures as JSON, with
its peak RSS read from /proc/self/status (VmHWM: the peak of the child's own memory since it
started). Not getrusage: on Linux a child's ru_maxrss also counts the parent's memory at the fork
(exec records the forked address space's high-water mark), and RUSAGE_CHILDREN is the maximum
over all children so far. An ingest that prepares on worker processes (pipelines.ingest.parallel)
reports the peak of its whole process tree, sampled every 0.1 s (and, in the JSON, the sum of
every process's own peak: an upper bound). Peak RSS is reported as the maximum over the
repeats.

This module runs the phases and computes the figures and target verdicts;
`pipelines.bench.report` prints them.
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
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from pipelines.bench.phases import SEED, PhaseFailed
from pipelines.bench.report import GIB
from pipelines.bench.report import format_table as format_table  # `sealdeal bench` prints it
from pipelines.landing.files import landing_files

DEFAULT_INTERVIEWS = 1_000_000
DEFAULT_REPEATS = 3
QUICK_INTERVIEWS = 2_000
QUICK_REPEATS = 2
FIRMS = 3  # the generator's default
QUICK_FIRMS = 1
HOLDOUT_SHARE = 0.01  # "incremental build after 1% more events"
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
    *(
        (f"memory_{step}", f"{text} peak RSS <= 2 GiB", f"memory.{step}_peak_rss_gib", "<=", 2)
        for step, text in (
            ("ingest", "ingest"),
            ("build_full", "full build"),
            ("build_incremental", "incremental build"),
            ("publish", "publish"),
        )
    ),
)


# ---------------------------------------------------------------------------- child processes


def run_child(phase: str, args: dict, workdir: Path, env: dict | None = None) -> dict:
    """Run one phase in a fresh interpreter; its figures plus `peak_rss_bytes` and `wall_s`."""
    out = workdir / f"{phase}.result.json"
    log = workdir / f"{phase}.log"
    out.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "pipelines.bench.phases", phase, json.dumps(args), str(out)]
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


def _repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------------------- data preparation


def split_holdout(gen: Path, main: Path, holdout: Path, share: float = HOLDOUT_SHARE) -> dict:
    """Copy the landing files to `main`, except the last `share` of the records in arrival order
    (file name, then line), which go to `holdout` as a later delivery; both keep the firm zones."""
    files = landing_files([gen])
    counts = [_line_count(f) for f in files]
    total = sum(counts)
    held = max(1, round(total * share))
    main.mkdir(parents=True)
    holdout.mkdir(parents=True)
    remaining = held
    for f, n in reversed(list(zip(files, counts, strict=True))):
        take = min(n, remaining)
        remaining -= take
        kept, late = main / f.relative_to(gen), holdout / f.parent.relative_to(gen)
        kept.parent.mkdir(exist_ok=True)
        if take == 0:
            shutil.copyfile(f, kept)
            continue
        lines = f.read_bytes().splitlines(keepends=True)
        if take < n:
            kept.write_bytes(b"".join(lines[: n - take]))
        late.mkdir(exist_ok=True)
        (late / f"{f.stem}_late.jsonl").write_bytes(b"".join(lines[n - take :]))
    return {"records": total - held, "holdout_records": held, "files": len(files)}


def _line_count(path: Path) -> int:
    with path.open("rb") as fh:
        return sum(1 for line in fh if line.strip())


# ---------------------------------------------------------------------------- the run


def run_bench(
    interviews: int = DEFAULT_INTERVIEWS,
    repeats: int = DEFAULT_REPEATS,
    workdir: Path | None = None,
    *,
    quick: bool = False,
    pandas: bool = True,
    dashboard_timeout: float = 120.0,
    log: Callable[[str], None] = print,
) -> dict:
    """Generate data and measure every phase; return every figure as one JSON-able dict.

    pandas=False leaves the pandas baselines out (at 10M interviews they need more memory than
    the machine has): their figures and the targets comparing with them are "not measured"."""
    own = workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="sealdeal-bench-")) if own else workdir
    workdir.mkdir(parents=True, exist_ok=True)
    started = datetime.now(UTC)
    try:
        return _run(interviews, repeats, workdir, quick, pandas, dashboard_timeout, log, started)
    finally:
        if own:
            shutil.rmtree(workdir, ignore_errors=True)


@dataclass(frozen=True)
class _Runner:
    """What every step of a run shares: where children write, how often, where progress goes."""

    workdir: Path
    repeats: int
    log: Callable[[str], None]

    def step(self, text: str) -> None:
        self.log(f"[{time.strftime('%H:%M:%S')}] {text}")

    def child(self, phase: str, args: dict, env: dict | None = None) -> dict:
        return run_child(phase, args, self.workdir, env)

    def repeated(self, label: str, once: Callable[[int], dict]) -> list[dict]:
        """`once(i)` for each repeat i, each announced as "label i/repeats"."""
        out = []
        for i in range(self.repeats):
            self.step(f"{label} {i + 1}/{self.repeats}")
            out.append(once(i))
        return out


def _run(interviews, repeats, workdir, quick, pandas, dashboard_timeout, log, started) -> dict:
    run = _Runner(workdir, repeats, log)
    # One firm for the smoke run: fewer, larger files (each file is one GX validation run).
    firms = QUICK_FIRMS if quick else FIRMS
    gen, data, files = _generate(run, interviews, firms)
    ingests, base = _ingests(run, [str(run.workdir / "main")])  # the folder: its firm zones
    loads = _duckdb_loads(run, files)
    pandas_db = workdir / "pandas.duckdb"
    pandas_ingests = _pandas_ingests(run, files, pandas_db) if pandas else None
    fulls = _full_builds(run, base)
    holdout, incrementals = _incremental_builds(run, base, data["holdout_records"])
    pandas_builds = _pandas_builds(run, pandas_db) if pandas else None
    publishes = _publishes(run, base)
    dashboard = _dashboards(run, base, dashboard_timeout)

    records = data["records"]
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
            "dashboard_timeout_s": dashboard_timeout,
            "started_at": started.isoformat(timespec="seconds"),
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        },
        "machine": machine(),
        "versions": versions(),
        "ingest": _ingest_figures(records, ingests, loads, pandas_ingests),
        "build": _build_figures(fulls, incrementals, pandas_builds, holdout),
        "publish": _summary(publishes),
        "dashboard": dashboard,
    }
    result["memory"] = _memory_figures(result)
    result["targets"] = evaluate_targets(result)
    return result


# ---------------------------------------------------------------------------- the steps


def _generate(run: _Runner, interviews: int, firms: int) -> tuple[dict, dict, list[str]]:
    """Generate the landing files, hold back the last 1%; (timing, split counts, main files)."""
    run.step(f"generating {interviews:,} interviews in {run.workdir}")
    generated = {"out": str(run.workdir / "gen"), "interviews": interviews, "firms": firms}
    gen = run.child("generate", generated)
    data = split_holdout(run.workdir / "gen", run.workdir / "main", run.workdir / "holdout")
    files = [str(p) for p in landing_files([run.workdir / "main"])]
    run.step(
        f"{data['records']:,} records in {len(files)} files, {data['holdout_records']:,} held back"
    )
    return gen, data, files


def _ingests(run: _Runner, paths: list[str]) -> tuple[list[dict], Path]:
    """Each ingest into a new home; the last home (the one built on) is kept, the others freed."""

    def once(i: int) -> dict:
        result = run.child("ingest", {"home": str(run.workdir / f"ingest-{i}"), "paths": paths})
        if i > 0:
            shutil.rmtree(run.workdir / f"ingest-{i - 1}")
        return result

    return run.repeated("ingest", once), run.workdir / f"ingest-{run.repeats - 1}"


def _duckdb_loads(run: _Runner, files: list[str]) -> list[dict]:
    database = run.workdir / "duckdb-only.duckdb"

    def once(_: int) -> dict:
        database.unlink(missing_ok=True)
        return run.child("duckdb_load", {"database": str(database), "files": files})

    return run.repeated("duckdb read_json", once)


def _pandas_ingests(run: _Runner, files: list[str], database: Path) -> list[dict]:
    def once(_: int) -> dict:
        database.unlink(missing_ok=True)
        return run.child("pandas_ingest", {"database": str(database), "files": files})

    return run.repeated("pandas ingest", once)


def _full_builds(run: _Runner, base: Path) -> list[dict]:
    return run.repeated(
        "full build", lambda _: run.child("build", {"home": str(base), "full": True})
    )


def _incremental_builds(run: _Runner, base: Path, held: int) -> tuple[dict, list[dict]]:
    """Ingest the held-back records (unmeasured) into a copy of the built warehouse, then time
    the incremental build, each repeat on a fresh copy of that; (holdout ingest, builds)."""
    template = run.workdir / "incremental-template"
    template.mkdir()
    shutil.copyfile(base / "warehouse.duckdb", template / "warehouse.duckdb")
    run.step(f"ingesting the {held:,} held-back records (not measured)")
    late = {"home": str(template), "paths": [str(run.workdir / "holdout")]}
    holdout = run.child("ingest", late)
    home = run.workdir / "incremental"

    def once(_: int) -> dict:
        shutil.rmtree(home, ignore_errors=True)
        home.mkdir()
        shutil.copyfile(template / "warehouse.duckdb", home / "warehouse.duckdb")
        return run.child("build", {"home": str(home), "full": False})

    return holdout, run.repeated("incremental build", once)


def _pandas_builds(run: _Runner, database: Path) -> list[dict]:
    return run.repeated(
        "pandas analysis", lambda _: run.child("pandas_build", {"database": str(database)})
    )


def _publishes(run: _Runner, base: Path) -> list[dict]:
    """Publish the built warehouse's snapshot (each run replaces the one before)."""
    return run.repeated("publish", lambda _: run.child("publish", {"home": str(base)}))


def _dashboards(run: _Runner, base: Path, timeout: float) -> dict:
    run.step("dashboard pages (on the published snapshot)")
    try:
        result = run.child(
            "dashboard", {"repeats": run.repeats, "timeout": timeout}, {"SEALDEAL_HOME": str(base)}
        )
    except PhaseFailed as exc:  # the other figures are still worth having
        return {"error": str(exc), "pages": [], "slowest_page_seconds": None, "peak_rss_bytes": 0}
    return _dashboard_figures(result)


# ---------------------------------------------------------------------------- the figures


def _summary(results: list[dict] | None, records: int | None = None) -> dict | None:
    if results is None:  # not run
        return None
    seconds = statistics.median(r["seconds"] for r in results)
    out = {
        "seconds": seconds,
        "runs_s": [r["seconds"] for r in results],
        "peak_rss_bytes": max(r["peak_rss_bytes"] for r in results),
    }
    if records is not None:
        out["records_per_s"] = records / seconds
    return out


def _ingest_figures(records, ingests, loads, pandas_ingests) -> dict:
    ours, duck, pandas = (_summary(runs, records) for runs in (ingests, loads, pandas_ingests))
    assert ours is not None and duck is not None
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
        "speedup_vs_pandas": pandas["seconds"] / ours["seconds"] if pandas else None,
    }


def _build_figures(fulls, incrementals, pandas_builds, holdout) -> dict:
    full, inc, pandas = (_summary(r) for r in (fulls, incrementals, pandas_builds))
    assert full is not None and inc is not None
    full["events"] = fulls[-1]["events"]
    inc["events"] = incrementals[-1]["events"]
    inc["interviews_recomputed"] = incrementals[-1]["interviews_recomputed"]
    ours = fulls[-1]["crude_diff_all"]
    theirs = pandas_builds[-1]["crude_diff_all"] if pandas_builds else {}
    gaps = [
        abs(ours[t] - theirs[t]) for t in ours if ours[t] is not None and theirs.get(t) is not None
    ]
    return {
        "full": full,
        "incremental": inc,
        "pandas": pandas,
        "holdout_ingest_seconds": holdout["seconds"],
        "incremental_share": inc["seconds"] / full["seconds"],
        "speedup_vs_pandas": pandas["seconds"] / full["seconds"] if pandas else None,
        # Same data, same definitions: the crude per-round effects should agree (a sanity check
        # that the baseline does the same analysis); they differ only where ties are broken.
        "pandas_max_abs_crude_gap": max(gaps) if gaps else None,
    }


def _dashboard_figures(result: dict) -> dict:
    # `{**p, ...}` copies "runs" before it is popped: each page keeps both "runs" and "runs_s",
    # as in every result file written so far.
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


def _memory_figures(result: dict) -> dict:
    """Peak RSS of each step of the product (the baselines' are reported beside them)."""
    build = result["build"]
    memory = {
        "ingest_peak_rss_gib": result["ingest"]["sealdeal"]["peak_rss_bytes"] / GIB,
        "build_full_peak_rss_gib": build["full"]["peak_rss_bytes"] / GIB,
        "build_incremental_peak_rss_gib": build["incremental"]["peak_rss_bytes"] / GIB,
        "publish_peak_rss_gib": result["publish"]["peak_rss_bytes"] / GIB,
    }
    memory["peak_rss_gib"] = max(memory.values())
    return memory


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


# ---------------------------------------------------------------------------- the targets


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
