"""Readers never see an error or a half-written snapshot while ingest, build and publish run."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import duckdb

from pipelines.landing.files import landing_files
from pipelines.synthetic.generate import generate
from warehouse.publish import CURRENT, PARTS


def read_current(published_dir) -> str:
    """Open the current snapshot the way a researcher would and check it is whole."""
    ids = set()
    for part in PARTS:
        con = duckdb.connect(str(published_dir / CURRENT / f"{part}.duckdb"), read_only=True)
        try:
            snapshot_id, counts = con.execute(
                "SELECT snapshot_id, row_counts FROM meta.snapshot"
            ).fetchall()[0]
            for table, expected in counts.items():
                # As users type it: schema.table (no file stem shares a schema's name).
                name = table if "." in table else f"marts.{table}"
                (actual,) = con.execute(f"SELECT count(*) FROM {name}").fetchall()[0]
                assert actual == expected, f"{snapshot_id}: {name} has {actual} != {expected}"
            ids.add(snapshot_id)
        finally:
            con.close()
    return "/".join(sorted(ids))


def test_reader_loop_during_ingest_build_and_publish(settings):
    generate(settings.landing_dir, interviews=1200, seed=9)  # each firm's files in its zone
    files = landing_files([settings.landing_dir])
    cli = [sys.executable, "-m", "pipelines.app.cli"]
    env = dict(os.environ)
    # A first snapshot, so that there is something to read from the start.
    for args in (["ingest", "--no-progress", str(files[0])], ["build"], ["publish"]):
        subprocess.run(cli + args, env=env, check=True, capture_output=True)

    script = " && ".join(
        f"{' '.join(cli)} ingest --no-progress {f} && {' '.join(cli)} build && "
        f"{' '.join(cli)} publish"
        for f in files[1:4]
    )
    writer = subprocess.Popen(["bash", "-c", script], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)  # fmt: skip
    seen, errors, reads = set(), [], 0
    deadline = time.monotonic() + 600
    while writer.poll() is None and time.monotonic() < deadline:
        try:
            seen.add(read_current(settings.published_dir))
            reads += 1
        except Exception as exc:  # every failure is a finding, collected and asserted on
            errors.append(repr(exc))
        time.sleep(0.02)  # a busy reader, not a CPU hog starving the writer on 2 cores
    _, stderr = writer.communicate(timeout=60)
    assert writer.returncode == 0, stderr.decode()[-2000:]
    seen.add(read_current(settings.published_dir))
    assert errors == []
    assert reads > 10
    assert len(seen) >= 3  # readers really were reading while new snapshots were swapped in
