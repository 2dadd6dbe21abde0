"""Research tables (researchers and operators): every table of research.duckdb the viewer may
read, with its description, one table at a time; the row-level release (microdata.*) included
for them. Read from research.duckdb alone."""

import polars as pl
import streamlit as st

from dashboards import data, report, ui

SHOWN_ROWS = 1_000
MAX_DOWNLOAD_ROWS = 200_000  # a bigger table as CSV in memory helps nobody: Parquet is there

ctx = ui.context()
research = ctx.research
st.title("Research tables")
if ctx.filters is not None:  # an operator's sidebar: its filters work on firms' rows
    st.caption("The sidebar's filters apply to the firm pages, not to these published tables.")
st.caption(
    "What this snapshot releases for research (research.duckdb): the aggregate marts, under "
    f"the k-rule (k = {research.suppression_k}), and the k-anonymous row-level release where "
    "the snapshot has one. The same tables are in the snapshot's parquet/ folder and answer "
    "`sealdeal sql`; every column is described in docs/researchers.md."
)
tables = research.tables
ui.table(
    tables,
    [
        report.Col("Table", lambda r: r["name"]),
        report.number("Rows", "rows"),
        report.Col("What it holds", lambda r: r["description"] or ""),
    ],
)
names = tables.get_column("name").to_list()
release = [n for n in names if n.startswith("microdata.")]
if release:
    st.caption(f"Row-level release: {', '.join(release)}.")
chosen = st.selectbox(
    "Table",
    names,
    index=names.index(release[0]) if release else 0,
    key="research_table",
)
frame = data.research_table(research, chosen)
st.subheader(chosen)
shown = frame.head(SHOWN_ROWS)
st.caption(
    f"{frame.height:,} rows"
    + (f"; the first {SHOWN_ROWS:,} are shown." if frame.height > SHOWN_ROWS else ".")
)
# Lists as "a; b" like the CSV: the table is read as text, not computed on.
st.dataframe(
    shown.with_columns(
        pl.col(c).list.join("; ") for c, t in shown.schema.items() if t == pl.List(pl.String)
    ),
    hide_index=True,
)
if frame.height <= MAX_DOWNLOAD_ROWS:
    ui.download(frame, chosen.replace(".", "_"))
else:
    schema, table = chosen.split(".")
    parquet = table if schema == "marts" else f"{schema}_{table}"
    st.caption(
        f"More than {MAX_DOWNLOAD_ROWS:,} rows: take the snapshot's parquet/{parquet}.parquet "
        "instead of a CSV."
    )
