"""Funnel & trends: how interviews end, stage by stage, and month by month."""

import altair as alt
import polars as pl
import streamlit as st

from dashboards import data, ui
from pipelines.spec import STAGES

ctx = ui.context()
st.title("Funnel & trends")
ui.summary_caption(ctx)

st.subheader("Stage by stage")
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
    ui.chart(stacked, counts, "funnel_outcomes")
    if funnel.filter(pl.col("enough_data")).is_empty():
        ui.not_enough_data("Not enough data for rates: no stage has 30 decided interviews.")
    else:
        ui.chart(
            ui.rate_chart(
                funnel,
                "stage",
                "Stage",
                rate="advance_rate",
                rate_title="Advanced (offer or next round)",
                n="decided",
                sort=stages,
            ),
            funnel,
            "funnel_by_stage",
        )
    st.dataframe(funnel.drop("stage_order"), hide_index=True)

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
                ("offer_rate", "offer rate (decided)", "decided"),
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
            alt.Tooltip("ci_low:Q", title="95% CI from", format=".1%"),
            alt.Tooltip("ci_high:Q", title="95% CI to", format=".1%"),
            alt.Tooltip("n:Q", format=","),
        ],
    )
    band = base.mark_area(opacity=0.25).encode(
        y=alt.Y("ci_low:Q", title="Rate (95% CI)", axis=alt.Axis(format="%")), y2="ci_high:Q"
    )
    line = base.mark_line(point=True).encode(y="value:Q")
    ui.chart(alt.layer(band, line), trends, "trends_by_month")
st.dataframe(trends, hide_index=True)
