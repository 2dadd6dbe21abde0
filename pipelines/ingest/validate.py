"""Record-level validation of typed landing records: Great Expectations' suite, compiled.

The debrief export contract (docs/spec/debrief-export.md, constants from pipelines.core.spec) is
written down once, as a GX expectation suite built in code (pipelines.ingest.rules, which also
explains how each rule is expressed in GX and the choices made where the spec is silent). Every
expectation carries a ``meta.rule`` key and a coach-facing ``description`` (Data Docs show that
sentence).

Which rule each record breaks comes from the suite compiled to Polars expressions
(pipelines.ingest.verdicts), evaluated on every record: running GX with result_format COMPLETE
over every record cost ~0.8 s per run plus a pandas copy per row_condition, a third of preparing
a file. GX stays the gate: :class:`RecordValidator` runs the real checkpoint, COMPLETE, on an
audit sample of each batch (the first AUDIT_FAILING_PER_RULE failures of every rule and
AUDIT_SAMPLE seeded rows) and raises :class:`AuditMismatch`, refusing the whole batch, unless GX
fails exactly the audited rows the compiled rules do. Consecutive batches can share one
checkpoint run (`check`, then `audit` of several: the run's fixed cost is most of it), each
with its own sample; the ingest releases none of their files before that run has passed. Those
results are GX's stored results and Data Docs; the summary JSON per batch says how many rows
were audited and counts each rule's failures over the whole batch.
tests/pipelines/ingest/test_verdicts.py checks compiled and GX verdicts row for row on batches
with faults of every rule.

The view both see is what the rules expect: list fields as ``;``-joined strings (empty list ->
null, a ``;`` inside an element escaped), and the latest calendar date submitted_at had in any
time zone as a column of its own; GX gets it as pandas.

``parse_errors`` (values the parser could not convert, now null) appear in ``failed_rules``
verbatim, with the record's client_ref/notes text scrubbed, so callers need not merge
``parse_errors`` in again.

Privacy: client_ref and notes values are never echoed. GX runs with ``exclude_unexpected_values``,
so neither the kept results nor the Data Docs hold record values, only source lines, and notes is
not passed to GX at all. The "(got ...)" parts of messages are rendered here from the typed frame
and left out whenever the shown value contains the record's client_ref or notes.
"""

from __future__ import annotations

import json
import os
import time
import zlib
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path
from typing import TYPE_CHECKING, Any

# Before GX is imported: no usage statistics.
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

import polars as pl

from pipelines.core import spec
from pipelines.ingest.gx_runtime import (
    ID_COLUMN,
    SUITE_NAME,
    GxRuntime,
    runtime,
    safe_name,
)

# The rules moved to their own module; ENUM_FIELDS and SAFE_TO_SHOW stay importable from here.
from pipelines.ingest.rules import ENUM_FIELDS as ENUM_FIELDS
from pipelines.ingest.rules import (
    LATEST_UTC_OFFSET,
    LIST_FIELDS,
    NOT_SHOWN,
    SUBMITTED_LATEST_DATE,
    Rule,
)
from pipelines.ingest.rules import SAFE_TO_SHOW as SAFE_TO_SHOW
from pipelines.ingest.rules import build_rules as build_rules

if TYPE_CHECKING:
    import pandas as pd

SUMMARY_DIR_NAME = "validation_summaries"

PRIVATE_FIELDS = ("client_ref", "notes")
# Per-record ids stay pyarrow strings in the pandas view; other strings become categoricals.
DISTINCT_PER_RECORD = ("record_id", "client_ref", "interview_ref")
# Rows GX re-checks per batch (the audit): the first failures of every rule and a sample.
AUDIT_FAILING_PER_RULE = 100
AUDIT_SAMPLE = 2_000

