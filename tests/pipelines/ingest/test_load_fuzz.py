"""Randomly damaged landing files: ingestion never crashes, never drops a good record."""

from __future__ import annotations

import json
import os
import random

import pytest

from pipelines.ingest.load import ingest_paths
from pipelines.synthetic.generate import generate
from tests.samples import csv_cell

NASTY = [
    None, "", " ", "abc", -1, 0, 10**12, 3.7, True, [], {}, ["concerns", 5], {"a": [1]},
    "2026-13-45", "2026-02-30T25:61:00Z", "jane.doe@example.com", "+1 (415) 555-0132",
    "√∂漢字🙂", "x" * 500, "null", "NaN", "1e3", "true;false", "concerns;;", "\\u0000",
    "Robert'); DROP TABLE eventstore.events;--",
]  # fmt: skip


def damage(record: dict, rng: random.Random) -> dict:
    damaged = dict(record)
    for _ in range(rng.randint(1, 3)):
        field = rng.choice(sorted(damaged))
        if rng.random() < 0.2:
            damaged.pop(field)
        else:
            damaged[field] = rng.choice(NASTY)
    return damaged


# A few fixed seeds run in CI; FUZZ_SEEDS=30 runs a longer campaign locally.
CASES = [
    (fmt, seed)
    for seed in range(int(os.environ.get("FUZZ_SEEDS", "2")))
    for fmt in ("jsonl", "csv")
]


@pytest.mark.parametrize(("fmt", "seed"), CASES)
def test_randomly_damaged_files_lose_nothing_good(settings, master_key, tmp_path, fmt, seed):
    rng = random.Random(seed)
    generated = generate(tmp_path / "gen", interviews=150, seed=seed, firms=1)
    records = [
        json.loads(line)
        for f in generated["files"]
        for line in (tmp_path / "gen" / f).read_text().splitlines()
    ]
    out, untouched = [], 0
    for r in records:
        if rng.random() < 0.3:
            out.append(damage(r, rng))
        else:
            out.append(r)
            untouched += 1
    (firm,) = generated["firm_ids"]
    path = settings.landing_dir / firm / f"damaged.{fmt}"  # the firm's zone
    path.parent.mkdir()
    if fmt == "jsonl":
        path.write_text("\n".join(json.dumps(r) for r in out) + "\n")
    else:
        import csv

        from pipelines.core.spec import CSV_COLUMNS

        with path.open("w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(CSV_COLUMNS)
            for r in out:
                writer.writerow([csv_cell(r.get(c)) for c in CSV_COLUMNS])
    summary = ingest_paths([path], settings, master_key)
    (report,) = summary.reports
    assert report.status == "ingested", report.reason
    assert report.records == len(out)
    assert (
        report.events_appended + report.duplicates + report.conflicts + report.quarantined
        == len(out)
    )
    # Every record left intact went in (damaged ones may be valid too, or collide as conflicts).
    assert report.events_appended + report.conflicts >= untouched
    assert report.quarantined > 0
