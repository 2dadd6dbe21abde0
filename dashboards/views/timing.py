"""Timing & rapport: does asking late, or after building rapport, go with getting past the
round? The two hypotheses' cards, then the pass-through by timing and by rapport (crude)."""

import polars as pl
import streamlit as st

from dashboards import data, findings, report, ui
from pipelines.insights.marts import NOT_ASKED, TIMING_BINS

ctx = ui.context()
st.title("Timing & rapport")
st.caption(
    "When in the interview the fit question was asked, and how much rapport there was before "
    "asking. The cards hold the tested answers; the charts below describe the rounds as they "
    "are (crude: nothing held fixed)."
)
ui.summary_caption(ctx)

tests = ui.estimates(ctx, "hypothesis_tests", "timing_raw")
for hypothesis in ("ask_late", "rapport_first"):
    ui.hypothesis_card(findings.card(tests, hypothesis))

LAYOUT = [
    report.number("Rounds decided", "rounds"),
    report.number("Got past", "advanced"),
    report.rate("Pass-through", "advance_rate"),
    report.rate_interval("advance_rate"),
    report.number("Clients", "clients"),
]


def pass_through(frame: pl.DataFrame, label: str, title: str, download: str) -> None:
    """The crude pass-through by ``label`` (in the frame's order): chart, then table."""
    if frame.filter(pl.col("enough_data")).is_empty():
        ui.not_enough_data()
    else:
        chart = ui.rate_chart(
            frame,
            label,
            title,
            rate="advance_rate",
            rate_title="Got past the round",
            n="rounds",
            sort=frame.get_column(label).to_list(),
        )
        ui.chart(chart, frame.drop(label), download)
    ui.table(frame, [report.text(title, label), *LAYOUT])


st.subheader("When the question was asked (crude)")
order = {NOT_ASKED: -1} | {label: i for i, (_, _, label) in enumerate(TIMING_BINS)}
timing = (
    data.mart(ctx.snap, "advance_by_timing", ctx.filters)
    .with_columns(
        pl.when(pl.col("timing_bin") == NOT_ASKED)
        .then(pl.col("timing_bin"))
        .otherwise(pl.col("timing_bin") + "% in")
        .alias("asked"),
        pl.col("timing_bin").replace_strict(order, default=len(order)).alias("_order"),
    )
    .sort("_order")
    .drop("_order")
)
pass_through(timing, "asked", "Asked", "pass_through_by_timing")

st.subheader("Rapport before asking (crude)")
rapport = (
    data.mart(ctx.snap, "advance_by_rapport", ctx.filters)
    .sort("rapport_before_ask")
    .with_columns(
        pl.when(pl.col("rapport_before_ask") == 0)
        .then(pl.lit(NOT_ASKED))
        .otherwise(pl.col("rapport_before_ask").cast(pl.String) + " of 5")
        .alias("rapport")
    )
)
pass_through(rapport, "rapport", "Rapport before asking", "pass_through_by_rapport")
