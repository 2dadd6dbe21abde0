"""RecordValidator: every rule of debrief-export-v1 on small inline typed frames, real GX."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

import polars as pl
import pytest

from pipelines.core import spec
from pipelines.ingest import gx_runtime
from pipelines.ingest.validate import (
    EXPECTED_COLUMNS,
    SUITE_NAME,
    RecordValidator,
    build_rules,
)

UTC = dt.UTC
CLIENT = "jane.doe@example.com"
NOTES = "Asked Tom (tom@acme.io) if he had concerns; call +1 (415) 555-0132."


def debrief(**changes) -> dict:
    """The spec's example debrief, typed as the parser delivers it."""
    return {
        **spec.EXAMPLE_DEBRIEF,
        "schema_version": 1,
        "client_ref": CLIENT,
        "submitted_at": dt.datetime(2026, 3, 2, 18, 4, tzinfo=UTC),
        "interview_date": dt.date(2026, 3, 2),
        "notes": NOTES,
        **changes,
    }


NOT_ASKED = {
    "asked_fit_question": False,
    "fit_question_kinds": [],
    "asked_at_pct": None,
    "rapport_before_ask": None,
}


def outcome(**changes) -> dict:
    return {
        "record_type": "outcome",
        "record_id": "o-1",
        "firm_id": "north-star",
        "client_ref": CLIENT,
        "interview_ref": "int-77",
        "decided_at": dt.datetime(2026, 3, 20, 9, tzinfo=UTC),
        "outcome": "offer",
        "referral": False,
        **changes,
    }


def erasure(**changes) -> dict:
    return {
        "record_type": "erasure",
        "record_id": "e-1",
        "firm_id": "north-star",
        "client_ref": CLIENT,
        "requested_at": dt.datetime(2026, 9, 1, tzinfo=UTC),
        **changes,
    }


def frame(*records: dict, lines: list[int] | None = None) -> pl.DataFrame:
    """Typed records as the parser hands them over (absent fields null, no parse errors)."""
    lines = lines or list(range(1, len(records) + 1))
    rows = [
        {**dict.fromkeys(EXPECTED_COLUMNS), "source_line": n, "parse_errors": [], **record}
        for n, record in zip(lines, records, strict=True)
    ]
    return pl.DataFrame(rows, schema=EXPECTED_COLUMNS)


@pytest.fixture(scope="module")
def validator() -> RecordValidator:
    return RecordValidator()  # ephemeral: nothing written