_DTYPES: dict[str, pl.DataType] = {
    "str": pl.String(),
    "int": pl.Int64(),
    "bool": pl.Boolean(),
    "timestamp": pl.Datetime("us", "UTC"),
    "date": pl.Date(),
    "list": pl.List(pl.String),
}
EXPECTED_COLUMNS: dict[str, pl.DataType] = {
    ID_COLUMN: pl.Int64(),
    "parse_errors": pl.List(pl.String),
    **{name: _DTYPES[kind] for name, kind in spec.FIELD_KINDS.items()},
}


class AuditMismatch(RuntimeError):
    """GX's verdicts on the audited rows differ from the compiled rules': the batch is refused."""


@dataclass
class PendingAudit:
    """A batch's compiled verdicts, waiting for GX to agree on its audit sample."""

    batch_name: str
    sample: pl.DataFrame  # the view's audited rows
    sample_fails: pl.DataFrame  # the compiled rules' verdicts on them
    span: int  # lines are 0..span-1 (offset by this to share a GX run)
    counts: dict[str, int]  # failures per rule over the whole batch
    rows: int
    rows_failed: int
    seconds: float


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


class RecordValidator:
    """Validates chunks of typed landing records against the debrief export v1 contract.

    The GX context, suite, checkpoint and compiled rules are created once per process and
    quality_dir, on a thread of their own: a new validator returns at once, its first
    validation waits for them; more validators for the same directory are cheap.
    """

    def __init__(self, quality_dir: Path | None = None):
        self.quality_dir = None if quality_dir is None else Path(quality_dir).resolve()
        self._setup = runtime(self.quality_dir)

    @property
    def _gx(self) -> GxRuntime:
        return self._setup.result()

    def validate(self, typed: pl.DataFrame, batch_name: str) -> pl.DataFrame:
        """Return DataFrame(source_line Int64, failed_rules List(String)), one row per input row.

        An empty list means the record passed. Each failed rule is a sentence naming the field and
        what is allowed, e.g. "stage must be one of phone_screen, ... (got 'lunch')"; client_ref
        and notes values are never included. Rows come back in input order.
        """
        failed, pending = self.check(typed, batch_name)
        self.audit([pending])
        return failed

    def check(self, typed: pl.DataFrame, batch_name: str) -> tuple[pl.DataFrame, PendingAudit]:
        """`validate`'s verdicts from the compiled rules, and the batch's audit sample, which
        must pass `audit` before any of the verdicts is used."""
        _check_input(typed)
        started = time.perf_counter()
        view = _view(typed)
        fails = view.select(ID_COLUMN, **self._gx.fails)
        audited = _audit_sample(fails, batch_name)
        failed = _messages(typed, fails, self._gx.rules)
        pending = PendingAudit(
            batch_name=batch_name,
            sample=view.filter(audited),
            sample_fails=fails.filter(audited),
            span=_span(fails),
            counts=fails.drop(ID_COLUMN).sum().row(0, named=True) if fails.height else {},
            rows=failed.height,
            rows_failed=int((failed["failed_rules"].list.len() > 0).sum()),
            seconds=time.perf_counter() - started,
        )
        return failed, pending

    def check_many(
        self, frames: list[pl.DataFrame], batch_name: str
    ) -> tuple[list[pl.DataFrame], PendingAudit]:
        """`check` for several chunks as one batch: a GX run costs ~0.8 s of overhead whatever
        its size, which made small files cost more to validate than to ingest. Lines are offset
        to stay unique within the batch and given back as they were."""
        if len(frames) == 1:
            failed, pending = self.check(frames[0], batch_name)
            return [failed], pending
        combined, offsets = _stacked(frames, [_span(f) for f in frames])
        failed, pending = self.check(combined, batch_name)  # rows in input order
        out, start = [], 0
        for frame, o in zip(frames, offsets, strict=True):
            part = failed.slice(start, frame.height)
            out.append(part.with_columns(pl.col(ID_COLUMN) - o))
            start += frame.height
        return out, pending

    def audit(self, pending: list[PendingAudit]) -> None:
        """One GX checkpoint run over the audit samples of these batches; AuditMismatch, naming
        the batch, unless GX fails exactly the sampled rows the compiled rules do in each.
        Batches can share a run (its fixed cost is most of it): each keeps its own sample,
        verdicts and summary."""
        if not pending:
            return
        started = time.perf_counter()
        sample, offsets = _stacked([p.sample for p in pending], [p.span for p in pending])
        name = pending[0].batch_name
        name = name if len(pending) == 1 else f"{name} +{len(pending) - 1} more batches"
        key, result = self._gx.run(_pandas(sample), name)
        try:
            failing = _failing_lines(result)
            per_batch = [
                {r: [v - o for v in lines if o <= v < o + p.span] for r, lines in failing.items()}
                for p, o in zip(pending, offsets, strict=True)
            ]
            for p, gx_failing in zip(pending, per_batch, strict=True):
                try:
                    _check_audit(gx_failing, p.sample_fails, p.batch_name)
                except AuditMismatch as exc:
                    if len(pending) == 1:
                        raise
                    others = (
                        f"Nor is any of the {len(pending) - 1} other batch(es) sharing its GX run."
                    )
                    raise AuditMismatch(f"{exc} {others}") from None
        finally:
            self._gx.keep(key, result)
        if self.quality_dir is not None:
            share = (time.perf_counter() - started) / len(pending)
            for p, gx_failing in zip(pending, per_batch, strict=True):
                self._write_summary(p, key, not any(gx_failing.values()), p.seconds + share)

    def build_docs(self) -> Path | None:
        """Build GX Data Docs into quality_dir and return index.html (None when ephemeral)."""
        if self.quality_dir is None:
            return None
        return self._gx.build_docs()

    def _write_summary(
        self, pending: PendingAudit, key: Any, audited_success: bool, seconds: float
    ) -> None:
        """Counts for the whole batch come from the compiled rules; GX's stored result (under
        gx_result_key, maybe shared with other batches) covers the rows_audited rows it ran on,
        and agreed with them."""
        assert self.quality_dir is not None
        batch_name, counts = pending.batch_name, pending.counts
        run_time = key.run_id.run_time
        summary = {
            "batch_name": batch_name,
            "run_time": run_time.isoformat(),
            "suite": SUITE_NAME,
            "gx_result_key": [str(part) for part in key.to_tuple()],
            "success": not any(counts.values()),
            "rows": pending.rows,
            "rows_failed": pending.rows_failed,
            "rows_audited": pending.sample.height,
            "audited_rows_success": audited_success,
            "seconds": round(seconds, 3),
            "expectations": [
                {
                    "rule": rule.key,
                    "expectation_type": rule.expectation.expectation_type,
                    "column": rule.expectation.configuration.kwargs.get("column"),
                    "success": counts.get(rule.key, 0) == 0,
                    "unexpected_count": counts.get(rule.key, 0),
                }
                for rule in self._gx.rules
            ],
        }
        stamp = run_time.strftime("%Y%m%dT%H%M%S%fZ")
        out = self.quality_dir / SUMMARY_DIR_NAME / f"{safe_name(batch_name)}__{stamp}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(out.name + ".tmp")
        tmp.write_text(json.dumps(summary, indent=2))
        tmp.replace(out)


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _span(frame: pl.DataFrame) -> int:
    """Lines of a batch are 0..span-1."""
    return int(frame[ID_COLUMN].max() or 0) + 1


