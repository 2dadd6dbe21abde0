"""Tests for pipelines.effects.tactic_effects (the marts.tactic_effects transform)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from pipelines import spec, stats
from pipelines.effects import (
    ESTIMATE_COLUMNS,
    MIN_PER_ARM,
    OUTPUT_SCHEMA,
    TACTICS,
    tactic_effects,
)
from pipelines.generate import generate

FCT_SCHEMA = {
    "interview_key": pl.String,
    "firm_id": pl.String,
    "client_key": pl.String,
    "interview_date": pl.Date,
    "stage": pl.String,
    "interviewer_role": pl.String,
    "industry": pl.String,
    "role_family": pl.String,
    "seniority": pl.String,
    "experience_band": pl.String,
    "asked_fit_question": pl.Boolean,
    "fit_question_kinds": pl.List(pl.String),
    "asked_at_pct": pl.Int64,
    "rapport_before_ask": pl.Int64,
    "concerns_raised": pl.List(pl.String),
    "concerns_addressed": pl.Boolean,
    "self_rating": pl.Int64,
    "outcome": pl.String,
    "is_decided": pl.Boolean,
    "got_offer": pl.Boolean,
    "got_referral": pl.Boolean,
    "decided_at": pl.Datetime("us", "UTC"),
}


def interview(*, kinds=(), offer=True, decided=True, concerns=(), addressed=None, **kw) -> dict:
    """One fct_interviews row; defaults: final round, senior, north-star, did not ask."""
    row = {
        "interview_key": "k",
        "firm_id": "north-star",
        "client_key": "c",
        "interview_date": date(2025, 3, 1),
        "stage": "final",
        "interviewer_role": "hiring_manager",
        "industry": "software",
        "role_family": "engineering",
        "seniority": "senior",
        "experience_band": "6-10",
        "asked_fit_question": bool(kinds),
        "fit_question_kinds": list(kinds),
        "asked_at_pct": 75 if kinds else None,
        "rapport_before_ask": 4 if kinds else None,
        "concerns_raised": list(concerns),
        "concerns_addressed": addressed,
        "self_rating": 3,
        "outcome": ("offer" if offer else "rejected") if decided else None,
        "is_decided": decided,
        "got_offer": offer if decided else False,
        "got_referral": False,
        "decided_at": datetime(2025, 3, 20, tzinfo=UTC) if decided else None,
    }
    row.update(kw)
    return row


def block(count: int, offers: int, **kw) -> list[dict]:
    """`count` identical interviews, the first `offers` of which got an offer."""
    return [interview(offer=i < offers, **kw) for i in range(count)]


def run(rows: list[dict], **kw) -> pl.DataFrame:
    lf = pl.DataFrame(rows, schema=FCT_SCHEMA).lazy()
    out = tactic_effects(lf, **kw)
    assert isinstance(out, pl.LazyFrame)
    return out.collect()


def row_of(df: pl.DataFrame, tactic: str, segment: str = "all") -> dict:
    sel = df.filter((pl.col("tactic") == tactic) & (pl.col("segment") == segment))
    assert sel.height == 1, (tactic, segment)
    return sel.row(0, named=True)


# ------------------------------------------------------------------------------------------
# Exact counts and estimates
# ------------------------------------------------------------------------------------------
def test_exact_counts_rates_and_intervals():
    rows = block(40, 20, kinds=["concerns"]) + block(50, 10)
    df = run(rows)
    r = row_of(df, "asked_fit_question")
    assert (r["n_with"], r["n_without"], r["offers_with"], r["offers_without"]) == (40, 50, 20, 10)
    assert r["enough_data"] is True
    assert r["rate_with"] == 0.5 and r["rate_without"] == 0.2
    assert r["diff"] == pytest.approx(0.3, abs=1e-12)
    assert r["ratio"] == pytest.approx(2.5, abs=1e-12)
    assert (r["rate_with_ci_low"], r["rate_with_ci_high"]) == pytest.approx(stats.wilson_ci(20, 40))
    assert (r["rate_without_ci_low"], r["rate_without_ci_high"]) == pytest.approx(
        stats.wilson_ci(10, 50)
    )
    assert (r["diff"], r["diff_ci_low"], r["diff_ci_high"]) == pytest.approx(
        stats.newcombe_diff_ci(20, 40, 10, 50)
    )
    assert (r["ratio"], r["ratio_ci_low"], r["ratio_ci_high"]) == pytest.approx(
        stats.risk_ratio_ci(20, 40, 10, 50)
    )
    # One stratum: the adjusted difference is the crude one.
    adj = stats.mantel_haenszel_risk_difference([20], [40], [10], [50])
    assert (r["adj_diff"], r["adj_ci_low"], r["adj_ci_high"], r["p_value"]) == pytest.approx(adj)
    assert r["adj_diff"] == pytest.approx(0.3, abs=1e-12)
    # Same numbers in the segments that contain everything.
    for seg in ("stage=final", "seniority=senior", "firm=north-star"):
        s = row_of(df, "asked_fit_question", seg)
        assert (s["n_with"], s["offers_with"], s["diff"]) == (40, 20, r["diff"])
        assert s["adj_diff"] == pytest.approx(r["adj_diff"])


def test_adjusted_difference_removes_confounding_by_stratum():
    # Within each stage the tactic adds exactly 0.1; askers are concentrated in the final round
    # where offers are more common anyway.
    rows = (
        block(40, 8, kinds=["comparison"], stage="phone_screen")  # 0.2
        + block(160, 16, stage="phone_screen")  # 0.1
        + block(160, 96, kinds=["comparison"], stage="final")  # 0.6
        + block(40, 20, stage="final")  # 0.5
    )
    df = run(rows)
    r = row_of(df, "asked_how_compare")
    assert r["diff"] == pytest.approx(104 / 200 - 36 / 200, abs=1e-12)  # 0.34, confounded
    assert r["adj_diff"] == pytest.approx(0.1, abs=1e-12)
    ref = stats.mantel_haenszel_risk_difference([8, 96], [40, 160], [16, 20], [160, 40])
    assert (r["adj_diff"], r["adj_ci_low"], r["adj_ci_high"], r["p_value"]) == pytest.approx(ref)
    assert r["adj_ci_high"] < r["diff"]
    for stage, d in (("phone_screen", 0.1), ("final", 0.1)):
        s = row_of(df, "asked_how_compare", f"stage={stage}")
        assert s["diff"] == pytest.approx(d, abs=1e-12)
        assert s["adj_diff"] == pytest.approx(d, abs=1e-12)


def test_stratification_uses_all_four_confounders():
    rows = []
    for field, (lo, hi) in {
        "seniority": ("entry", "lead"),
        "industry": ("retail", "finance"),
        "experience_band": ("0-2", "21+"),
    }.items():
        rows += block(40, 8, kinds=["concerns"], **{field: lo})
        rows += block(160, 16, **{field: lo})
        rows += block(160, 96, kinds=["concerns"], **{field: hi})
        rows += block(40, 20, **{field: hi})
    r = row_of(run(rows), "asked_about_concerns")
    assert r["diff"] > 0.3
    assert r["adj_diff"] == pytest.approx(0.1, abs=1e-12)


def test_kind_tactics_compare_against_everyone_who_did_not_ask_that_kind():
    rows = (
        block(35, 21, kinds=["concerns", "ideal_candidate"])
        + block(31, 10, kinds=["ideal_candidate"])
        + block(33, 11, kinds=["comparison"])
        + block(40, 8)  # did not ask at all: "without" for every kind
    )
    df = run(rows)
    c = row_of(df, "asked_about_concerns")
    assert (c["n_with"], c["offers_with"], c["n_without"], c["offers_without"]) == (35, 21, 104, 29)
    i = row_of(df, "asked_about_ideal_candidate")
    assert (i["n_with"], i["offers_with"], i["n_without"], i["offers_without"]) == (66, 31, 73, 19)
    m = row_of(df, "asked_how_compare")
    assert (m["n_with"], m["offers_with"], m["n_without"], m["offers_without"]) == (33, 11, 106, 39)
    a = row_of(df, "asked_fit_question")
    assert (a["n_with"], a["offers_with"], a["n_without"], a["offers_without"]) == (99, 42, 40, 8)


def test_addressed_concerns_only_counts_interviews_with_concerns_raised():
    rows = (
        block(32, 16, concerns=["skills_gap"], addressed=True)
        + block(34, 5, concerns=["culture_fit", "location"], addressed=False)
        + block(50, 25)  # no concerns raised: not in this tactic's population
        + block(3, 3, concerns=["other"], addressed=None)  # unknown: left out
    )
    r = row_of(run(rows), "addressed_concerns")
    assert (r["n_with"], r["offers_with"], r["n_without"], r["offers_without"]) == (32, 16, 34, 5)


def test_only_decided_interviews_count():
    rows = block(40, 20, kinds=["concerns"]) + block(40, 10)
    rows += block(25, 0, kinds=["concerns"], decided=False) + block(25, 0, decided=False)
    rows += [interview(got_offer=None, outcome=None)]  # decided flag without an outcome
    r = row_of(run(rows), "asked_fit_question")
    assert (r["n_with"], r["offers_with"], r["n_without"], r["offers_without"]) == (40, 20, 40, 10)


# ------------------------------------------------------------------------------------------
# enough_data, completeness, BH, schema
# ------------------------------------------------------------------------------------------
def test_not_enough_data_nulls_every_estimate_but_keeps_counts():
    rows = block(29, 20, kinds=["concerns"]) + block(500, 100)
    df = run(rows)
    r = row_of(df, "asked_fit_question")
    assert r["enough_data"] is False
    assert (r["n_with"], r["n_without"], r["offers_with"], r["offers_without"]) == (
        29,
        500,
        20,
        100,
    )
    assert all(r[c] is None for c in ESTIMATE_COLUMNS)
    # The same data with a lower threshold is estimated.
    r = row_of(run(rows, min_per_arm=29), "asked_fit_question")
    assert r["enough_data"] is True
    assert all(r[c] is not None for c in ESTIMATE_COLUMNS)
    # Rows without enough data anywhere in the table: every estimate null.
    thin = df.filter(~pl.col("enough_data"))
    assert thin.height > 0
    assert thin.select(pl.col(ESTIMATE_COLUMNS).is_null().all()).row(0) == (True,) * len(
        ESTIMATE_COLUMNS
    )
    assert MIN_PER_ARM == 30


def test_every_tactic_and_segment_is_present():
    rows = block(40, 20, kinds=["concerns"]) + block(40, 10, firm_id="bright-path")
    rows += block(3, 0, firm_id="pending-only", decided=False)
    rows += block(2, 1, stage="assessment_centre")  # a value outside the spec enum
    df = run(rows)
    segments = (
        ["all"]
        + [f"stage={s}" for s in spec.STAGES]
        + ["stage=assessment_centre"]
        + [f"seniority={s}" for s in spec.SENIORITIES]
        + ["firm=bright-path", "firm=north-star", "firm=pending-only"]
    )
    assert df.height == len(TACTICS) * len(segments)
    assert df.select("tactic", "segment").rows() == [(t, s) for t in TACTICS for s in segments]
    kinds = dict(zip(df["segment"], df["segment_kind"], strict=False))
    assert [kinds[s] for s in ("all", "stage=final", "seniority=mid", "firm=bright-path")] == [
        "all",
        "stage",
        "seniority",
        "firm",
    ]
    empty = row_of(df, "asked_fit_question", "stage=panel")
    assert (empty["n_with"], empty["n_without"], empty["enough_data"]) == (0, 0, False)
    assert row_of(df, "asked_fit_question", "firm=pending-only")["n_without"] == 0


def test_schema_and_no_nan():
    rows = block(40, 0, kinds=["concerns"]) + block(40, 0)  # no offers at all: ratio undefined
    df = run(rows)
    assert df.schema == OUTPUT_SCHEMA
    r = row_of(df, "asked_fit_question")
    assert r["enough_data"] is True and r["diff"] == 0.0
    assert r["ratio"] is None and r["p_value"] is None and r["q_value"] is None
    floats = [c for c, t in OUTPUT_SCHEMA.items() if t == pl.Float64]
    assert df.select(pl.col(floats).is_nan().any()).row(0) == (False,) * len(floats)


def test_empty_input():
    df = run([])
    assert df.schema == OUTPUT_SCHEMA
    assert df.height == len(TACTICS) * (1 + len(spec.STAGES) + len(spec.SENIORITIES))
    assert not df["enough_data"].any()
    assert (df["n_with"] == 0).all()


def test_q_values_are_bh_over_every_row_with_enough_data():
    rng = np.random.default_rng(3)
    rows = []
    for firm in ("a-firm", "b-firm", "c-firm"):
        for stage in ("recruiter", "panel", "final"):
            for seniority in ("mid", "senior"):
                n = int(rng.integers(20, 90))
                for _ in range(n):
                    kinds = [k for k in spec.FIT_QUESTION_KINDS if rng.random() < 0.4]
                    p = 0.2 + 0.15 * ("concerns" in kinds) + 0.1 * (stage == "final")
                    raised = rng.random() < 0.5
                    rows.append(
                        interview(
                            kinds=kinds,
                            offer=bool(rng.random() < p),
                            firm_id=firm,
                            stage=stage,
                            seniority=seniority,
                            concerns=["skills_gap"] if raised else [],
                            addressed=bool(rng.random() < 0.5) if raised else None,
                        )
                    )
    df = run(rows)
    has_p = df.filter(pl.col("p_value").is_not_null())
    assert has_p.height > 20
    assert (has_p["q_value"] >= has_p["p_value"]).all()
    expected = stats.benjamini_hochberg(df["p_value"].fill_null(np.nan).to_numpy().astype(float))
    np.testing.assert_allclose(df["q_value"].fill_null(np.nan).to_numpy(), expected, rtol=1e-12)
    assert df.filter(pl.col("p_value").is_null() & pl.col("q_value").is_not_null()).height == 0
    assert df.filter(~pl.col("enough_data") & pl.col("p_value").is_not_null()).height == 0


def test_negative_min_per_arm_rejected():
    with pytest.raises(ValueError):
        tactic_effects(pl.DataFrame([], schema=FCT_SCHEMA).lazy(), min_per_arm=-1)


# ------------------------------------------------------------------------------------------
# The story: the generator's planted effects are recovered; the crude numbers are not.
# ------------------------------------------------------------------------------------------
LANDING_SCHEMA = {
    "record_type": pl.String,
    "firm_id": pl.String,
    "client_ref": pl.String,
    "interview_ref": pl.String,
    "submitted_at": pl.String,
    "interview_date": pl.String,
    "stage": pl.String,
    "interviewer_role": pl.String,
    "industry": pl.String,
    "role_family": pl.String,
    "seniority": pl.String,
    "experience_years": pl.Int64,
    "asked_fit_question": pl.Boolean,
    "fit_question_kinds": pl.List(pl.String),
    "asked_at_pct": pl.Int64,
    "rapport_before_ask": pl.Int64,
    "concerns_raised": pl.List(pl.String),
    "concerns_addressed": pl.Boolean,
    "self_rating": pl.Int64,
    "decided_at": pl.String,
    "outcome": pl.String,
    "referral": pl.Boolean,
}


def fct_from_landing(landing: Path) -> pl.DataFrame:
    """A fct_interviews-like frame straight from generated JSONL, following truth.json's
    definitions: latest debrief per (firm, interview_ref) by submitted_at, final outcome =
    latest outcome by decided_at, decided = has an outcome, offer = final outcome is offer,
    erased clients dropped."""
    raw = pl.read_ndjson(sorted(landing.glob("*.jsonl")), schema=LANDING_SCHEMA)
    key = ["firm_id", "interview_ref"]
    debriefs = (
        raw.filter(pl.col("record_type") == "debrief")
        .sort("submitted_at")
        .group_by(key)
        .last()
        .drop("decided_at", "outcome", "referral")
    )
    outcomes = (
        raw.filter(pl.col("record_type") == "outcome")
        .sort("decided_at")
        .group_by(key)
        .last()
        .select(*key, "decided_at", "outcome", "referral")
    )
    erased = raw.filter(pl.col("record_type") == "erasure").select("firm_id", "client_ref")
    band = pl.lit(None, dtype=pl.String)
    for lo, hi, label in spec.EXPERIENCE_BANDS:
        band = (
            pl.when(pl.col("experience_years").is_between(lo, hi))
            .then(pl.lit(label))
            .otherwise(band)
        )
    return (
        debriefs.join(outcomes, on=key, how="left")
        .join(erased.unique(), on=["firm_id", "client_ref"], how="anti")
        .select(
            pl.col("interview_ref").alias("interview_key"),
            "firm_id",
            pl.col("client_ref").alias("client_key"),
            pl.col("interview_date").str.to_date(),
            "stage",
            "interviewer_role",
            "industry",
            "role_family",
            "seniority",
            band.alias("experience_band"),
            "asked_fit_question",
            "fit_question_kinds",
            "asked_at_pct",
            "rapport_before_ask",
            "concerns_raised",
            "concerns_addressed",
            "self_rating",
            "outcome",
            pl.col("outcome").is_not_null().alias("is_decided"),
            (pl.col("outcome") == "offer").fill_null(False).alias("got_offer"),
            pl.col("referral").fill_null(False).alias("got_referral"),
            pl.col("decided_at").str.to_datetime(time_zone="UTC"),
        )
    )


@pytest.fixture(scope="module")
def story(tmp_path_factory):
    landing = tmp_path_factory.mktemp("story")
    generate(landing, 40_000, 1, "jsonl", 3)
    truth = json.loads((landing / "truth.json").read_text())
    fct = fct_from_landing(landing)
    return truth, fct, tactic_effects(fct.lazy()).collect()


def test_story_population_matches_truth(story):
    truth, fct, df = story
    assert int(fct["is_decided"].sum()) == truth["counts"]["population"]
    for tactic in TACTICS:
        t, r = truth["tactics"][tactic], row_of(df, tactic)
        assert (r["n_with"], r["n_without"]) == (t["n_treated"], t["n_control"]), tactic
        assert r["diff"] == pytest.approx(t["crude_rd"], abs=1e-6), tactic


def test_story_adjusted_effect_recovers_the_planted_truth_and_crude_does_not(story):
    truth, _, df = story
    t, r = truth["tactics"]["asked_fit_question"], row_of(df, "asked_fit_question")
    planted = t["ate_rd"]
    assert r["adj_ci_low"] <= planted <= r["adj_ci_high"]
    # The crude difference is biased upwards by confounding (savvier candidates ask more and
    # get more offers): several points off, its own interval excludes the truth, and it lies
    # outside the adjusted interval.
    assert r["diff"] - planted > 0.02
    assert r["diff_ci_low"] > planted
    assert r["diff"] > r["adj_ci_high"]
    assert r["q_value"] < 0.001


def test_story_planted_null_is_not_a_finding(story):
    truth, _, df = story
    t, r = truth["tactics"]["asked_how_compare"], row_of(df, "asked_how_compare")
    assert t["true_null"] is True and t["ate_rd"] == 0.0
    assert r["adj_ci_low"] <= 0.0 <= r["adj_ci_high"]
    assert r["q_value"] >= 0.05
    # ...whereas the crude comparison would have "found" an effect.
    assert r["diff_ci_low"] > 0
