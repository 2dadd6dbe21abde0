"""GX as the gate: every batch's compiled verdicts are audited by the real GX checkpoint, and a
disagreement refuses the batch (nothing of it is committed)."""

from __future__ import annotations

import json

import polars as pl
import pytest

from pipelines.ingest import gx_runtime
from pipelines.ingest.load import ingest_paths, landing_deliveries, prepare_files
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


def _batch(*records: dict) -> pl.DataFrame:
    """Lines 1.. as every file's batch has them: the shared run must keep batches apart."""
    return frame(*records).with_columns(pl.int_range(1, len(records) + 1).alias("source_line"))


def test_batches_share_one_gx_run_each_with_its_own_sample_verdicts_and_summary(tmp_path):
    validator = RecordValidator(tmp_path / "q")
    batches = {
        "clean-1": _batch(*VALID),
        "lunch": _batch(debrief(stage="lunch"), *VALID),
        "clean-2": _batch(*VALID),
    }
    checked = {name: validator.check(batch, name) for name, batch in batches.items()}
    validator.audit([pending for _, pending in checked.values()])
    assert [f["failed_rules"].list.len().sum() for f, _ in checked.values()] == [0, 1, 0]
    summaries = {
        s["batch_name"]: s
        for s in (
            json.loads(p.read_text())
            for p in (tmp_path / "q" / "validation_summaries").glob("*.json")
        )
    }
    assert set(summaries) == set(batches)
    assert len({tuple(s["gx_result_key"]) for s in summaries.values()}) == 1  # one GX run
    # The lunch row is line 1 of its batch, as the clean batches' first rows are: GX's failure
    # is that batch's alone.
    assert {n: s["audited_rows_success"] for n, s in summaries.items()} == {
        "clean-1": True,
        "lunch": False,
        "clean-2": True,
    }
    assert all(s["rows_audited"] == batches[n].height for n, s in summaries.items())


def test_a_disagreement_in_a_shared_run_names_the_batch(tmp_path, tampered):
    tampered(tmp_path / "q")
    validator = RecordValidator(tmp_path / "q")
    pending = [
        validator.check(_batch(*VALID), "clean")[1],
        validator.check(_batch(debrief(stage="lunch")), "lunch")[1],
    ]
    with pytest.raises(
        AuditMismatch, match=r"^lunch: .*debrief\.stage\.enum \(compiled 0, GX 1"
    ) as e:
        validator.audit(pending)
    assert str(e.value).endswith("Nor is any of the 1 other batch(es) sharing its GX run.")


def test_files_are_released_only_once_the_run_auditing_them_has_passed(
    settings, master_key, monkeypatch
):
    """Validation groups of 2 records, audits of 6: three files of 2 records share a GX run,
    and none of them leaves before it; the staged files are the same as with a run per group."""
    paths = [
        write_jsonl(
            zone(settings) / f"f{i}.jsonl",
            [sample_debrief(2 * i), sample_debrief(2 * i + 1, stage="lunch")],
        )
        for i in range(6)
    ]
    seen: list[str] = []
    audit = RecordValidator.audit

    def spy(self, pending):
        seen.append(f"audit of {len(pending)}")
        return audit(self, pending)

    monkeypatch.setattr(RecordValidator, "audit", spy)

    def prepared(audit_rows: int) -> list[tuple]:
        seen.clear()
        out = []
        for file in prepare_files(
            landing_deliveries(paths, settings),
            con=None,
            master_key=master_key,
            validator=RecordValidator(settings.quality_dir),
            settings=settings,
            gx_rows=2,
            audit_rows=audit_rows,
        ):
            seen.append(file.path.name)
            out.append(
                (
                    file.report.records,
                    file.report.quarantined,
                    *(
                        pl.read_parquet(f).drop("recorded_at", strict=False).rows()
                        for f in sorted(file.stage.glob("*.parquet"))
                    ),
                )
            )
            file.discard()
        return out

    pooled = prepared(audit_rows=6)
    first, second = ["f0.jsonl", "f1.jsonl", "f2.jsonl"], ["f3.jsonl", "f4.jsonl", "f5.jsonl"]
    assert seen == ["audit of 3", *first, "audit of 3", *second]
    alone = prepared(audit_rows=2)
    assert seen[:3] == ["audit of 1", "f0.jsonl", "audit of 1"]
    assert pooled == alone and all(records == 2 and bad == 1 for records, bad, *_ in pooled)