# (rule key, record breaking only that rule, fragments the single message must contain)
STAGES = ", ".join(spec.STAGES)
CASES: list[tuple[str, dict, tuple[str, ...]]] = [
    (
        "parse_errors",
        debrief(**NOT_ASKED, parse_errors=["asked_at_pct must be a whole number (got 'abc')"]),
        ("asked_at_pct must be a whole number (got 'abc')",),
    ),
    ("record_type.required", debrief(record_type=None), ("record_type is missing", "debrief")),
    (
        "record_type.enum",
        debrief(record_type="interview"),
        ("record_type must be one of debrief, outcome, erasure", "(got 'interview')"),
    ),
    ("schema_version.supported", debrief(schema_version=2), ("schema_version must be 1", "got 2")),
    ("record_id.required", outcome(record_id=None), ("record_id is missing",)),
    ("record_id.length", erasure(record_id="x" * 129), ("record_id must be 1-128", "129")),
    ("firm_id.required", outcome(firm_id=None), ("firm_id is missing",)),
    ("firm_id.pattern", debrief(firm_id="North Star"), ("firm_id must be", "(got 'North Star')")),
    ("client_ref.required", erasure(client_ref=None), ("client_ref is missing",)),
    ("client_ref.not_blank", outcome(client_ref="   "), ("client_ref is blank",)),
    *[
        (
            f"debrief.{field}.required",
            debrief(**{field: None}),
            (f"{field} is required for a debrief record",),
        )
        for field in spec.REQUIRED_BY_TYPE["debrief"]
    ],
    *[
        (
            f"debrief.{field}.not_blank",
            debrief(**{field: " "}),
            (f"{field} must not be blank",),
        )
        for field in ("interview_ref", "industry", "role_family")
    ],
    (
        "debrief.stage.enum",
        debrief(stage="lunch"),
        (f"stage must be one of {STAGES} (got 'lunch')",),
    ),
    (
        "debrief.interviewer_role.enum",
        debrief(interviewer_role="ceo"),
        ("interviewer_role must be one of", "executive", "(got 'ceo')"),
    ),
    (
        "debrief.seniority.enum",
        debrief(seniority="junior"),
        ("seniority must be one of entry, mid, senior, lead, executive", "(got 'junior')"),
    ),
    *[
        (
            f"debrief.{field}.range",
            debrief(**{field: high + 1}),
            (f"{field} must be a whole number from {low} to {high}", f"(got {high + 1})"),
        )
        for field, (low, high) in spec.INT_RANGES.items()
    ],
    (
        "debrief.fit_question_kinds.members",
        debrief(fit_question_kinds=["concerns", "vibes"]),
        ("fit_question_kinds may only list concerns, ideal_candidate, comparison", "'vibes'"),
    ),
    (
        "debrief.concerns_raised.members",
        debrief(concerns_raised=["salary"]),
        ("concerns_raised may only list experience_gap", "(got 'salary')"),
    ),
    (
        "debrief.asked_at_pct.given_when_asked",
        debrief(asked_at_pct=None),
        ("asked_at_pct (0-100) is required when asked_fit_question is true",),
    ),
    (
        "debrief.asked_at_pct.empty_when_not_asked",
        debrief(**{**NOT_ASKED, "asked_at_pct": 40}),
        ("asked_at_pct must be empty when asked_fit_question is false", "(got 40)"),
    ),
    (
        "debrief.rapport_before_ask.given_when_asked",
        debrief(rapport_before_ask=None),
        ("rapport_before_ask (1-5) is required when asked_fit_question is true",),
    ),
    (
        "debrief.rapport_before_ask.empty_when_not_asked",
        debrief(**{**NOT_ASKED, "rapport_before_ask": 3}),
        ("rapport_before_ask must be empty when asked_fit_question is false", "(got 3)"),
    ),
    (
        "debrief.fit_question_kinds.given_when_asked",
        debrief(fit_question_kinds=[]),
        ("fit_question_kinds must list at least one of", "when asked_fit_question is true"),
    ),
    (
        "debrief.fit_question_kinds.empty_when_not_asked",
        debrief(**{**NOT_ASKED, "fit_question_kinds": ["comparison"]}),
        ("fit_question_kinds must be empty when asked_fit_question is false", "'comparison'"),
    ),
    (
        "debrief.concerns_addressed.given_when_raised",
        debrief(concerns_addressed=None),
        ("concerns_addressed must be true or false when concerns_raised lists a concern",),
    ),
    (
        "debrief.concerns_addressed.empty_when_none_raised",
        debrief(concerns_raised=[], concerns_addressed=False),
        ("concerns_addressed must be empty when no concerns were raised", "(got false)"),
    ),
    (
        "debrief.interview_date.not_after_submitted_at",
        debrief(interview_date=dt.date(2026, 3, 5)),
        (
            "interview_date must not be after the day of submitted_at",
            "interview_date 2026-03-05, submitted_at 2026-03-02T18:04:00Z",
        ),
    ),
    *[
        (
            f"outcome.{field}.required",
            outcome(**{field: None}),
            (f"{field} is required for an outcome record",),
        )
        for field in spec.REQUIRED_BY_TYPE["outcome"]
    ],
    ("outcome.interview_ref.not_blank", outcome(interview_ref=""), ("interview_ref must not be",)),
    *[
        (
            f"{record_type}.application_ref.not_blank",
            make(application_ref="  "),
            ("application_ref may be left out but not blank",),
        )
        for record_type, make in (("debrief", debrief), ("outcome", outcome))
    ],
    (
        "outcome.outcome.enum",
        outcome(outcome="hired"),
        ("outcome must be one of offer, next_round, rejected, withdrawn, no_response", "'hired'"),
    ),
    (
        "erasure.requested_at.required",
        erasure(requested_at=None),
        ("requested_at is required for an erasure record",),
    ),
]

