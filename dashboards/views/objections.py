"""Objections: the concerns interviewers raise, whether the client addressed them, and what
happened next; the tested answer first."""

import altair as alt
import polars as pl
import streamlit as st

from dashboards import data, findings, report, ui

ctx = ui.context()
st.title("Objections")
st.caption(
    "Decided interviews in which the interviewer voiced a concern, one row per concern: was it "
    "addressed in the room, and did the client still advance (offer or next round)? The card "
    "holds the tested answer; the charts describe the rounds as they are (crude)."
)
ui.summary_caption(ctx)

tests = ui.estimates(ctx, "hypothesis_tests", "objections_raw")
ui.hypothesis_card(findings.card(tests, "address_objections"))

ADDRESSED = {True: "addressed", False: "not addressed"}
obj = data.mart(ctx.snap, "objections", ctx.filters).with_columns(
    pl.col("concerns_addressed")
    .replace_strict(ADDRESSED, default="unknown", return_dtype=pl.String)
    .alias("addressed"),
    (pl.col("n") - pl.col("offers") - pl.col("next_rounds") - pl.col("rejections")).alias(
        "other_outcomes"
    ),
)
if obj.is_empty():
    ui.not_enough_data("Not enough data: no decided interview with a concern matches the filters.")
else:
    st.subheader("Still in the game? Advance rate by concern (crude)")
    if obj.filter(pl.col("enough_data")).is_empty():
        ui.not_enough_data()
    else:
        ui.chart(
            ui.rate_chart(
                obj,
                "concern",
                "Concern raised",
                rate="advance_rate",
                rate_title="Advanced (offer or next round)",
                color="addressed",
                color_title="Concern",
            ),
            obj.drop("addressed", "other_outcomes"),
            "objections",
        )

    st.subheader("What happened next")
    # Shares of a handful of interviews are noise: only groups with enough data are drawn.
    enough = obj.filter(pl.col("enough_data"))
    outcomes = {
        "offers": "offer",
        "next_rounds": "next round",
        "rejections": "rejected",
        "other_outcomes": "withdrawn / no response",
    }
    nxt = (
        enough.select("concern", "addressed", *outcomes)
        .unpivot(index=["concern", "addressed"], variable_name="outcome", value_name="interviews")
        .with_columns(pl.col("outcome").replace_strict(outcomes))
    )
    bars = (
        alt.Chart(nxt)
        .mark_bar()
        .encode(
            y=alt.Y("concern:N", title="Concern raised"),
            x=alt.X("interviews:Q", stack="normalize", title="Share of interviews"),
            color=alt.Color(
                "outcome:N",
                scale=ui.palette(list(outcomes.values())),
                sort=list(outcomes.values()),
                title="What happened next",
                legend=alt.Legend(orient="bottom"),
            ),
            order=alt.Order("outcome_order:Q"),
            tooltip=["concern:N", "addressed:N", "outcome:N", alt.Tooltip("interviews:Q")],
        )
        .properties(width=300)
        .transform_calculate(outcome_order=f"indexof({list(outcomes.values())}, datum.outcome)")
        .facet(column=alt.Column("addressed:N", title=None))
    )
    if enough.is_empty():
        ui.not_enough_data()
    else:
        ui.chart(bars, nxt, "objections_what_next")
ui.table(
    obj,
    [
        report.text("Concern", "concern"),
        report.text("Addressed in the room", "addressed"),
        report.number("Interviews", "n"),
        report.number("Offers", "offers"),
        report.number("Next rounds", "next_rounds"),
        report.number("Rejected", "rejections"),
        report.rate("Advanced", "advance_rate"),
        report.rate_interval("advance_rate", "Advanced, 95% interval"),
        report.rate("Offers", "offer_rate"),
        report.rate_interval("offer_rate", "Offers, 95% interval"),
    ],
)
