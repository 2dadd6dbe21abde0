"""marts.tactic_estimates and marts.hypothesis_tests: shape, and every figure against an
independent computation (statsmodels, pyfixest) on the same rounds."""

from __future__ import annotations

import threading
import warnings
from datetime import date, timedelta

import numpy as np
import pandas as pd
import polars as pl
import pyfixest as pf
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf
from statsmodels.stats.multitest import multipletests

from pipelines.core import spec
from pipelines.insights.effects import (
    CONFOUNDERS,
    HYPOTHESES,
    METHODS,
    TACTICS,
    hypothesis_tests,
    tactic_estimates,
)
from pipelines.insights.rounds import rounds

KINDS = ("concerns", "ideal_candidate", "comparison")
FLAG_NAMES = ("about_concerns", "about_ideal_candidate", "how_compare")


def population(clients: int = 300, seed: int = 0) -> pl.DataFrame:
    """fct_interviews-shaped rows: clients with several multi-round applications and a trait
    that drives both asking and advancing."""
    rng = np.random.default_rng(seed)
    rows = []
    for c in range(clients):
        u = rng.normal()
        for a in range(4):
            for r in range(1, int(rng.integers(1, 5)) + 1):
                rows.append(_round(rng, c, a, r, u))
                if rows[-1]["outcome"] not in ("next_round",):
                    break
    return pl.DataFrame(rows, schema_overrides={"concerns_addressed": pl.Boolean}).with_columns(
        pl.col("concerns_raised").list.len().gt(0).alias("has_concerns_raised")
    )


def _round(rng, c: int, a: int, r: int, u: float) -> dict:
    concerns = rng.random() < 0.3 + 0.1 * u
    asked = {
        "concerns": concerns,
        "ideal_candidate": rng.random() < 0.3,
        "comparison": rng.random() < (0.6 if concerns else 0.1),
    }
    kinds = [k for k in KINDS if asked[k]]
    raised = rng.random() < 0.35
    p = 0.45 + 0.07 * u + 0.08 * concerns + 0.04 * asked["ideal_candidate"]
    advanced = rng.random() < p
    last = r == 3
    outcome = ("offer" if last else "next_round") if advanced else "rejected"
    if rng.random() < 0.04:
        outcome = rng.choice(["withdrawn", None])
    return {
        "interview_key": f"i{c}-{a}-{r}",
        "firm_id": f"firm-{c % 3}",
        "client_key": f"c{c}",
        "application_key": f"a{c}-{a}",
        "has_application_ref": True,
        "round": r,
        "interview_date": date(2025, 1, 1) + timedelta(days=40 * a + 7 * r),
        "stage": spec.STAGES[int(rng.integers(0, 5))],
        "interviewer_role": "peer",
        "industry": str(rng.choice(["software", "Software", "Tech", "finance"])),
        "role_family": "engineering",
        "seniority": spec.SENIORITIES[c % 2],
        "experience_band": "3-5",
        "asked_fit_question": bool(kinds),
        "fit_question_kinds": kinds,
        "asked_at_pct": int(rng.integers(0, 101)) if kinds else None,
        "rapport_before_ask": int(rng.integers(1, 6)) if kinds else None,
        "concerns_raised": ["skills_gap"] if raised else [],
        "concerns_addressed": bool(rng.random() < 0.5) if raised else None,
        "self_rating": int(rng.integers(1, 6)),
        "outcome": outcome,
        "got_referral": bool(rng.random() < 0.1),
        "is_debrief_after_outcome": False,
        "versions_after_outcome": 0,
    }


@pytest.fixture(scope="module")
def fct() -> pl.DataFrame:
    return population()


@pytest.fixture(scope="module")
def table(fct) -> pl.DataFrame:
    return tactic_estimates(fct.lazy()).collect()


@pytest.fixture(scope="module")
def analysable(fct) -> pd.DataFrame:
    frame = rounds(fct.lazy()).collect().filter(pl.col("advanced").is_not_null())
    flags = ("advanced", "asked_fit_question", *(f"asked_{k}" for k in FLAG_NAMES))
    return frame.with_columns(pl.col(flags).cast(pl.Float64)).to_pandas()


