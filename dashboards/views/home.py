"""Seal the deal: tactics ranked by their adjusted effect on the offer rate."""

import altair as alt
import polars as pl
import streamlit as st

from dashboards import data, findings, ui
from pipelines.effects import ESTIMATE_COLUMNS

ctx = ui.context()
st.title("Seal the deal")
st.caption(
    "Which questions go with more offers. Crude: offer rate with the tactic minus without. "
    "Adjusted: the same difference within interviews of the same stage, seniority, industry and "
    "experience (Mantel-Haenszel), the one that is tested. Only decided interviews count."
)

effects = data.mart(ctx.snap, "tactic_effects", ctx.filters)
table = findings.ranked(effects)
ui.summary_caption(ctx)

shown = table.filter(pl.col("status") != findings.NOT_ENOUGH)
if shown.is_empty():
    ui.not_enough_data(
        f"Not enough data: no tactic has {findings.MIN_PER_ARM} or more decided interviews "
        "in each arm under these filters. Widen the filters."
    )
else:
    order = shown.get_column("label").to_list()
    long = pl.concat(
        [
            shown.select(
                "rank",
                "label",
                "status",
                pl.lit(estimate).alias("estimate"),
                (pl.col(mid) * 100).alias("effect_pts"),
                (pl.col(low) * 100).alias("ci_low_pts"),
                (pl.col(high) * 100).alias("ci_high_pts"),
                "n_with",
                "n_without",
            )
            for estimate, mid, low, high in (
                ("crude", "diff", "diff_ci_low", "diff_ci_high"),
                ("adjusted", "adj_diff", "adj_ci_low", "adj_ci_high"),
            )
        ]
    ).filter(pl.col("effect_pts").is_not_null())
    y = alt.Y("label:N", sort=order, title=None, axis=alt.Axis(labelLimit=320))
    base = alt.Chart(long).encode(
        y=y,
        yOffset=alt.YOffset("estimate:N", sort=["crude", "adjusted"]),
        color=alt.Color(
            "estimate:N",
            scale=ui.palette(["crude", "adjusted"]),
            title="Estimate",
            legend=alt.Legend(orient="bottom"),
        ),
        tooltip=[
            alt.Tooltip("label:N", title="Tactic"),
            alt.Tooltip("estimate:N", title="Estimate"),
            alt.Tooltip("effect_pts:Q", title="Difference (pts)", format="+.1f"),
            alt.Tooltip("ci_low_pts:Q", title="95% CI from", format="+.1f"),
            alt.Tooltip("ci_high_pts:Q", title="95% CI to", format="+.1f"),
            alt.Tooltip("n_with:Q", title="n with", format=","),
            alt.Tooltip("n_without:Q", title="n without", format=","),
            alt.Tooltip("status:N", title="Status"),
        ],
    )
    bars = base.mark_rule(strokeWidth=3).encode(
        x=alt.X("ci_low_pts:Q", title="Difference in offer rate, percentage points (95% CI)"),
        x2="ci_high_pts:Q",
    )
    # Findings are filled; "could be chance" is hollow, so the chart never shows it as one.
    points = base.mark_point(size=110, strokeWidth=2).encode(
        x="effect_pts:Q",
        fill=alt.condition(
            alt.datum.status == findings.FINDING, alt.Color("estimate:N"), alt.value("white")
        ),
        shape=alt.condition(
            alt.datum.status == findings.FINDING, alt.value("circle"), alt.value("diamond")
        ),
    )
    zero = alt.Chart(pl.DataFrame({"x": [0.0]})).mark_rule(color="#666", strokeDash=[4, 4])
    chart = alt.layer(zero.encode(x="x:Q"), bars, points).properties(
        height=alt.Step(26), title="Tactics ranked by adjusted effect (findings first)"
    )
    st.altair_chart(chart, width="stretch")
    st.caption(
        "● Filled circle: a finding (its adjusted difference survives the Benjamini-Hochberg "
        "correction). ◇ Hollow diamond: not a finding, could be chance. Lines: 95% intervals. "
        "Tactics with too little data are listed below, not drawn."
    )

st.subheader("In plain words")
for row in table.iter_rows(named=True):
    text = f"**{row['rank']}.** {row['sentence']}"
    if row["status"] == findings.FINDING:
        st.markdown(text)
    else:
        st.markdown(f":gray[{text}]")

st.subheader("The numbers")
columns = [
    "rank",
    "tactic",
    "status",
    "n_with",
    "n_without",
    "offers_with",
    "offers_without",
    # The table's estimates, without the risk ratio (the page reads differences).
    *(c for c in ESTIMATE_COLUMNS if not c.startswith("ratio")),
    "sentence",
]
numbers = table.select(columns)
st.dataframe(numbers.drop("sentence"), hide_index=True)
ui.download(numbers, "tactic_effects")

if ctx.snap.firm:
    st.subheader("Benchmark: all firms")
    k = ctx.snap.suppression_k
    st.caption(
        "Every firm's clients together, from the published aggregate (not filtered, not "
        f"row-level). Rows resting on fewer than {k} clients are suppressed."
    )
    bench = findings.benchmark(ctx.snap.benchmark, k)
    if bench.is_empty():
        ui.not_enough_data("No cross-firm benchmark in this snapshot.")
    else:
        st.dataframe(bench, hide_index=True)
        ui.download(bench, "benchmark_all_firms")
