"""Seal the deal: the tactics ranked by their headline estimate on the chance of getting past a
round, the union question apart, and all three methods one click away."""

import polars as pl
import streamlit as st

from dashboards import findings, report, ui

ctx = ui.context()
st.title("Seal the deal")
st.caption(
    "Which questions go with getting past the round (an offer or a next round, against a "
    "rejection or no response; withdrawn and pending rounds are left out). Each figure is a "
    "difference in that chance, in percentage points, with its 95% interval. They are "
    "associations in clients' own rounds, not proof that a question causes anything: each "
    "sentence says what was held fixed. How they are made: docs/methods.md."
)
ui.summary_caption(ctx)

rows = ui.estimates(ctx, "tactic_estimates", "home_raw")
ranking = findings.ranked(rows)
union = findings.union_row(rows)

if ranking.filter(pl.col("status") != findings.NOT_ENOUGH).is_empty():
    ui.not_enough_data(
        f"Not enough data: no tactic has {findings.MIN_PER_ARM} or more rounds with and without "
        f"it among {findings.MIN_CLIENTS} or more clients under these filters. Widen the filters."
    )
else:
    labels = {r["tactic"]: f"{r['rank']}. {r['label']}" for r in ranking.iter_rows(named=True)}
    st.altair_chart(
        ui.coefficient_plot(
            ranking,
            "tactic",
            labels,
            methods=("adjusted", "within_client"),
            title="Tactics ranked by their headline estimate",
            one_per_row=True,
        ),
        width="stretch",
    )
    ui.plot_caption()
    st.caption(findings.method_caption(ranking))
    ui.download(ranking, "tactic_ranking")

st.subheader("In plain words")
for row in ranking.iter_rows(named=True):
    text = f"**{row['rank']}.** {row['sentence']}"
    st.markdown(text if row["status"] == findings.FINDING else f":gray[{text}]")
for row in union.iter_rows(named=True):
    st.markdown(
        f"**Any of the three fit questions** (not ranked against its own parts): {row['sentence']}"
    )

with st.expander("All three methods side by side", icon=":material/compare_arrows:"):
    advance = rows.filter(pl.col("estimand") == "advance")
    if advance.filter(pl.col("estimate").is_not_null()).is_empty():
        ui.not_enough_data("Not enough data for any method under these filters.")
    else:
        # The union last, apart from its own parts.
        order = {t: findings.label(t) for t in findings.TACTIC_LABELS if t != findings.UNION}
        order[findings.UNION] = f"{findings.label(findings.UNION)} (any kind)"
        st.altair_chart(ui.coefficient_plot(advance, "tactic", order), width="stretch")
        ui.plot_caption()
    ui.method_sentences()
    st.caption(
        "When the three agree, the answer does not hang on one way of comparing. When crude "
        "is far above the others, stronger candidates, who ask more anyway, made it look good."
    )

st.subheader("The numbers")
st.caption(
    "Every estimate: per round (getting past it) and per application (the chance it ends in "
    "an offer if the tactic is used in every round vs in none, built from the per-round "
    "estimate). The download keeps the machine names and 0-1 proportions."
)
numbers = findings.with_status(rows)
ui.table(numbers, report.estimates_layout("tactic", "Tactic", findings.TACTIC_LABELS))
ui.download(numbers, "tactic_estimates")

if ctx.snap.firm:
    st.subheader("Benchmark: all firms")
    k = ctx.snap.suppression_k
    st.caption(
        "Every firm's clients together, from the published aggregate (not filtered, not "
        f"row-level), headline estimates. Rows resting on fewer than {k} clients are suppressed."
    )
    bench = findings.benchmark(ctx.snap.benchmark, k)
    if bench.is_empty():
        ui.not_enough_data("No cross-firm benchmark in this snapshot.")
    else:
        ui.table(
            bench,
            [
                report.text("Tactic", "label"),
                report.text("Method", "method", findings.METHOD_LABELS),
                report.points("Difference", "estimate"),
                report.points_interval(),
                report.number("Rounds with", "n_treated"),
                report.number("Rounds without", "n_control"),
                report.number("Clients", "n_clients"),
                report.text("Verdict", "status"),
            ],
        )
        ui.download(bench, "benchmark_all_firms")
