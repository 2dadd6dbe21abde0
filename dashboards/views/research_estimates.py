"""Published estimates (researchers and operators): the tactic estimates and hypothesis tests
exactly as research.duckdb publishes them, segment by segment, under the k-rule. Read from
research.duckdb alone: nothing here comes from firms' row-level data."""

import polars as pl
import streamlit as st

from dashboards import data, findings, report, ui

HYPOTHESIS_LABELS = {h: spec.question for h, spec in findings.HYPOTHESES.items()}

ctx = ui.context()
research = ctx.research
k = research.suppression_k
st.title("Published estimates")
if ctx.filters is not None:  # an operator's sidebar: its filters work on firms' rows
    st.caption("The sidebar's filters apply to the firm pages, not to these published tables.")
st.caption(
    "The estimates as this snapshot publishes them for research (research.duckdb, "
    "marts.tactic_estimates and marts.hypothesis_tests): every segment the pipeline estimates, "
    f"each under the k-rule, so a row resting on fewer than {k} clients is suppressed, together "
    "with enough others that no subtraction recovers it. Querying them yourself: "
    "docs/researchers.md."
)
tactics = data.research_table(research, "marts.tactic_estimates")
hypotheses = data.research_table(research, "marts.hypothesis_tests")
segments = tactics.select("segment_kind", "segment").unique(maintain_order=True)
order = {"all": 0}
segments = segments.sort(pl.col("segment_kind").replace_strict(order, default=1), "segment")
segment = st.selectbox(
    "Segment",
    segments.get_column("segment").to_list(),
    format_func=lambda s: "all clients" if s == "all" else s.replace("=", ": "),
    key="research_segment",
)
hidden = f"suppressed (fewer than {k} clients)"


def with_status(rows: pl.DataFrame) -> pl.DataFrame:
    status = findings.with_status(rows)
    return status.with_columns(
        pl.when(pl.col("is_suppressed")).then(pl.lit(hidden)).otherwise("status").alias("status")
    )


def section(rows: pl.DataFrame, id_column: str, labels: dict, header: str, name: str) -> None:
    suppressed = int(rows.get_column("is_suppressed").sum() or 0)
    st.caption(f"{rows.height} rows, {suppressed} suppressed.")
    advance = rows.filter(pl.col("estimand") == "advance")
    if advance.filter(pl.col("estimate").is_not_null()).is_empty():
        ui.not_enough_data("No published estimate in this segment (suppressed or not enough data).")
    else:
        st.altair_chart(ui.coefficient_plot(advance, id_column, labels), width="stretch")
        ui.plot_caption()
    numbers = with_status(rows)
    ui.table(numbers, report.estimates_layout(id_column, header, labels))
    ui.download(numbers, name)


st.subheader("Tactics")
section(
    tactics.filter(pl.col("segment") == segment),
    "tactic",
    findings.TACTIC_LABELS,
    "Tactic",
    "published_tactic_estimates",
)
st.subheader("Hypotheses")
section(
    hypotheses.filter(pl.col("segment") == segment),
    "hypothesis",
    HYPOTHESIS_LABELS,
    "Question",
    "published_hypothesis_tests",
)
ui.method_sentences()
