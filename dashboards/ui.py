"""What every page shares: the filters sidebar, the footer, charts with CIs, coefficient plots of
the three methods, report tables, hypothesis cards, the exploratory notice of a filtered view, CSV
downloads and the "not enough data" state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import altair as alt
import polars as pl
import streamlit as st

from dashboards import data, findings, report, shrinkage, signin
from dashboards.family import FamilyOfViews
from pipelines.insights.effects import MIN_PER_ARM
from warehouse.csv_safe import safe_csv

# Okabe-Ito: distinguishable with every common colour-vision deficiency.
OKABE_ITO = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#D55E00",  # vermillion
    "#F0E442",  # yellow
    "#000000",
)
CONTEXT_KEY = "sealdeal_context"
NOT_ENOUGH_DATA = f"Not enough data: every group here has fewer than {MIN_PER_ARM} interviews."


@dataclass(frozen=True)
class Context:
    viewer: signin.Viewer
    snap: data.Snapshot | None  # None for a scope that never reads firms.duckdb
    filters: data.Filters | None

    @property
    def research(self) -> data.Research:
        """research.duckdb as the viewer may see it (loaded on first use, then cached)."""
        found = data.current_research(self.viewer.scope)
        if found is None:
            _nothing_published()
        return found


def _nothing_published() -> None:
    st.title("SealDeal")
    st.info(
        "No snapshot has been published yet: run the pipeline (`scripts/demo.sh`, or "
        "`sealdeal ingest`, `sealdeal build`, `sealdeal publish`) and reload."
    )
    st.stop()


def start(viewer: signin.Viewer | None = None) -> Context:
    """Load the current snapshot as far as the viewer may see it and draw the filters (the entry
    script calls this once per run, before the page); stops the run with a message when nothing
    is published yet. A scope without firm rows (a researcher) loads research.duckdb only."""
    viewer = viewer or signin.Viewer(data.local_scope())
    if viewer.scope.reads_firms:
        snap = data.current(viewer.scope)
        if snap is None:
            _nothing_published()
        ctx = Context(viewer, snap, sidebar_filters(snap))
        shown = snap.snapshot_id
    else:
        ctx = Context(viewer, None, None)
        shown = ctx.research.snapshot_id
    st.session_state[CONTEXT_KEY] = ctx
    with st.sidebar:
        _watch_for_new_snapshot(shown)
    return ctx


@st.fragment(run_every=timedelta(seconds=30))
def _watch_for_new_snapshot(shown: str) -> None:
    # Every rerun resolves `current` anyway; this only wakes up a page nobody touches.
    latest = data.current_snapshot_id(data.settings().published_dir)
    if latest is not None and latest != shown:
        st.rerun(scope="app")


def context() -> Context:
    return st.session_state[CONTEXT_KEY]


def sidebar_filters(snap: data.Snapshot) -> data.Filters:
    opts = snap.options
    bar = st.sidebar
    bar.header("Filters")
    if snap.firm:
        bar.selectbox(
            "Firm",
            [snap.firm],
            disabled=True,
            key="f_firm_scoped",
            help="You see one firm's clients: the firm you are signed in for (or `sealdeal "
            "serve --firm` in local mode).",
        )
        firms: tuple[str, ...] = (snap.firm,)
    else:
        firms = tuple(bar.multiselect("Firm", opts["firms"], key="f_firms", placeholder="All"))
    date_from = date_to = None
    if opts["dates"]:
        lo, hi = opts["dates"]
        # The key carries the data's range so a snapshot with new dates starts from its full span.
        picked = bar.date_input(
            "Interview dates", value=(lo, hi), min_value=lo, max_value=hi, key=f"f_dates_{lo}_{hi}"
        )
        picked = tuple(picked) if isinstance(picked, list | tuple) else (picked,)
        date_from = picked[0] if picked else None
        date_to = picked[1] if len(picked) > 1 else None
    helps = {
        "industries": "Industries as the estimates group them: the firms' spellings normalised "
        "(Data health lists which spelling went where).",
    }
    choose = {
        label: tuple(
            bar.multiselect(
                label, opts[name], key=f"f_{name}", placeholder="All", help=helps.get(name)
            )
        )
        for label, name in (
            ("Industry", "industries"),
            ("Stage", "stages"),
            ("Seniority", "seniorities"),
        )
    }
    return data.Filters(
        firms=firms,
        date_from=date_from,
        date_to=date_to,
        industries=choose["Industry"],
        stages=choose["Stage"],
        seniorities=choose["Seniority"],
    )


def age_text(age: timedelta | None) -> str:
    if age is None:
        return "unknown age"
    minutes = int(age.total_seconds() // 60)
    if minutes < 1:
        return "less than a minute old"
    if minutes < 60:
        return f"{minutes} min old"
    if minutes < 48 * 60:
        return f"{minutes // 60} h {minutes % 60} min old"
    return f"{minutes // (24 * 60)} days old"


def footer(ctx: Context) -> None:
    snap = ctx.snap or ctx.research
    st.divider()
    created = f" (published {snap.created_at:%Y-%m-%d %H:%M} UTC)" if snap.created_at else ""
    scope = ctx.viewer.scope
    seen = (
        f" · firm: {scope.firm}"
        if scope.firm
        else " · all firms"
        if scope.reads_firms
        else " · research release"
    )
    st.caption(f"Snapshot {snap.snapshot_id} · {age_text(snap.age())}{created}{seen}")


def csv_bytes(frame: pl.DataFrame) -> bytes:
    """CSV of a chart's data; list columns become "a; b" (CSV has no lists). Firm-supplied text
    that a spreadsheet would run as a formula is quoted (warehouse.csv_safe)."""
    flat = frame.with_columns(
        pl.col(c).list.join("; ") for c, t in frame.schema.items() if isinstance(t, pl.List)
    )
    return safe_csv(flat).encode()


def download(frame: pl.DataFrame, name: str) -> None:
    ctx = context()
    snap = ctx.snap or ctx.research
    st.download_button(
        f"Download {name.replace('_', ' ')} (CSV)",
        data=csv_bytes(frame),
        file_name=f"{name}-{snap.snapshot_id}.csv",
        mime="text/csv",
        key=f"download_{name}",
        on_click=signin.download_logger(ctx.viewer, name),  # signed in: the access log
    )


def not_enough_data(message: str = NOT_ENOUGH_DATA) -> None:
    st.info(message, icon=":material/info:")


def summary_caption(ctx: Context) -> None:
    s = data.summary(ctx.snap, ctx.filters)
    st.caption(
        f"{s['interviews']:,} interviews ({s['decided']:,} decided) of {s['clients']:,} clients "
        f"match the filters · interview dates {dates_text(ctx.filters)}."
    )


def palette(domain: list) -> alt.Scale:
    return alt.Scale(domain=domain, range=list(OKABE_ITO[: len(domain)]))


def rate_chart(
    frame: pl.DataFrame,
    x: str,
    x_title: str,
    *,
    rate: str = "offer_rate",
    rate_title: str = "Offer rate",
    n: str = "n",
    color: str | None = None,
    color_title: str | None = None,
    sort: list | None = None,
) -> alt.LayerChart:
    """A rate per group as a point with its 95% interval as an error bar. Groups without enough
    data have no rate and are left out (the table beside the chart lists them)."""
    shown = frame.filter(pl.col(rate).is_not_null())
    if color:
        shown = shown.with_columns(pl.col(color).cast(pl.String))
    base = alt.Chart(shown).encode(
        x=alt.X(f"{x}:N", sort=sort, title=x_title, axis=alt.Axis(labelAngle=-30, labelLimit=200))
    )
    if color:
        domain = sorted(shown.get_column(color).unique().drop_nulls().to_list())
        base = base.encode(
            color=alt.Color(f"{color}:N", scale=palette(domain), title=color_title),
            xOffset=alt.XOffset(f"{color}:N"),
        )
    else:
        base = base.encode(color=alt.value(OKABE_ITO[0]))
    tooltip = [
        alt.Tooltip(f"{x}:N", title=x_title),
        alt.Tooltip(f"{rate}:Q", title=rate_title, format=".1%"),
        alt.Tooltip(f"{rate}_ci_low:Q", title="95% CI from", format=".1%"),
        alt.Tooltip(f"{rate}_ci_high:Q", title="95% CI to", format=".1%"),
        alt.Tooltip(f"{n}:Q", title="n", format=","),
    ]
    if color:
        tooltip.insert(1, alt.Tooltip(f"{color}:N", title=color_title))
    bars = base.mark_rule(strokeWidth=2).encode(
        y=alt.Y(f"{rate}_ci_low:Q", title=f"{rate_title} (95% CI)", axis=alt.Axis(format="%")),
        y2=f"{rate}_ci_high:Q",
        tooltip=tooltip,
    )
    points = base.mark_point(filled=True, size=90).encode(y=f"{rate}:Q", tooltip=tooltip)
    return alt.layer(bars, points)


def chart(chart_: alt.TopLevelMixin, frame: pl.DataFrame, name: str) -> None:
    """Draw a chart and offer its data (with the interval columns) as CSV."""
    st.altair_chart(chart_, width="stretch")
    download(frame, name)


def dates_text(filters: data.Filters) -> str:
    def d(x: date | None) -> str:
        return "…" if x is None else f"{x:%Y-%m-%d}"

    return f"{d(filters.date_from)} to {d(filters.date_to)}"


# ------------------------------------------------------------------------------ estimates
METHOD_COLOURS = {m: OKABE_ITO[i] for i, m in enumerate(findings.METHOD_ORDER)}


def table(frame: pl.DataFrame, layout: list[report.Col]) -> None:
    """A table that reads like a report (``dashboards.report``)."""
    st.dataframe(report.table(frame, layout), hide_index=True)


def exploratory_notice(fam: FamilyOfViews, tests_per_view: int) -> None:
    """What a filtered view is: one of a family, its estimates shrunk, its findings corrected."""
    tests = tests_per_view * fam.size
    views = fam.describe() + (", or this combination of them" if fam.is_combination else "")
    correction = (
        "the Benjamini-Hochberg correction across every estimate of every one of those views"
        if fam.exhaustive
        else "the Bonferroni correction across all of them (too many views to estimate each)"
    )
    st.warning(
        f"**Exploratory view.** These filters pick one of **{fam.size:,} views** you could "
        f"have picked the same way ({views}). With {tests_per_view} estimates per view that is "
        f"**{tests:,} comparisons**, and some will look striking by chance. So the estimates "
        "here are shrunk toward the overall ones (partial pooling; the raw ones are one click "
        f"away), and a result is labelled a finding only if it survives {correction}.",
        icon=":material/filter_alt:",
    )


def estimates(ctx: Context, name: str, toggle_key: str) -> pl.DataFrame:
    """``tactic_estimates`` / ``hypothesis_tests`` of the view; on a filtered view with the
    exploratory notice and the switch to the raw estimates drawn first."""
    fam = data.family(ctx.snap, ctx.filters)
    rows = data.estimates(ctx.snap, name, ctx.filters)
    if fam.is_filtered:
        exploratory_notice(fam, rows.height)
        if raw_toggle(fam, toggle_key):
            rows = shrinkage.raw(rows)
    return rows


def raw_toggle(fam: FamilyOfViews, key: str) -> bool:
    """On a filtered view: the switch to the raw (unshrunk) estimates."""
    if not fam.is_filtered:
        return False
    return st.toggle(
        "Show the raw estimates (before shrinking toward the overall)",
        key=key,
        help="The view's own estimates, as if nothing else had been looked at. The finding "
        "labels stay those corrected across the family of views.",
    )


def coefficient_plot(
    rows: pl.DataFrame,
    id_column: str,
    labels: dict[str, str],
    methods: tuple[str, ...] = findings.METHOD_ORDER,
    title: str = "",
    x_title: str = "Difference in chance of getting past the round, points (95% interval)",
    one_per_row: bool = False,
) -> alt.LayerChart:
    """Each id's estimates by method side by side: a point (filled when a finding) and its 95%
    interval, in points, with zero marked. ``one_per_row``: one estimate per id (a ranking),
    drawn on its own wider row."""
    order = [labels.get(k, k) for k in labels if k in set(rows.get_column(id_column))]
    shown = (
        rows.filter(pl.col("method").is_in(methods) & pl.col("estimate").is_not_null())
        .with_columns(
            pl.col(id_column).replace_strict(labels, default=pl.col(id_column)).alias("label"),
            pl.col("method").replace_strict(findings.METHOD_LABELS).alias("method_label"),
            (pl.col("estimate") * 100).alias("estimate_pts"),
            (pl.col("ci_low") * 100).alias("ci_low_pts"),
            (pl.col("ci_high") * 100).alias("ci_high_pts"),
            pl.when(pl.col("is_finding"))
            .then(pl.lit(findings.FINDING))
            .otherwise(pl.lit(findings.CHANCE))
            .alias("verdict"),
        )
        .select(
            "label",
            "method_label",
            "estimate_pts",
            "ci_low_pts",
            "ci_high_pts",
            "verdict",
            "n_treated",
            "n_control",
            "n_clients",
        )
    )
    names = [findings.METHOD_LABELS[m] for m in methods]
    colour = alt.Color(
        "method_label:N",
        scale=alt.Scale(domain=names, range=[METHOD_COLOURS[m] for m in methods]),
        title="Method",
        legend=alt.Legend(orient="bottom"),
    )
    base = alt.Chart(shown).encode(
        y=alt.Y("label:N", sort=order, title=None, axis=alt.Axis(labelLimit=320)),
        color=colour,
        tooltip=[
            alt.Tooltip("label:N", title="What"),
            alt.Tooltip("method_label:N", title="Method"),
            alt.Tooltip("estimate_pts:Q", title="Difference (points)", format="+.1f"),
            alt.Tooltip("ci_low_pts:Q", title="95% interval from", format="+.1f"),
            alt.Tooltip("ci_high_pts:Q", title="95% interval to", format="+.1f"),
            alt.Tooltip("n_treated:Q", title="Rounds with", format=","),
            alt.Tooltip("n_control:Q", title="Rounds without", format=","),
            alt.Tooltip("n_clients:Q", title="Clients", format=","),
            alt.Tooltip("verdict:N", title="Verdict"),
        ],
    )
    if not one_per_row:
        base = base.encode(yOffset=alt.YOffset("method_label:N", sort=names))
    bars = base.mark_rule(strokeWidth=3).encode(
        x=alt.X("ci_low_pts:Q", title=x_title), x2="ci_high_pts:Q"
    )
    # Findings are filled; "could be chance" is hollow, so the chart never shows it as one.
    points = base.mark_point(size=110, strokeWidth=2).encode(
        x="estimate_pts:Q",
        fill=alt.condition(alt.datum.verdict == findings.FINDING, colour, alt.value("white")),
    )
    zero = alt.Chart(pl.DataFrame({"x": [0.0]})).mark_rule(color="#666", strokeDash=[4, 4])
    step = 36 if one_per_row else 16
    chart = alt.layer(zero.encode(x="x:Q"), bars, points).properties(height=alt.Step(step))
    return chart.properties(title=title) if title else chart


def plot_caption() -> None:
    st.caption(
        "● Filled: a finding (survives the correction for multiple comparisons). ○ Hollow: "
        "could be chance. Lines: 95% intervals, clustered by client. Dashed line: no difference."
    )


def method_sentences(methods: tuple[str, ...] = findings.METHOD_ORDER) -> None:
    for method in methods:
        st.markdown(f"- {findings.METHOD_SENTENCES[method]}")


ANSWER_ICONS = {
    findings.SUPPORTED: ":material/check_circle:",
    findings.NOT_SUPPORTED: ":material/cancel:",
    findings.NOT_ENOUGH: ":material/help:",
}


def hypothesis_card(card: findings.Card) -> None:
    """One hypothesis: the question, the answer, the estimate, the method and the counts."""
    with st.container(border=True):
        st.markdown(f"#### {card.question}")
        colour = {"supported": "green", "not supported": "orange"}.get(card.answer, "gray")
        st.markdown(
            f":{colour}-badge[{ANSWER_ICONS[card.answer]} {card.answer.capitalize()}] "
            f"**{card.estimate}** · method: {card.method} · {card.population}"
        )
        st.markdown(f"{card.sentence} {card.verdict}".strip())
        if card.other_methods:
            st.caption(f"The other methods: {card.other_methods}.")
