"""Warm prospects: referrals among interviews that did not end in an offer, by tactic."""

import polars as pl
import streamlit as st

from dashboards import data, findings, ui

ctx = ui.context()
st.title("Warm prospects")
st.caption(
    "Among decided interviews without an offer: how often the interviewer referred the client "
    "to another opportunity, with and without each tactic (crude rates, 95% intervals)."
)
ui.summary_caption(ctx)

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
st.dataframe(warm.drop("label"), hide_index=True)