def row(table: pl.DataFrame, tactic: str, method: str, **kw) -> dict:
    where = {"estimand": "advance", "segment": "all"} | kw
    hits = table.filter(
        pl.col("tactic") == tactic,
        pl.col("method") == method,
        *[pl.col(k) == v for k, v in where.items()],
    )
    assert hits.height == 1
    return hits.row(0, named=True)


def test_every_tactic_estimand_method_and_segment_is_present(table):
    segments = ["all", *[f"stage={s}" for s in spec.STAGES]]
    segments += [f"seniority={s}" for s in spec.SENIORITIES]
    segments += [f"firm=firm-{i}" for i in range(3)]
    keys = table.select("tactic", "estimand", "method", "segment").rows()
    advance = [(t, "advance", m, s) for t in TACTICS for m in METHODS for s in segments]
    apps = [
        (t, "application_offer", m, s)
        for t in TACTICS
        for m in METHODS
        for s in segments
        if not s.startswith("stage=")
    ]
    assert sorted(keys) == sorted(advance + apps)
    assert table.get_column("family").unique().sort().to_list() == [
        "confirmatory",
        "exploratory: firm",
        "exploratory: seniority",
        "exploratory: stage",
    ]


def test_crude_rows_are_differences_in_rates_with_statsmodels_cluster_errors(table, analysable):
    for tactic, column in (
        ("asked_fit_question", "asked_fit_question"),
        ("asked_how_compare", "asked_how_compare"),
    ):
        got = row(table, tactic, "crude")
        oracle = sm.OLS(analysable.advanced, sm.add_constant(analysable[column])).fit(
            cov_type="cluster",
            cov_kwds={"groups": pd.factorize(analysable.client_key)[0]},
            use_t=True,
        )
        rates = analysable.groupby(column).advanced.mean()
        assert got["estimate"] == pytest.approx(rates[1.0] - rates[0.0], abs=1e-12)
        assert got["std_error"] == pytest.approx(oracle.bse.iloc[1], rel=1e-9)
        assert got["p_value"] == pytest.approx(oracle.pvalues.iloc[1], rel=1e-6)
        assert got["n_treated"] == int(analysable[column].sum())
        assert got["n_clients"] == analysable.client_key.nunique()


def test_adjusted_rows_hold_the_confounders_and_the_other_kinds_fixed(table, analysable):
    kinds = "asked_about_concerns + asked_about_ideal_candidate + asked_how_compare"
    dummies = " + ".join(f"C({c})" for c in CONFOUNDERS)
    # A design of full rank: statsmodels' pseudo-inverse is not reliable on a deficient one.
    assert (
        np.linalg.matrix_rank(smf.ols(f"advanced ~ {kinds} + {dummies}", analysable).exog)
        == (smf.ols(f"advanced ~ {kinds} + {dummies}", analysable).exog.shape[1])
    )
    oracle = smf.ols(f"advanced ~ {kinds} + {dummies}", data=analysable).fit(
        cov_type="cluster", cov_kwds={"groups": pd.factorize(analysable.client_key)[0]}
    )
    for tactic in ("asked_about_concerns", "asked_how_compare"):
        got = row(table, tactic, "adjusted")
        assert got["estimate"] == pytest.approx(oracle.params[tactic], abs=1e-9)
        assert got["std_error"] == pytest.approx(oracle.bse[tactic], rel=1e-6)


def test_within_client_rows_equal_pyfixest_with_client_effects(table, analysable):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        oracle = pf.feols(
            "advanced ~ asked_about_concerns + asked_about_ideal_candidate + asked_how_compare"
            " + C(round_stratum) + C(stage) | client_key",
            data=analysable,
            vcov={"CRV1": "client_key"},
        )
    for tactic in ("asked_about_concerns", "asked_about_ideal_candidate", "asked_how_compare"):
        got = row(table, tactic, "within_client")
        assert got["estimate"] == pytest.approx(oracle.coef()[tactic], abs=1e-9)
        assert got["std_error"] == pytest.approx(oracle.se()[tactic], rel=1e-6)


