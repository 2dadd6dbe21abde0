"""Applications funnel: how many get past each round, how many applications end in an offer,
how interviews ended stage by stage, and month by month."""

import altair as alt
import polars as pl
import streamlit as st

from dashboards import data, findings, report, ui
from pipelines.core.spec import SENIORITIES, STAGES

ctx = ui.context()
st.title("Applications funnel")
st.caption(
    "An application is one client applying for one opening, round after round. Pass-through is "
    "the share of rounds the employer let the client past (offer or next round), among rounds "
    "the employer decided; withdrawn and pending rounds are counted, not rated. Intervals are "
    "95% Wilson intervals widened for clients who have many rounds. These are descriptive "
    "rates: they compare nothing."
)
ui.summary_caption(ctx)

st.subheader("Round by round: pass-through")
rounds = data.mart(ctx.snap, "pass_through", ctx.filters)
if rounds.filter(pl.col("enough_data")).is_empty():
    ui.not_enough_data(
        f"Not enough data: no round number has {findings.MIN_PER_ARM} decided rounds under "
        "these filters."
    )
else:
    ui.chart(
        ui.rate_chart(
            rounds,
            "round",
            "Round of the application",
            rate="pass_through",
            rate_title="Got past the round",
            n="decided",
            sort=rounds.get_column("round").to_list(),
        ),
        rounds,
        "pass_through_by_round",
    )
st.caption(
    "Interviews sent without an application reference are applications of their own (round "
    "1). Where a firm reports only an application's final result, a round followed by a later "
    "one evidently advanced and counts so (advances inferred)."
)
ui.table(
    rounds,
    [
        report.text("Round", "round"),
        report.number("Rounds", "rounds"),
        report.number("Decided by the employer", "decided"),
        report.number("Got past", "advanced"),
        report.rate("Pass-through", "pass_through"),
        report.rate_interval("pass_through"),
        report.number("Withdrawn", "withdrawn"),
        report.number("Pending", "pending"),
        report.number("Debriefed only after the outcome", "debriefed_after_outcome"),
        report.number("Advances inferred", "advances_inferred"),
        report.number("Clients", "clients"),
    ],
)

st.subheader("Offers per application")
overall = data.mart(ctx.snap, "offer_rate_per_application", ctx.filters)
by_seniority = data.mart(ctx.snap, "offer_rate_per_application_by_seniority", ctx.filters)
if overall.is_empty() or not overall.row(0, named=True)["enough_data"]:
    ui.not_enough_data(
        f"Not enough data: fewer than {findings.MIN_PER_ARM} closed applications match the filters."
    )
else:
    row = overall.row(0, named=True)
    c = st.columns(3)
    c[0].metric(
        "Applications that ended in an offer",
        findings.pct(row["offer_rate"]),
        help="Of the closed applications: ended in an offer or in a round that did not "
        "advance, and not withdrawn.",
    )
    c[1].metric(
        "95% interval",
        findings.interval(row["offer_rate_ci_low"], row["offer_rate_ci_high"], findings.pct),
    )
    c[2].metric("Closed applications", f"{row['closed']:,}")
    st.caption(
        f"{row['offers']:,} offers out of {row['closed']:,} closed applications of "
        f"{row['clients']:,} clients; {row['open']:,} still open and {row['withdrawn']:,} "
        "withdrawn by the client are not counted in the rate."
    )
    order = [s for s in SENIORITIES if s in set(by_seniority["seniority"])]
    ui.chart(
        ui.rate_chart(
            by_seniority,
            "seniority",
            "Seniority of the role",
            rate="offer_rate",
            rate_title="Applications ending in an offer",
            n="closed",
            sort=order,
        ),
        pl.concat([overall.rename({"applications_of": "seniority"}), by_seniority]),
        "offer_rate_per_application",
    )
ui.table(
    by_seniority.sort(
        pl.col("seniority").replace_strict(
            {s: i for i, s in enumerate(SENIORITIES)}, default=len(SENIORITIES)
        )
    ),
    [
        report.text("Seniority", "seniority"),
        report.number("Applications", "applications"),
        report.number("Closed", "closed"),
        report.number("Offers", "offers"),
        report.rate("Offer rate", "offer_rate"),
        report.rate_interval("offer_rate"),
        report.number("Withdrawn", "withdrawn"),
        report.number("Open", "open"),
        report.number("Clients", "clients"),
    ],
)

