"""GX as the gate: every batch's compiled verdicts are audited by the real GX checkpoint, and a
disagreement refuses the batch (nothing of it is committed)."""

from __future__ import annotations

import json

import polars as pl
import pytest

from pipelines.ingest import gx_runtime
from pipelines.ingest.load import ingest_paths
from pipelines.ingest.validate import (
    AUDIT_FAILING_PER_RULE,
    AUDIT_SAMPLE,
    AuditMismatch,
    RecordValidator,
)
from tests.pipelines.ingest.test_validate import VALID, debrief, frame
from tests.samples import DEBRIEF, OUTCOME, write_jsonl, zone
from tests.samples import debrief as sample_debrief
from tests.samples import warehouse_rows as rows


@pytest.fixture
def tampered(monkeypatch):
    """Install a wrong compiled rule (stage never fails) in the runtime of a quality dir."""

    def tamper(quality_dir) -> None:
        runtime = gx_runtime.runtime(quality_dir).result()
        monkeypatch.setitem(runtime.fails, "debrief.stage.enum", pl.lit(False))

    return tamper


def test_a_disagreement_with_gx_refuses_the_batch(tmp_path, tampered):
    tampered(tmp_path / "q")
    validator = RecordValidator(tmp_path / "q")
    assert validator.validate(frame(*VALID), "clean").height == len(VALID)  # GX agrees
    with pytest.raises(AuditMismatch, match=r"debrief\.stage\.enum \(compiled 0, GX 1"):
        validator.validate(frame(*VALID, debrief(stage="lunch")), "lunch")


def test_an_ingest_whose_audit_fails_commits_nothing(settings, master_key, tampered):
    tampered(settings.quality_dir)
    path = write_jsonl(
        zone(settings) / "batch-1.jsonl",
        [DEBRIEF, OUTCOME, sample_debrief(2, stage="lunch"), sample_debrief(3)],
    )
    with pytest.raises(AuditMismatch):
        ingest_paths([path], settings, master_key)
    assert rows(settings, "SELECT count(*) FROM eventstore.events") == [(0,)]
    assert rows(settings, "SELECT count(*) FROM ingest.files") == [(0,)]
    assert rows(settings, "SELECT count(*) FROM ingest.quarantine") == [(0,)]
    assert list(settings.staging_dir.iterdir()) == []


def test_the_audit_covers_every_rules_first_failures_and_a_sample(tmp_path):
    """The summary says what GX saw: rows in the batch vs rows audited; the counts per rule
    are the compiled rules' over the whole batch."""
    n = 3 * AUDIT_SAMPLE
    row = pl.int_range(pl.len())
    batch = frame(*[debrief()] * n).with_columns(
        (row + 1).cast(pl.Int64).alias("source_line"),
        (pl.lit("r-") + row.cast(pl.String)).alias("record_id"),
        pl.when(row % 3 == 0)
        .then(pl.lit("phone_screen"))
        .otherwise(pl.lit("lunch"))
        .alias("stage"),
    )
    out = RecordValidator(tmp_path / "q").validate(batch, "big")
    (path,) = (tmp_path / "q" / "validation_summaries").glob("*.json")
    summary = json.loads(path.read_text())
    lunch = n - n // 3
    assert summary["rows"] == n and summary["rows_failed"] == lunch
    assert AUDIT_SAMPLE <= summary["rows_audited"] <= AUDIT_SAMPLE + AUDIT_FAILING_PER_RULE
    counts = {e["rule"]: e["unexpected_count"] for e in summary["expectations"]}
    assert counts["debrief.stage.enum"] == lunch
    assert sum(counts.values()) == lunch
    assert out["failed_rules"].list.len().sum() == lunch