def test_q_values_are_benjamini_hochberg_within_each_family(table):
    for family in table.get_column("family").unique():
        part = table.filter(pl.col("family") == family, pl.col("p_value").is_not_null())
        expected = multipletests(part.get_column("p_value").to_numpy(), method="fdr_bh")[1]
        np.testing.assert_allclose(part.get_column("q_value").to_numpy(), expected, rtol=1e-12)
    findings = table.filter(pl.col("is_finding"))
    assert (findings.get_column("q_value") < 0.05).all()
    assert findings.get_column("enough_data").all()


def test_withdrawn_pending_and_hindsight_rounds_are_left_out(fct):
    extra = fct.head(60).with_columns(
        pl.concat_str(pl.lit("x"), "interview_key").alias("interview_key"),
        pl.concat_str(pl.lit("x"), "interview_key").alias("application_key"),
        pl.Series("outcome", ["withdrawn", None, "offer"] * 20),
        pl.Series("is_debrief_after_outcome", [False, False, True] * 20),
    )
    advance = pl.col("estimand") == "advance"
    base, more = (
        tactic_estimates(frame.lazy()).collect().filter(advance)
        for frame in (fct, pl.concat([fct, extra]))
    )
    for column in ("n_treated", "n_control", "n_clients", "n_clients_treated"):
        assert base.get_column(column).equals(more.get_column(column))
    for column in ("estimate", "std_error"):
        np.testing.assert_allclose(base[column].to_numpy(), more[column].to_numpy(), rtol=1e-9)


def test_not_enough_data_gives_counts_but_no_figures():
    small = tactic_estimates(population(clients=12).lazy()).collect()
    assert not small.get_column("enough_data").any()
    figures = ("estimate", "std_error", "ci_low", "ci_high", "p_value", "q_value")
    assert small.select(pl.col(figures).null_count().sum()).row(0) == (small.height,) * 6
    assert small.get_column("n_treated").sum() > 0
    assert not small.get_column("is_finding").any()


def test_application_crude_row_compares_closed_applications_used_in_any_round(table, fct):
    apps = (
        rounds(fct.lazy())
        .collect()
        .group_by("application_key")
        .agg(
            pl.col("client_key").first(),
            (pl.col("outcome") == "offer").any().alias("offer"),
            (pl.col("round_status") == "not_advanced").any().alias("lost"),
            (pl.col("round_status") == "withdrawn").any().alias("withdrawn"),
            pl.col("asked_fit_question").any().alias("used"),
        )
        .filter((pl.col("offer") | pl.col("lost")) & ~pl.col("withdrawn"))
        .to_pandas()
    )
    got = row(table, "asked_fit_question", "crude", estimand="application_offer")
    rates = apps.groupby("used").offer.mean()
    assert got["estimate"] == pytest.approx(rates[True] - rates[False], abs=1e-12)
    assert (got["n_treated"], got["n_control"]) == (apps.used.sum(), (~apps.used).sum())


def _offer_chance_by_hand(by_round: list[dict], effect: float, used: bool) -> float:
    """Pass round 1, 2, ... in turn; each advance ends in an offer with that round's share."""
    reach, chance = 1.0, 0.0
    for r in by_round:
        shift = (r["rounds"] - r["treated"]) if used else -r["treated"]
        advance = min(max(r["advance_rate"] + effect * shift / r["rounds"], 0.0), 1.0)
        share = r["offers"] / r["advanced"] if r["advanced"] else 1.0
        chance += reach * advance * share
        reach *= advance * (1 - share)
    return chance