VALID = [debrief(), debrief(**NOT_ASKED, concerns_raised=None, concerns_addressed=None)]
VALID += [outcome(), erasure()]


@pytest.fixture(scope="module")
def case_results(validator) -> dict[int, list[str]]:
    """All cases in one chunk, interleaved with valid records, validated once."""
    records: list[dict] = []
    for _, record, _ in CASES:
        records += [record, VALID[len(records) // 2 % len(VALID)]]
    out = validator.validate(frame(*records), "cases")
    assert out.columns == ["source_line", "failed_rules"]
    return dict(zip(out["source_line"].to_list(), out["failed_rules"].to_list(), strict=True))


def test_every_rule_has_a_case():
    assert {key for key, _, _ in CASES} == {rule.key for rule in build_rules()}


@pytest.mark.parametrize("index", range(len(CASES)), ids=[key for key, _, _ in CASES])
def test_each_rule_catches_its_violation(case_results, index):
    _, _, fragments = CASES[index]
    messages = case_results[2 * index + 1]  # the case's record; 2 * index + 2 is a valid one
    assert len(messages) == 1, messages
    for fragment in fragments:
        assert fragment in messages[0], messages[0]


def test_valid_rows_next_to_bad_ones_pass(case_results):
    assert all(case_results[2 * i + 2] == [] for i in range(len(CASES)))


def test_revision_1_1_records_pass(validator):
    records = [debrief(application_ref="app-9", round=2), outcome(application_ref="app-9")]
    out = validator.validate(frame(*records), "rev-1.1")
    assert out["failed_rules"].to_list() == [[], []]


def test_valid_records_of_each_type_pass(validator):
    out = validator.validate(frame(*VALID), "valid")
    assert out.schema == pl.Schema({"source_line": pl.Int64, "failed_rules": pl.List(pl.String)})
    assert out["failed_rules"].to_list() == [[]] * len(VALID)


def test_rows_come_back_in_input_order_keyed_by_source_line(validator):
    out = validator.validate(
        frame(debrief(stage="lunch"), outcome(), erasure(requested_at=None), lines=[40, 7, 12]),
        "order",
    )
    assert out["source_line"].to_list() == [40, 7, 12]
    assert [len(r) for r in out["failed_rules"].to_list()] == [1, 0, 1]


def test_multiple_failures_on_one_record_are_all_listed(validator):
    record = debrief(
        stage="lunch",
        seniority=None,
        duration_min=1000,
        asked_at_pct=None,
        concerns_addressed=None,
        firm_id="North Star",
        interview_date=dt.date(2026, 4, 1),
    )
    (messages,) = validator.validate(frame(record), "many")["failed_rules"].to_list()
    assert len(messages) == 7
    for field in (
        "stage",
        "seniority",
        "duration_min",
        "asked_at_pct",
        "concerns_addressed",
        "firm_id",
        "interview_date",
    ):
        assert sum(m.startswith(field) for m in messages) == 1, (field, messages)


def test_edges_that_are_valid(validator):
    sydney_morning = dt.datetime(2026, 3, 2, 23, 0, tzinfo=UTC)  # 10:00 on 3 March in Sydney
    records = [
        debrief(schema_version=None),  # absent means 1
        debrief(interview_date=dt.date(2026, 3, 3), submitted_at=sydney_morning),
        debrief(**{**NOT_ASKED, "fit_question_kinds": None}),  # null list = none
        debrief(record_id="x" * spec.RECORD_ID_MAX_LEN, notes=None),
        debrief(**{f: lo for f, (lo, _) in spec.INT_RANGES.items()}),
        # Fields of another record type are present-but-ignored.
        outcome(stage="lunch", experience_years=999, asked_fit_question=True),
        erasure(interview_ref="", outcome="nope", decided_at=None),
    ]
    out = validator.validate(frame(*records), "edges")
    assert out["failed_rules"].to_list() == [[]] * len(records)


def test_edges_that_are_not(validator):
    records = [
        debrief(
            interview_date=dt.date(2026, 3, 4),
            submitted_at=dt.datetime(2026, 3, 2, 23, 0, tzinfo=UTC),
        ),
        debrief(firm_id="north-star\n"),  # '$' alone would let a trailing newline through
        debrief(firm_id="x"),
        debrief(record_id=""),
        debrief(fit_question_kinds=["concerns;comparison"]),  # one element, not two
        debrief(concerns_raised=[""]),
        debrief(experience_years=-1),
    ]
    out = validator.validate(frame(*records), "edges-bad")
    assert [len(m) for m in out["failed_rules"].to_list()] == [1] * len(records)


def test_messages_never_contain_client_ref_or_notes(validator):
    secret_client = "Jane Doe <jane@example.org>"
    secret_notes = "Spoke to Tom Smith, tom@acme.io"
    records = [
        debrief(client_ref=secret_client, notes=secret_notes, stage=secret_client),
        debrief(client_ref="janedoe", notes=secret_notes, seniority="janedoe"),
        debrief(client_ref=secret_client, notes="Tom", interviewer_role="Tom"),
        outcome(client_ref=secret_client, outcome="jane@example.org"),
        debrief(
            client_ref=secret_client,
            notes=secret_notes,
            **NOT_ASKED,
            parse_errors=[f"record could not be read: {secret_client} / {secret_notes}"],
        ),
        debrief(client_ref=secret_client, fit_question_kinds=["concerns", secret_notes]),
    ]
    out = validator.validate(frame(*records), "privacy")
    messages = [m for ms in out["failed_rules"].to_list() for m in ms]
    assert len(messages) == len(records)
    for text in (secret_client, secret_notes, "jane@example.org", "janedoe", "'Tom'", "tom@"):
        assert not any(text in m for m in messages), text
    assert "stage must be one of" in messages[0] and "not repeated" in messages[0]
    assert "[client_ref]" in messages[4] and "[notes]" in messages[4]


def test_empty_chunk(validator):
    out = validator.validate(frame(debrief()).head(0), "empty")
    assert out.height == 0 and out.columns == ["source_line", "failed_rules"]


def test_rejects_frames_it_cannot_map_back(validator):
    with pytest.raises(ValueError, match="source_line"):
        validator.validate(frame(debrief(), outcome(), lines=[3, 3]), "dupes")
    with pytest.raises(ValueError, match="lack columns: notes"):
        validator.validate(frame(debrief()).drop("notes"), "no-notes")


def test_ephemeral_writes_nothing(validator, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    validator.validate(frame(debrief(stage="lunch")), "ephemeral")
    assert validator.build_docs() is None
    assert list(tmp_path.iterdir()) == []


def test_results_are_kept_per_batch_and_data_docs_are_built(tmp_path):
    quality = tmp_path / "quality"
    v = RecordValidator(quality)
    v.validate(frame(*VALID), "landing/a.jsonl#0")
    v.validate(frame(debrief(stage="lunch"), outcome(client_ref=" ")), "b.csv#0")

    summaries = sorted((quality / "validation_summaries").glob("*.json"))
    assert [p.name.split("__")[0] for p in summaries] == ["b.csv_0", "landing_a.jsonl_0"]
    by_batch = {s["batch_name"]: s for s in (json.loads(p.read_text()) for p in summaries)}
    good, bad = by_batch["landing/a.jsonl#0"], by_batch["b.csv#0"]
    assert (good["success"], good["rows"], good["rows_failed"]) == (True, 4, 0)
    assert (bad["success"], bad["rows"], bad["rows_failed"]) == (False, 2, 2)
    counts = {e["rule"]: e["unexpected_count"] for e in bad["expectations"]}
    assert counts["debrief.stage.enum"] == 1 and counts["client_ref.not_blank"] == 1
    assert len(bad["expectations"]) == len(build_rules())

    # GX's own validation results, one per batch, holding source lines but no record values.
    gx_results = list((quality / "gx/uncommitted/validations" / SUITE_NAME).glob("*/*/*.json"))
    assert len(gx_results) == 2
    stored = "\n".join(p.read_text() for p in gx_results)
    assert CLIENT not in stored and "lunch" not in stored

    index = v.build_docs()
    assert index == quality / "gx/uncommitted/data_docs/local_site/index.html"
    assert index.is_file()
    site = index.parent
    assert len(list((site / "validations" / SUITE_NAME).glob("*/*/*.html"))) == 2
    assert (site / "expectations" / f"{SUITE_NAME}.html").is_file()
    assert "b.csv_0" in index.read_text()

    # Incremental: a later batch gets its page, earlier pages stay.
    v.validate(frame(erasure()), "c.jsonl#0")
    v.build_docs()
    assert len(list((site / "validations" / SUITE_NAME).glob("*/*/*.html"))) == 3
    pages = "\n".join(p.read_text() for p in site.rglob("*.html"))
    assert CLIENT not in pages and NOTES not in pages


def test_an_existing_quality_dir_is_reopened(tmp_path, monkeypatch):
    quality = tmp_path / "q"
    RecordValidator(quality).validate(frame(debrief()), "one")
    # As a new process would: no cached GX runtime, the file context is read back from disk.
    monkeypatch.setattr(gx_runtime, "_RUNTIMES", {})
    again = RecordValidator(Path(str(quality)))
    out = again.validate(frame(debrief(stage="lunch")), "two")
    assert len(out["failed_rules"][0]) == 1
    assert len(list((quality / "validation_summaries").glob("*.json"))) == 2
    again.build_docs()
    site = quality / "gx/uncommitted/data_docs/local_site"
    assert len(list((site / "validations" / SUITE_NAME).glob("*/*/*.html"))) == 2


@pytest.mark.slow
def test_a_full_chunk_maps_every_failure_to_its_line(validator):
    """250k rows (the ingestion chunk size): failures land on exactly the right source lines."""
    n = 250_000
    base = frame(*VALID)
    chunk = (
        pl.concat([base] * (n // base.height), rechunk=True)
        .with_columns(pl.int_range(1, n + 1, dtype=pl.Int64).alias("source_line"))
        .with_columns(
            (pl.lit("r-") + pl.col("source_line").cast(pl.String)).alias("record_id"),
            (pl.lit("client-") + pl.col("source_line").cast(pl.String)).alias("client_ref"),
        )
    )
    bad_stage = pl.col("record_type").eq("debrief") & (pl.col("source_line") % 1000 == 1)
    bad_firm = pl.col("source_line") % 777 == 0
    chunk = chunk.with_columns(
        pl.when(bad_stage).then(pl.lit("lunch")).otherwise("stage").alias("stage"),
        pl.when(bad_firm).then(pl.lit("Bad Firm")).otherwise("firm_id").alias("firm_id"),
    )
    started = time.perf_counter()
    out = validator.validate(chunk, "big")
    rate = n / (time.perf_counter() - started)
    print(f"validated {n} rows at {rate:,.0f} rows/s")

    expected = chunk.select(
        "source_line", (bad_stage.cast(pl.Int32) + bad_firm.cast(pl.Int32)).alias("n")
    )
    got = out.select("source_line", pl.col("failed_rules").list.len().cast(pl.Int32).alias("n"))
    assert got.equals(expected)
    assert expected["n"].sum() > 500
    assert rate > 10_000  # ~60-90k rows/s measured on 2 shared cores; this only catches collapse


def test_many_chunks_in_one_run_give_each_chunk_its_own_rows_back(validator):
    v = validator
    first = frame(debrief(stage="lunch"), *VALID)
    second = frame(*VALID, debrief(self_rating=9))  # the same source lines as the first
    together, pending = v.check_many([first, second], "a.jsonl#0 +1 more")
    v.audit([pending])
    alone = [v.validate(first, "a.jsonl#0"), v.validate(second, "b.jsonl#0")]
    for got, want, chunk in zip(together, alone, (first, second), strict=True):
        assert got.equals(want)
        assert got["source_line"].to_list() == chunk["source_line"].to_list()
    assert together[0]["failed_rules"].list.len().to_list()[0] == 1
    assert together[1]["failed_rules"].list.len().to_list()[-1] == 1