st.subheader("Stage by stage: how interviews ended")
funnel = data.mart(ctx.snap, "funnel_by_stage", ctx.filters)
if funnel.is_empty():
    ui.not_enough_data("Not enough data: no interview matches the filters.")
else:
    outcomes = {
        "offers": "offer",
        "next_rounds": "next round",
        "rejections": "rejected",
        "withdrawals": "withdrawn",
        "no_responses": "no response",
        "pending": "pending",
    }
    stages = [*STAGES, *sorted(set(funnel.get_column("stage").drop_nulls()) - set(STAGES))]
    counts = (
        funnel.select("stage", *outcomes)
        .unpivot(index="stage", variable_name="outcome", value_name="interviews")
        .with_columns(pl.col("outcome").replace_strict(outcomes))
    )
    stacked = (
        alt.Chart(counts)
        .mark_bar()
        .encode(
            x=alt.X("stage:N", sort=stages, title="Stage", axis=alt.Axis(labelAngle=0)),
            y=alt.Y("interviews:Q", title="Interviews"),
            color=alt.Color(
                "outcome:N",
                scale=ui.palette(list(outcomes.values())),
                sort=list(outcomes.values()),
                title="Outcome",
            ),
            order=alt.Order("outcome_order:Q"),
            tooltip=["stage:N", "outcome:N", alt.Tooltip("interviews:Q", format=",")],
        )
        .transform_calculate(outcome_order=f"indexof({list(outcomes.values())}, datum.outcome)")
    )
    ui.chart(stacked, funnel.drop("stage_order"), "funnel_by_stage")
    ui.table(
        funnel,
        [
            report.text("Stage", "stage"),
            report.number("Interviews", "interviews"),
            report.number("Decided", "decided"),
            report.number("Offers", "offers"),
            report.number("Next rounds", "next_rounds"),
            report.number("Rejected", "rejections"),
            report.number("Withdrawn", "withdrawals"),
            report.number("No response", "no_responses"),
            report.number("Pending", "pending"),
            report.rate("Advanced (of decided)", "advance_rate"),
            report.rate_interval("advance_rate"),
        ],
    )

st.subheader("Month by month")
trends = data.mart(ctx.snap, "trends_by_month", ctx.filters)
if trends.filter(pl.col("enough_data")).is_empty():
    ui.not_enough_data("Not enough data: no month has 30 decided interviews under these filters.")
else:
    rates = pl.concat(
        [
            trends.select(
                "month",
                pl.lit(label).alias("rate"),
                pl.col(name).alias("value"),
                pl.col(f"{name}_ci_low").alias("ci_low"),
                pl.col(f"{name}_ci_high").alias("ci_high"),
                pl.col(n).alias("n"),
            )
            for name, label, n in (
                ("offer_rate", "offers per decided interview", "decided"),
                ("ask_rate", "asked a fit question", "interviews"),
            )
        ]
    ).filter(pl.col("value").is_not_null())
    base = alt.Chart(rates).encode(
        x=alt.X("month:T", title="Month of interview"),
        color=alt.Color("rate:N", scale=ui.palette(sorted(set(rates["rate"]))), title=None),
        tooltip=[
            alt.Tooltip("month:T", format="%Y-%m"),
            "rate:N",
            alt.Tooltip("value:Q", format=".1%"),
            alt.Tooltip("ci_low:Q", title="95% interval from", format=".1%"),
            alt.Tooltip("ci_high:Q", title="95% interval to", format=".1%"),
            alt.Tooltip("n:Q", format=","),
        ],
    )
    band = base.mark_area(opacity=0.25).encode(
        y=alt.Y("ci_low:Q", title="Share (95% interval)", axis=alt.Axis(format="%")),
        y2="ci_high:Q",
    )
    line = base.mark_line(point=True).encode(y="value:Q")
    ui.chart(alt.layer(band, line), trends, "trends_by_month")
st.caption(
    "The latest months have many interviews still waiting for an outcome: their offer share "
    "can still move."
)
ui.table(
    trends,
    [
        report.date_text("Month", "month", "%Y-%m"),
        report.number("Interviews", "interviews"),
        report.number("Asked a fit question", "asked"),
        report.rate("Asked", "ask_rate"),
        report.rate_interval("ask_rate", "Asked, 95% interval"),
        report.number("Decided", "decided"),
        report.number("Offers", "offers"),
        report.rate("Offers per decided interview", "offer_rate"),
        report.rate_interval("offer_rate", "Offers, 95% interval"),
    ],
)
