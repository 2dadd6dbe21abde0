"""Data health: which snapshot this is, how fresh, what ingestion refused, and the GX checks."""

from datetime import UTC, datetime
from pathlib import Path

import altair as alt
import polars as pl
import streamlit as st

from dashboards import data, report, ui
from pipelines.insights.rounds import MIN_GROUP_ROWS, MIN_GROUP_SHARE

ROUND_STATUS = {
    "advanced": "got past (used)",
    "not_advanced": "did not get past (used)",
    "withdrawn": "withdrawn by the client (left out)",
    "pending": "pending: no outcome yet (left out)",
    "debrief_after_outcome": "debriefed only after the outcome (left out)",
}

ctx = ui.context()
snap = ctx.snap
st.title("Data health")

c = st.columns(3)
c[0].metric("Snapshot age", ui.age_text(snap.age()).removesuffix(" old"))
last_ingest = snap.last_ingest_at
c[1].metric(
    "Last ingest",
    ui.age_text(datetime.now(UTC) - last_ingest).replace(" old", " ago")
    if last_ingest
    else "never",
    help=f"{last_ingest:%Y-%m-%d %H:%M:%S} UTC" if last_ingest else None,
)
c[2].metric("Event-log position", f"{snap.meta.get('last_event_position') or 0:,}")
st.markdown(
    f"Snapshot `{snap.snapshot_id}`, computed by SealDeal {snap.meta.get('code_version')}; "
    f"aggregates shown across firms are suppressed below {snap.suppression_k} clients."
)
ui.summary_caption(ctx)

st.subheader("Rounds the estimates use, and the ones they leave out")
status = data.mart(snap, "rounds_by_status", ctx.filters)
if status.is_empty():
    st.info("No round matches the filters.")
else:

    def total(column: str, statuses: tuple[str, ...] | None = None) -> int:
        rows = status if statuses is None else status.filter(pl.col("round_status").is_in(statuses))
        return int(rows.get_column(column).sum() or 0)

    used = total("rounds", ("advanced", "not_advanced"))
    c = st.columns(5)
    c[0].metric("Rounds used", f"{used:,}", help="Got past or did not: the employer decided.")
    c[1].metric(
        "Corrected after the outcome",
        f"{total('corrected_after_outcome'):,}",
        help="Rounds whose debrief was edited once the outcome was known. The correction stays "
        "in the log; the estimates use the version written before the outcome.",
    )
    c[2].metric(
        "Withdrawn rounds",
        f"{total('rounds', ('withdrawn',)):,}",
        help="The client's own choice, not the employer's verdict: left out.",
    )
    c[3].metric(
        "Pending rounds",
        f"{total('rounds', ('pending',)):,}",
        help="No outcome yet: left out until one arrives.",
    )
    c[4].metric(
        "Advances inferred",
        f"{total('advances_inferred'):,}",
        help="Rounds without an outcome of their own that a later round of the same "
        "application shows were passed (firms that report only the final result).",
    )
    after = total("rounds", ("debrief_after_outcome",))
    st.caption(
        f"{after:,} rounds were debriefed only after the outcome was known (hindsight) and are "
        "left out of every estimate."
    )
    ui.table(
        status,
        [
            report.text("Firm", "firm_id"),
            report.text("Round", "round_status", ROUND_STATUS),
            report.number("Rounds", "rounds"),
            report.number("Clients", "clients"),
            report.number("Corrected after the outcome", "corrected_after_outcome"),
            report.number("Advances inferred", "advances_inferred"),
        ],
    )
    ui.download(status, "rounds_by_status")

st.subheader("Industry spellings and the group each counts in")
st.caption(
    "Firms spell industries their own way. The estimates and the Industry filter use groups: "
    "case, spacing and punctuation normalised, known synonyms merged, and groups with fewer "
    f"than {MIN_GROUP_ROWS} interviews (or {MIN_GROUP_SHARE:.1%} of all) pooled into 'other'. "
    "All rows in scope, whatever the filters."
)
spellings = data.industry_map(snap)
if spellings.is_empty():
    st.info("No industry to normalise yet.")
else:
    ui.table(
        spellings,
        [
            report.Col("As reported", lambda r: r["industry"]),
            report.Col("Counted as", lambda r: r["industry_group"]),
            report.number("Interviews", "interviews"),
        ],
    )
    ui.download(spellings, "industry_groups")

st.subheader("Records quarantined, by reason")
quarantine = snap.quarantine_by_reason
if ctx.filters.firms:
    quarantine = quarantine.filter(pl.col("firm_id").is_in(list(ctx.filters.firms)))
st.caption(
    "A record breaking several rules counts once per rule. Of the filters only the firm applies "
    "here (a refused record has no trustworthy date, industry or stage)."
)
if quarantine.is_empty():
    st.success("No record of these firms was quarantined.")
else:
    by_reason = (
        quarantine.group_by("reason")
        .agg(pl.col("records").sum())
        .sort("records", "reason", descending=[True, False])
    )
    bars = (
        alt.Chart(by_reason)
        .mark_bar(color=ui.OKABE_ITO[5])
        .encode(
            x=alt.X("records:Q", title="Records", axis=alt.Axis(format="d", tickMinStep=1)),
            y=alt.Y("reason:N", sort="-x", title=None, axis=alt.Axis(labelLimit=600)),
            tooltip=["reason:N", alt.Tooltip("records:Q", format=",")],
        )
    )
    ui.chart(bars, quarantine, "quarantine_by_reason")

st.subheader("Landing files")
files = snap.ingest_files
if snap.firm:
    st.info("Landing files hold every firm's records: they are listed for operators only.")
elif files.is_empty():
    st.info("No landing file has been processed yet.")
else:
    ui.table(
        files,
        [
            report.Col("File", lambda r: r["file_name"]),
            report.text("Format", "file_format"),
            report.text("Status", "status"),
            report.Col("Why held", lambda r: r["reason"]),
            report.number("Records", "records"),
            report.number("Events added", "events_appended"),
            report.number("Duplicates", "duplicates"),
            report.number("Conflicts", "conflicts"),
            report.number("Quarantined", "quarantined"),
            report.date_text("Processed (UTC)", "processed_at", "%Y-%m-%d %H:%M"),
        ],
    )
    ui.download(files, "ingest_files")

st.subheader("Great Expectations")
checks = snap.mart_checks
if checks.is_empty():
    st.info("No GX mart-check results found for this snapshot.")
else:
    per_table = (
        checks.group_by("table")
        .agg(
            pl.len().alias("expectations"),
            pl.col("success").sum().alias("passed"),
            (~pl.col("success")).sum().alias("failed"),
        )
        .sort("table")
    )
    failed = int(per_table["failed"].sum())
    verdict = "all passed" if failed == 0 else f"{failed} failed"
    st.markdown(
        f"Mart checks before publishing: **{checks.height} expectations, {verdict}** "
        f"(`{checks['checked_in'][0]}`)."
    )
    ui.table(
        per_table,
        [
            report.Col("Mart", lambda r: r["table"]),
            report.number("Expectations", "expectations"),
            report.number("Passed", "passed"),
            report.number("Failed", "failed"),
        ],
    )
    ui.download(checks, "gx_mart_checks")
docs = snap.data_docs_path
if snap.firm:
    st.caption("The ingestion Data Docs cover every firm's landing files: operators only.")
elif docs:
    st.markdown(
        f"Record validation: [open the GX Data Docs]({Path(docs).as_uri()}) "
        "(a local file: if your browser blocks the link, open the path below)."
    )
    st.code(docs, language=None)
else:
    st.info("No GX Data Docs were built for this snapshot.")
