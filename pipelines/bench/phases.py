"""The measured phases of `sealdeal bench`, each run in a fresh child process.

`python -m pipelines.bench.phases PHASE ARGS_JSON OUT` runs one phase (started by
`pipelines.bench.run.run_child`): the phase times only its work (its imports are inside it and
untimed) and writes its figures as JSON to OUT, with its peak RSS read from /proc/self/status
(VmHWM: the peak of the child's own memory since it started). Each phase imports what it needs
inside itself, so a child's peak RSS holds only its own phase's libraries.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from pipelines.core.memory import own_peak_rss

SEED = 42
BENCH_KEY = b"bench-only-key"


class PhaseFailed(RuntimeError):
    pass


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
    from pipelines.ingest.parallel import ingest_in_processes

    settings = Settings(home=Path(args["home"]))
    settings.ensure_dirs()
    peaks: dict[int, int] = {}
    for folder in map(Path, args["paths"]):
        _deliver(folder, settings.landing_dir)

    def work() -> dict:
        # As the DAG does: the landing folder, so an erasure also rewrites the raw files.
        summary = ingest_in_processes([settings.landing_dir], settings, BENCH_KEY, peaks=peaks)
        return summary.totals()

    with TreeMemory() as tree:
        result = _timed(work)
    # The workers' memory counts: the step's figure is the sampled peak of the whole tree; the
    # sum of every process's own peak is kept beside it as an upper bound.
    result["worker_peak_rss_bytes"] = sorted(peaks.values())
    result["tree_peak_rss_bytes"] = tree.peak
    return result


def _deliver(folder: Path, landing: Path) -> None:
    """Hard-link a generated folder's firm zones into the landing folder (untimed): a
    redaction replaces a landing file, never the generated one."""
    for source in folder.rglob("*"):
        if source.is_file():
            target = landing / source.relative_to(folder)
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(source, target)
            except OSError:  # another file system
                shutil.copyfile(source, target)


class TreeMemory:
    """The peak of this process's and its children's resident memory together, sampled every
    SAMPLE_S seconds while the block runs (each process's own exact peak is its VmHWM)."""

    SAMPLE_S = 0.1

    def __enter__(self) -> TreeMemory:
        import psutil

        self.peak = 0
        self._me = psutil.Process()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        import psutil

        while not self._stop.wait(self.SAMPLE_S):
            total = 0
            for process in [self._me, *self._me.children(recursive=True)]:
                try:
                    total += process.memory_info().rss
                except psutil.Error:  # it ended between listing and reading
                    continue
            self.peak = max(self.peak, total)


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
    result = _timed(lambda: _build_counts(build(settings, full=args["full"])))
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:  # outside the timing: the estimates the pandas analysis is checked against
        rows = con.execute(
            "SELECT tactic, estimate FROM marts.tactic_estimates WHERE segment = 'all' "
            "AND estimand = 'advance' AND method = 'crude'"
        ).fetchall()
    finally:
        con.close()
    return {**result, "crude_diff_all": dict(rows)}


def _build_counts(report) -> dict:
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
    time.sleep(args.get("hold_s", 0))
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


def main(argv: list[str]) -> int:
    phase, args, out = argv
    result = PHASES[phase](json.loads(args))
    own = own_peak_rss()
    if own is not None and result.get("worker_peak_rss_bytes"):
        result["sum_of_peaks_rss_bytes"] = own + sum(result["worker_peak_rss_bytes"])
    result["peak_rss_bytes"] = max(own or 0, result.get("tree_peak_rss_bytes", 0)) or None
    Path(out).write_text(json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 4:
        raise SystemExit("usage: sealdeal bench (this module is the entry of its child processes)")
    raise SystemExit(main(sys.argv[1:]))
