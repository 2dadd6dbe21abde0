"""Calibration: simulated records through the real projections, and the CI-sized study."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner

from pipelines.app.cli import main
from pipelines.insights.calibrate import fct_from_records
from pipelines.insights.effects import hypothesis_tests, tactic_estimates
from pipelines.synthetic.generate import simulate


@pytest.fixture(scope="module")
def simulated():
    sim = simulate(8000, 21, 4, with_notes=False)
    fct = fct_from_records(sim.debriefs, sim.outcomes, sim.erasures).collect()
    return sim.truth, fct


def test_projected_records_give_the_generators_own_crude_counts(simulated):
    """The generator counts analysable rounds and crude rates by its own code, from the truth it
    drew; the projections and round rules must land on the same numbers from the records."""
    truth, fct = simulated
    lazy = fct.lazy()
    crude = (
        pl.concat(
            [
                tactic_estimates(lazy, ("all",)).collect().rename({"tactic": "contrast"}),
                hypothesis_tests(lazy, ("all",))
                .collect()
                .drop("n")
                .rename({"hypothesis": "contrast"}),
            ]
        )
        .filter(pl.col("method") == "crude", pl.col("estimand") != "application_offer")
        .select("contrast", "estimate", "n_treated", "n_control")
    )
    expected = truth["crude"]["tactics"] | truth["crude"]["hypotheses"]
    assert set(crude.get_column("contrast")) == set(expected)
    for contrast, estimate, n_treated, n_control in crude.iter_rows():
        want = expected[contrast]
        assert (n_treated, n_control) == (want["n_treated"], want["n_control"]), contrast
        assert estimate == pytest.approx(want["rd"], abs=1e-6), contrast


def test_the_calibration_command_reports_per_method_and_its_estimators_hold(tmp_path):
    out = tmp_path / "calibration.json"
    result = CliRunner().invoke(
        main,
        [
            *("calibrate", "--replicates", "6", "--interviews", "4000", "--workers", "1"),
            *("--json", str(out)),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "| tactic_estimates | asked_about_concerns | advance | within_client |" in result.output
    summary = pl.DataFrame(json.loads(out.read_text())["summary"])
    assert summary.height == (5 * 2 + 5) * 3
    rows = {(r["contrast"], r["estimand"], r["method"]): r for r in summary.iter_rows(named=True)}
    for (contrast, estimand, method), r in rows.items():
        if method != "within_client" or estimand == "application_offer" or r["truth"] is None:
            continue
        if contrast == "asked_fit_question":
            continue  # derived from the kinds, not a planted parameter
        # Six unbiased estimates average within a few standard errors of the truth.
        margin = 4 * r["mean_std_error"] / np.sqrt(r["estimated"])
        assert abs(r["mean_estimate"] - r["truth"]) < margin, contrast
    null = rows[("asked_how_compare", "advance", "within_client")]
    assert null["is_null"] and null["finding_rate"] <= 2 / 6
    assert rows[("asked_how_compare", "advance", "crude")]["finding_rate"] >= 4 / 6