def _stacked(frames: list[pl.DataFrame], spans: list[int]) -> tuple[pl.DataFrame, list[int]]:
    """The frames as one, each one's lines offset by the spans before it (so they stay unique),
    and those offsets."""
    offsets = list(accumulate(spans[:-1], initial=0))
    stacked = pl.concat(
        [f.with_columns(pl.col(ID_COLUMN) + o) for f, o in zip(frames, offsets, strict=True)]
    )
    return stacked, offsets


def _check_input(typed: pl.DataFrame) -> None:
    missing = [c for c in EXPECTED_COLUMNS if c not in typed.columns]
    if missing:
        raise ValueError(f"typed records lack columns: {', '.join(missing)}")
    wrong = [
        f"{c} is {typed.schema[c]}, expected {t}"
        for c, t in EXPECTED_COLUMNS.items()
        if typed.schema[c] != t
    ]
    if wrong:
        raise ValueError("typed records have unexpected dtypes: " + "; ".join(wrong))
    lines = typed[ID_COLUMN]
    if lines.null_count() or lines.n_unique() != typed.height:
        raise ValueError(f"{ID_COLUMN} must be present and unique within a batch")


def _view(typed: pl.DataFrame) -> pl.DataFrame:
    """What the rules see: no notes, list fields as ';'-joined strings, the derived date."""

    def joined(column: str) -> pl.Expr:
        items = pl.col(column).list.eval(
            pl.element().fill_null("").str.replace_all(";", r"\;", literal=True)
        )
        return pl.when(pl.col(column).list.len() > 0).then(items.list.join(";")).alias(column)

    return typed.select([c for c in EXPECTED_COLUMNS if c != "notes"]).with_columns(
        *(joined(c) for c in LIST_FIELDS),
        # The rules only need to know that a record has parse errors, not their text.
        pl.when(pl.col("parse_errors").list.len() > 0)
        .then(pl.lit("unreadable"))
        .alias("parse_errors"),
        (pl.col("submitted_at") + LATEST_UTC_OFFSET).dt.date().alias(SUBMITTED_LATEST_DATE),
    )


