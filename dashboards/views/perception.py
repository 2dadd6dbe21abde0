"""Perception gap: how the client felt it went vs what actually happened."""

import polars as pl
import streamlit as st

from dashboards import data, ui

ctx = ui.context()
st.title("Perception gap")
st.caption(
    "Offer rate (decided interviews) by the client's own rating of how the interview went, "
    "1 (badly) to 5 (very well). A flat line means the feeling predicts nothing."
)
ui.summary_caption(ctx)

gap = data.mart(ctx.snap, "perception_gap", ctx.filters).with_columns(
    pl.col("self_rating").cast(pl.String).fill_null("not given").alias("rating")
)
if gap.filter(pl.col("enough_data")).is_empty():
    ui.not_enough_data()
else:
    order = [*(str(i) for i in range(1, 6)), "not given"]
    ui.chart(
        ui.rate_chart(gap, "rating", "Client's own rating (1-5)", sort=order),
        gap,
        "perception_gap",
    )
st.dataframe(gap.drop("rating"), hide_index=True)
