"""Perception gap: does the client's own feeling about a round predict getting past it, once
what else differs is held fixed? A calibration view of the self_rating_predicts test."""

import polars as pl
import streamlit as st

from dashboards import data, findings, report, ui

ctx = ui.context()
st.title("Perception gap")
st.caption(
    "Rounds the client rated 4 or 5 (it went well) against rounds they rated 1 to 3. Stronger "
    "candidates both feel better and advance more, so a raw line by rating mostly shows who "
    "the client is; what matters is whether the feeling still predicts anything with that "
    "held fixed: among rounds alike in everything recorded, and within the same client."
)
ui.summary_caption(ctx)

tests = ui.estimates(ctx, "hypothesis_tests", "perception_raw")
card = findings.card(tests, "self_rating_predicts")
ui.hypothesis_card(card)

st.subheader("After adjustment: does the feeling predict the outcome?")
rows = tests.filter(pl.col("hypothesis") == "self_rating_predicts")
methods = ("adjusted", "within_client")
if rows.filter(pl.col("method").is_in(methods) & pl.col("estimate").is_not_null()).is_empty():
    ui.not_enough_data()
else:
    label = {"self_rating_predicts": "Felt it went well (4-5) vs not (1-3)"}
    st.altair_chart(
        ui.coefficient_plot(rows, "hypothesis", label, methods=methods), width="stretch"
    )
    ui.plot_caption()
    for row in (
        findings.with_status(rows).filter(pl.col("method").is_in(methods)).iter_rows(named=True)
    ):
        if row["status"] == findings.NOT_ENOUGH:
            st.markdown(
                f"- {findings.method_label(row['method']).capitalize()}: "
                f"{findings.not_enough_text(row)}."
            )
        else:
            st.markdown(f"- {findings.claim(row, 'self_rating_predicts')}")
    st.markdown(
        "A difference near zero with a narrow interval means the feeling is poorly calibrated: "
        "how an interview felt says little about whether it went through."
    )
ui.table(
    findings.with_status(rows),
    report.estimates_layout("hypothesis", "Question", {"self_rating_predicts": card.question}),
)
ui.download(rows, "self_rating_predicts")

with st.expander("Before adjustment: pass-through by the client's own rating (crude)"):
    st.caption(
        "How often rounds got past, by how the client rated them, nothing held fixed. A rising "
        "line here is not evidence that the feeling is right: confounding bends it."
    )
    raw = data.mart(ctx.snap, "advance_by_self_rating", ctx.filters).with_columns(
        pl.col("self_rating").cast(pl.String).fill_null("not given").alias("rating")
    )
    ui.table(
        raw,
        [
            report.text("Client's own rating (1-5)", "rating"),
            report.number("Rounds decided", "rounds"),
            report.number("Got past", "advanced"),
            report.rate("Pass-through", "advance_rate"),
            report.rate_interval("advance_rate"),
            report.number("Clients", "clients"),
        ],
    )
    ui.download(raw.drop("rating"), "pass_through_by_self_rating")