def test_application_rows_of_the_model_methods_compose_the_round_effect(table, fct):
    by_round = (
        rounds(fct.lazy())
        .collect()
        .filter(pl.col("advanced").is_not_null())
        .group_by("round_number")
        .agg(
            pl.len().alias("rounds"),
            pl.col("asked_about_concerns").sum().alias("treated"),
            pl.col("advanced").mean().alias("advance_rate"),
            pl.col("advanced").sum().alias("advanced"),
            (pl.col("outcome") == "offer").sum().alias("offers"),
        )
        .sort("round_number")
        .to_dicts()
    )
    for method in ("adjusted", "within_client"):
        per_round = row(table, "asked_about_concerns", method)
        app = row(table, "asked_about_concerns", method, estimand="application_offer")
        b, se = per_round["estimate"], per_round["std_error"]

        def diff(effect: float) -> float:
            return _offer_chance_by_hand(by_round, effect, True) - _offer_chance_by_hand(
                by_round, effect, False
            )

        assert app["estimate"] == pytest.approx(diff(b), abs=1e-12)
        slope = (diff(b + 1e-5) - diff(b - 1e-5)) / 2e-5
        assert app["std_error"] == pytest.approx(abs(slope) * se, rel=1e-4)


def test_hypothesis_tests_have_every_hypothesis_method_and_estimand(fct):
    tests = hypothesis_tests(fct.lazy()).collect()
    alls = tests.filter(pl.col("segment") == "all")
    assert sorted(alls.select("hypothesis", "method").rows()) == sorted(
        (h, m) for h in HYPOTHESES for m in METHODS
    )
    estimands = dict(alls.select("hypothesis", "estimand").unique().rows())
    assert estimands["warm_prospects"] == "referral"
    assert {estimands[h] for h in HYPOTHESES if h != "warm_prospects"} == {"advance"}
    assert (tests.get_column("n") == tests["n_treated"] + tests["n_control"]).all()


def test_ask_late_compares_askers_only(fct):
    tests = hypothesis_tests(fct.lazy()).collect()
    got = tests.filter(
        pl.col("hypothesis") == "ask_late", pl.col("method") == "crude", pl.col("segment") == "all"
    ).row(0, named=True)
    askers = (
        rounds(fct.lazy())
        .collect()
        .filter(pl.col("advanced").is_not_null(), pl.col("asked_fit_question"))
    )
    late = askers.get_column("asked_at_pct").is_between(65, 85)
    assert (got["n_treated"], got["n_control"]) == (late.sum(), (~late).sum())
    rate = askers.get_column("advanced").cast(pl.Float64)
    assert got["estimate"] == pytest.approx(rate.filter(late).mean() - rate.filter(~late).mean())


def test_no_interviews_give_the_all_rows_without_estimates(fct):
    empty = fct.head(0).lazy()
    for table in (tactic_estimates(empty).collect(), hypothesis_tests(empty).collect()):
        assert table.height > 0 and not table.get_column("enough_data").any()
        assert table.get_column("estimate").null_count() == table.height
        assert set(table.get_column("segment_kind")) == {"all", "stage", "seniority"}


def test_the_fits_run_with_blas_on_one_thread(fct, monkeypatch):
    from threadpoolctl import threadpool_info

    from pipelines.insights import effects

    def blas_threads() -> set[int]:
        return {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}

    seen: list[set[int]] = []
    normals, before = effects._normals, blas_threads()

    def spy(data, method, s):
        if method == "within_client":
            seen.append(blas_threads())
        return normals(data, method, s)

    monkeypatch.setattr(effects, "_normals", spy)
    tactic_estimates(fct.lazy()).collect()
    hypothesis_tests(fct.lazy()).collect()
    alone = len(seen)
    effects.estimate_tables(fct)  # the build's path: both tables at once, on two threads
    # Together, the contrast both tables hold is fitted once: one within fit per segment less.
    shared = len(effects.prepare(fct.lazy()).segments)
    assert alone > 10 and len(seen) == 2 * alone - shared
    assert all(threads == {1} for threads in seen)
    assert blas_threads() == before  # the limit is lifted when both are done


def _spy_on_models(monkeypatch) -> list[tuple[tuple, str]]:
    """(model key, thread name) of every part's first pass of a model."""
    from pipelines.insights import effects

    calls: list[tuple[tuple, str]] = []
    original = effects._ModelSums.add_normals

    def spy(self, data):
        calls.append((effects._model_key(self.contrast), threading.current_thread().name))
        return original(self, data)

    monkeypatch.setattr(effects._ModelSums, "add_normals", spy)
    return calls


