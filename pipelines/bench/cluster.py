"""Ingest throughput of a running cluster (scripts/cluster.sh) with two Celery workers, then one.

    source $SEALDEAL_HOME/cluster/env && python -m pipelines.bench.cluster [--runs 3]

Each run delivers a new generated batch (both firms, in their zones), triggers ingest_debriefs
through the REST API and reads the task instances' times: files per second from the first
prepare_file start to the end of commit_files, and of the prepare phase alone. build_insights is
paused meanwhile (it would compete for the cores) and unpaused at the end; worker 2 is stopped
for the one-worker runs and started again. Medians over the runs; prints a table and JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import time
import urllib.parse
import urllib.request
from datetime import datetime
from pathlib import Path

from pipelines.synthetic.generate import generate

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "cluster.sh"


class Api:
    def __init__(self, env: dict[str, str]):
        self.url = env["SEALDEAL_AIRFLOW_API_URL"]
        body = {
            "username": env["SEALDEAL_AIRFLOW_USER"],
            "password": env["SEALDEAL_AIRFLOW_PASSWORD"],
        }
        self.token = self._call("/auth/token", "POST", body, auth=False)["access_token"]

    def _call(self, path: str, method: str = "GET", body: dict | None = None, auth: bool = True):
        headers = {"Content-Type": "application/json"}
        if auth:
            headers["Authorization"] = f"Bearer {self.token}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data, headers, method=method)
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read() or b"null")

    def __call__(self, path: str, method: str = "GET", body: dict | None = None):
        return self._call(path, method, body)


def one_run(api: Api, home: Path, seed: int, interviews: int) -> dict:
    generated = home / "bench-generated" / f"seed{seed}"
    summary = generate(generated, interviews=interviews, seed=seed, firms=2)
    for name in summary["files"]:  # a later delivery: after everything already there
        target = home / "landing" / Path(name).parent / f"zz-bench{seed}_{Path(name).name}"
        target.parent.mkdir(parents=True, exist_ok=True)
        (generated / name).rename(target)
    run = api("/api/v2/dags/ingest_debriefs/dagRuns", "POST", {"logical_date": None})
    path = f"/api/v2/dags/ingest_debriefs/dagRuns/{urllib.parse.quote(run['dag_run_id'], safe='')}"
    while (state := api(path)["state"]) not in ("success", "failed"):
        time.sleep(1)
    tis = api(f"{path}/taskInstances?limit=1000")["task_instances"]
    prepares = [t for t in tis if t["task_id"] == "prepare_file"]
    commit = next(t for t in tis if t["task_id"] == "commit_files")
    start = min(_t(t["start_date"]) for t in prepares)
    prepared = max(_t(t["end_date"]) for t in prepares)
    files = len(prepares)
    return {
        "state": state,
        "files": files,
        "records": sum(summary["records"].values()),
        "seconds": (_t(commit["end_date"]) - start),
        "files_per_s": files / (_t(commit["end_date"]) - start),
        "prepare_files_per_s": files / (prepared - start),
        "hosts": sorted({t["hostname"] for t in prepares}),
    }


def _t(value: str) -> float:
    return datetime.fromisoformat(value).timestamp()


def _wait_idle(api: Api) -> None:
    while api("/api/v2/dags/~/dagRuns?state=queued&state=running")["total_entries"]:
        time.sleep(2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--interviews", type=int, default=4000, help="per run (2 firms)")
    args = parser.parse_args()
    env = dict(os.environ)
    home = Path(env["SEALDEAL_HOME"])
    api = Api(env)
    api("/api/v2/dags/build_insights", "PATCH", {"is_paused": True})
    results: dict[str, list[dict]] = {}
    try:
        for workers in (2, 1):
            if workers == 1:
                subprocess.run([str(SCRIPT), "stop", "airflow-worker-2"], check=True)
            _wait_idle(api)
            results[str(workers)] = [
                one_run(api, home, 1000 * workers + i, args.interviews) for i in range(args.runs)
            ]
    finally:
        subprocess.run([str(SCRIPT), "start", "airflow-worker-2"], check=True)
        api("/api/v2/dags/build_insights", "PATCH", {"is_paused": False})
    out = {
        "machine": f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}",
        "runs": results,
        "median": {
            w: {
                k: statistics.median(r[k] for r in runs)
                for k in ("files", "records", "seconds", "files_per_s", "prepare_files_per_s")
            }
            for w, runs in results.items()
        },
    }
    for w, m in out["median"].items():
        print(
            f"{w} worker(s): {m['files']:.0f} files ({m['records']:.0f} records) in "
            f"{m['seconds']:.1f} s: {m['files_per_s']:.2f} files/s; prepare phase "
            f"{m['prepare_files_per_s']:.2f} files/s (median of {args.runs})"
        )
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
