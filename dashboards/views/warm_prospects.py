"""Warm prospects: referrals among rounds that did not get past, and whether asking about
concerns goes with more of them; the tested answer first."""

import polars as pl
import streamlit as st

from dashboards import data, findings, report, ui

ctx = ui.context()
st.title("Warm prospects")
st.caption(
    "A round that did not get past can still end in a referral to another opening. The card "
    "holds the tested answer (asking about concerns, among rounds that did not advance); the "
    "chart describes decided interviews without an offer, with and without each tactic "
    "(crude rates, 95% intervals)."
)
ui.summary_caption(ctx)

tests = ui.estimates(ctx, "hypothesis_tests", "warm_raw")
ui.hypothesis_card(findings.card(tests, "warm_prospects"))

st.subheader("Referral rate with and without each tactic (crude)")
warm = data.mart(ctx.snap, "warm_prospects", ctx.filters).with_columns(
    pl.col("tactic").replace_strict(findings.TACTIC_LABELS, default=pl.col("tactic")).alias("label")
)
long = pl.concat(
    [
        warm.select(
            "label",
            pl.lit(arm).alias("arm"),
            pl.col(f"n_{arm}").alias("n"),
            pl.col(f"referrals_{arm}").alias("referrals"),
            pl.col(f"referral_rate_{arm}").alias("referral_rate"),
            pl.col(f"referral_rate_{arm}_ci_low").alias("referral_rate_ci_low"),
            pl.col(f"referral_rate_{arm}_ci_high").alias("referral_rate_ci_high"),
        )
        for arm in ("with", "without")
    ]
)
if not warm.get_column("enough_data").any():
    ui.not_enough_data(
        f"Not enough data: no tactic has {findings.MIN_PER_ARM} non-offers in each arm under "
        "these filters."
    )
else:
    chart = ui.rate_chart(
        long.filter(pl.col("label").is_in(warm.filter("enough_data")["label"].to_list())),
        "label",
        "Tactic",
        rate="referral_rate",
        rate_title="Referral rate",
        color="arm",
        color_title="Tactic used",
        sort=list(findings.TACTIC_LABELS.values()),
    )
    ui.chart(chart, warm.drop("label"), "warm_prospects")
ui.table(
    warm,
    [
        report.text("Tactic", "label"),
        report.number("Non-offers with", "n_with"),
        report.number("Non-offers without", "n_without"),
        report.rate("Referred, with", "referral_rate_with"),
        report.rate_interval("referral_rate_with", "With, 95% interval"),
        report.rate("Referred, without", "referral_rate_without"),
        report.rate_interval("referral_rate_without", "Without, 95% interval"),
        report.points("Difference", "diff"),
        report.points_interval("diff_ci_low", "diff_ci_high"),
    ],
)
