"""Timing & rapport: offer rate by when the fit question was asked and by rapport before it."""

import polars as pl
import streamlit as st

from dashboards import data, ui
from pipelines.marts import NOT_ASKED, TIMING_BINS

ctx = ui.context()
st.title("Timing & rapport")
st.caption(
    "Offer rate (decided interviews) by how far into the interview the fit question was asked, "
    "and by how much rapport there was before asking, next to not asking at all."
)
ui.summary_caption(ctx)

st.subheader("When the question was asked")
timing = data.mart(ctx.snap, "offer_rate_by_timing", ctx.filters).with_columns(
    pl.when(pl.col("timing_bin") == NOT_ASKED)
    .then(pl.col("timing_bin"))
    .otherwise(pl.col("timing_bin") + "% in")
    .alias("timing_bin")
)
if timing.filter(pl.col("enough_data")).is_empty():
    ui.not_enough_data()
else:
    order = [NOT_ASKED, *(f"{label}% in" for _, _, label in TIMING_BINS)]
    ui.chart(
        ui.rate_chart(timing, "timing_bin", "Asked", sort=order),
        timing,
        "offer_rate_by_timing",
    )
st.dataframe(timing.drop("bin_order"), hide_index=True)

st.subheader("Rapport before asking")
rapport = data.mart(ctx.snap, "offer_rate_by_rapport", ctx.filters).with_columns(
    pl.when(pl.col("rapport_before_ask") == 0)
    .then(pl.lit(NOT_ASKED))
    .otherwise(pl.col("rapport_before_ask").cast(pl.String) + " of 5")
    .alias("rapport")
)
if rapport.filter(pl.col("enough_data")).is_empty():
    ui.not_enough_data()
else:
    order = [NOT_ASKED, *(f"{i} of 5" for i in range(1, 6))]
    ui.chart(
        ui.rate_chart(rapport, "rapport", "Rapport before asking", sort=order),
        rapport,
        "offer_rate_by_rapport",
    )
st.dataframe(rapport, hide_index=True)