def test_a_hypothesis_that_restates_a_tactic_shares_its_fits(fct, monkeypatch):
    from pipelines.insights import effects

    calls = _spy_on_models(monkeypatch)
    tables = effects.estimate_tables(fct)
    fitted = [key for key, _ in calls]
    contrasts = (*effects.TACTIC_CONTRASTS, *effects.HYPOTHESIS_CONTRASTS)
    assert len(fitted) == len(set(fitted)) == len(contrasts) - 1  # each model once
    figures = ["method", "segment", "estimate", "std_error", "ci_low", "ci_high", "p_value"]
    figures += list(effects.COUNT_COLUMNS)
    tactic = tables["tactic_estimates"].filter(
        pl.col("tactic") == "addressed_concerns", pl.col("estimand") == "advance"
    )
    hypothesis = tables["hypothesis_tests"].filter(pl.col("hypothesis") == "address_objections")
    assert tactic.height == hypothesis.height > 0
    assert tactic.select(figures).equals(hypothesis.select(figures))
    # and the same as the hypothesis table computed on its own
    alone = hypothesis_tests(fct.lazy()).collect()
    assert tables["hypothesis_tests"].equals(alone)


def test_a_shared_result_is_computed_once_for_both_threads_and_errors_reach_both(fct):
    from concurrent.futures import ThreadPoolExecutor

    from pipelines.insights import effects

    data = effects.prepare(fct.lazy(), ("all",))
    calls: list[int] = []
    started = threading.Event()

    def slow() -> list:
        calls.append(1)
        started.set()
        return [object()]

    def failing() -> list:
        calls.append(1)
        raise ValueError("no fit")

    with ThreadPoolExecutor(max_workers=2) as pool:
        first = pool.submit(data.once, ("k",), slow)
        started.wait(5)  # the key is taken: a second caller gets the first one's result
        second = pool.submit(data.once, ("k",), slow)
        assert first.result() is second.result() and len(calls) == 1
        errors = [pool.submit(data.once, ("bad",), failing) for _ in range(2)]
        for future in errors:
            with pytest.raises(ValueError, match="no fit"):
                future.result()
    assert len(calls) == 2


def test_rounds_all_in_one_stage_are_fitted_without_a_gram_waiting_on_itself(fct):
    """The all-rows Gram is summed from the stages' only when two or more hold rows: with one,
    that stage's rows are all the rows, the same Gram, and it must not wait for itself."""
    from pipelines.insights import effects

    stage = spec.STAGES[1]
    one_stage = fct.with_columns(pl.lit(stage).alias("stage"))
    done: dict[str, pl.DataFrame] = {}
    worker = threading.Thread(
        target=lambda: done.update(effects.estimate_tables(one_stage)), daemon=True
    )
    worker.start()
    worker.join(timeout=120)
    assert not worker.is_alive(), "the estimates waited on themselves"
    figures = ["tactic", "method", "estimate", "std_error", "p_value", "n_treated"]
    table = done["tactic_estimates"].filter(pl.col("estimand") == "advance")
    everyone = table.filter(pl.col("segment") == "all").select(figures)
    in_stage = table.filter(pl.col("segment") == f"stage={stage}").select(figures)
    assert everyone.height > 0 and everyone["estimate"].is_not_null().all()
    assert everyone.equals(in_stage)


def test_the_build_computes_both_tables_side_by_side_with_the_same_figures(fct, monkeypatch):
    from pipelines.insights import effects

    calls = _spy_on_models(monkeypatch)
    tables = effects.estimate_tables(fct)
    tactic_keys = {effects._model_key(c) for c in effects.TACTIC_CONTRASTS}
    threads = {side: {n for key, n in calls if (key in tactic_keys) == side} for side in (1, 0)}
    assert len(threads[1]) == len(threads[0]) == 1 and threads[1] != threads[0]
    assert tables["tactic_estimates"].equals(tactic_estimates(fct.lazy()).collect())
    assert tables["hypothesis_tests"].equals(hypothesis_tests(fct.lazy()).collect())