def _pandas(view: pl.DataFrame) -> pd.DataFrame:
    """The view as GX's pandas engine gets it, source_line as the index."""
    # GX copies the whole frame for each row_condition (DataFrame.query), several times per
    # conditional expectation, so the view is made cheap to copy: repetitive strings become
    # categoricals (pyarrow strings were ~2x slower to take(), object columns slower still),
    # booleans nullable "boolean" rather than object. Per-record ids stay pyarrow strings:
    # categorising a million distinct values costs more than it saves.
    view = view.with_columns(pl.col(pl.String).exclude(DISTINCT_PER_RECORD).cast(pl.Categorical))
    frame = view.to_pandas().set_index(ID_COLUMN)
    bools = [c for c, t in view.schema.items() if t == pl.Boolean]
    return frame.astype(dict.fromkeys(bools, "boolean"))


def _audit_sample(fails: pl.DataFrame, batch_name: str) -> pl.Series:
    """Rows GX re-checks: the first AUDIT_FAILING_PER_RULE failures of every rule, and a
    seeded sample of AUDIT_SAMPLE rows of any verdict."""
    first_failures = [
        pl.col(c) & (pl.col(c).cum_sum() <= AUDIT_FAILING_PER_RULE) for c in fails.columns[1:]
    ]
    sampled = pl.int_range(pl.len()).shuffle(zlib.crc32(batch_name.encode())) < AUDIT_SAMPLE
    return fails.select(pl.any_horizontal(sampled, *first_failures)).to_series()


def _check_audit(gx_failing: dict[str, list[int]], fails: pl.DataFrame, batch_name: str) -> None:
    """Raise AuditMismatch unless GX failed exactly the audited rows the compiled rules did."""
    lines = fails[ID_COLUMN]
    wrong = []
    for rule in fails.columns[1:]:
        compiled = set(lines.filter(fails[rule]).to_list())
        by_gx = set(gx_failing.get(rule, []))
        if compiled != by_gx:
            only = sorted(compiled ^ by_gx)[:5]
            wrong.append(f"{rule} (compiled {len(compiled)}, GX {len(by_gx)}; lines {only})")
    if wrong:
        raise AuditMismatch(
            f"{batch_name}: the compiled rules disagree with Great Expectations on "
            f"{len(wrong)} rule(s) of {fails.height} audited records: "
            + "; ".join(wrong)
            + ". Nothing of this batch is used; pipelines.ingest.verdicts needs fixing."
        )


