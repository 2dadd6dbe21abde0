"""Hypotheses: the five pieces of advice the coaching is built on, each tested by the same three
methods, one card each with the answer in plain words."""

import polars as pl
import streamlit as st

from dashboards import findings, report, ui

HYPOTHESIS_LABELS = {h: spec.question for h, spec in findings.HYPOTHESES.items()}

ctx = ui.context()
st.title("Hypotheses")
st.caption(
    "Five pieces of advice, each asked as a client would ask it and answered from the "
    "debriefs: supported (a finding after correcting for multiple comparisons, in the "
    "direction the advice says), not supported, or not enough data. The headline compares "
    "the same client's rounds where there is enough data for that, else rounds alike in "
    "everything recorded; the other methods are listed under each card."
)
ui.summary_caption(ctx)

rows = ui.estimates(ctx, "hypothesis_tests", "hypotheses_raw")

for hypothesis in findings.HYPOTHESES:
    ui.hypothesis_card(findings.card(rows, hypothesis))

with st.expander("All three methods side by side", icon=":material/compare_arrows:"):
    if rows.filter(pl.col("estimate").is_not_null()).is_empty():
        ui.not_enough_data("Not enough data for any method under these filters.")
    else:
        st.altair_chart(
            ui.coefficient_plot(
                rows,
                "hypothesis",
                HYPOTHESIS_LABELS,
                x_title="Difference in chance (points, 95% interval): of getting past the "
                "round; of a referral for the last one",
            ),
            width="stretch",
        )
        ui.plot_caption()
    ui.method_sentences()

st.subheader("The numbers")
numbers = findings.with_status(rows)
ui.table(numbers, report.estimates_layout("hypothesis", "Question", HYPOTHESIS_LABELS))
ui.download(numbers, "hypothesis_tests")
