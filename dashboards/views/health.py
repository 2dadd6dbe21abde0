"""Data health: which snapshot this is, how fresh, what ingestion refused, and the GX checks."""

from datetime import UTC, datetime
from pathlib import Path

import altair as alt
import polars as pl
import streamlit as st

from dashboards import ui

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
    st.dataframe(files, hide_index=True)
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
    st.dataframe(per_table, hide_index=True)
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