def _failing_lines(result: Any) -> dict[str, list[int]]:
    """rule key -> source lines that failed it, from GX's unexpected_index_list."""
    failing: dict[str, list[int]] = {}
    for r in result.results:
        rule = r.expectation_config.meta["rule"]
        info = r.exception_info or {}
        if info.get("raised_exception"):
            raise RuntimeError(
                f"GX could not evaluate rule {rule}: {info.get('exception_message')}"
            )
        if r.success:
            continue
        outcome = r.result or {}
        lines: list[int] = []
        # With exclude_unexpected_values and a named index GX gives [{"source_line": [...]}];
        # accept the one-dict-per-row shape too.
        for item in outcome.get("unexpected_index_list") or []:
            value = item[ID_COLUMN] if isinstance(item, dict) else item
            lines.extend(int(v) for v in (value if isinstance(value, list) else [value]))
        if len(lines) != outcome.get("unexpected_count"):
            raise RuntimeError(
                f"GX returned {len(lines)} of {outcome.get('unexpected_count')} rows"
            )
        failing[rule] = lines
    return failing


def _messages(typed: pl.DataFrame, fails: pl.DataFrame, rules: list[Rule]) -> pl.DataFrame:
    parts: list[pl.DataFrame] = []
    for order, rule in enumerate(rules):
        mask = fails[rule.key]
        if not mask.any():
            continue
        rows = typed.filter(mask)
        if rule.key == "parse_errors":
            message = (
                rows.select(ID_COLUMN, *PRIVATE_FIELDS, pl.col("parse_errors").alias("message"))
                .explode("message")
                .filter(pl.col("message").is_not_null())
                .select(ID_COLUMN, pl.lit(order).alias("order"), _scrubbed(pl.col("message")))
            )
            parts.append(message)
            continue
        text = pl.lit(rule.message)
        if rule.shown is not None:
            text = text + _got(rule.shown)
        parts.append(rows.select(ID_COLUMN, pl.lit(order).alias("order"), text.alias("message")))

    out = typed.select(ID_COLUMN)
    if not parts:
        return out.with_columns(pl.lit([], dtype=pl.List(pl.String)).alias("failed_rules"))
    by_line = (
        pl.concat(parts, how="vertical_relaxed")
        .sort(ID_COLUMN, "order", maintain_order=True)
        .group_by(ID_COLUMN, maintain_order=True)
        .agg(pl.col("message").alias("failed_rules"))
    )
    return out.join(by_line, on=ID_COLUMN, how="left", maintain_order="left").with_columns(
        pl.col("failed_rules").fill_null(pl.lit([], dtype=pl.List(pl.String)))
    )


def _got(shown: pl.Expr) -> pl.Expr:
    """' (got X)'; nothing when X is empty; X withheld when it contains client_ref or notes."""
    private = pl.any_horizontal(
        *(
            (pl.col(field).str.len_chars().fill_null(0) > 0)
            & shown.str.contains(_no_match_if_empty(pl.col(field)), literal=True)
            for field in PRIVATE_FIELDS
        )
    )
    return (
        pl.when(shown.is_null() | (shown == ""))
        .then(pl.lit(""))
        .when(private)
        .then(pl.lit(f" (got {NOT_SHOWN})"))
        .otherwise(pl.lit(" (got ") + shown + pl.lit(")"))
    )


def _no_match_if_empty(value: pl.Expr) -> pl.Expr:
    # Polars evaluates both branches of when/then, and rejects null or empty literal patterns.
    return pl.when(value.str.len_chars() > 0).then(value).otherwise(pl.lit("\x00\x00"))


def _scrub_row(row: dict) -> str:
    message = row["message"]
    for field in PRIVATE_FIELDS:
        value = row[field]
        if value:
            message = message.replace(value, f"[{field}]")
    return message


def _scrubbed(message: pl.Expr) -> pl.Expr:
    """A parser's message minus any client_ref / notes text it quotes.

    Row by row in Python: Polars cannot replace a per-row pattern of varying length, and this
    only ever runs on the few messages of records that failed to parse.
    """
    return (
        pl.struct(message.alias("message"), *PRIVATE_FIELDS)
        .map_elements(_scrub_row, return_dtype=pl.String)
        .alias("message")
    )
