"""Entry of the dashboards (`streamlit run dashboards/app.py`, or `sealdeal serve`)."""

import streamlit as st

from dashboards import PAGES, ui

st.set_page_config(page_title="SealDeal", layout="wide")
navigation = st.navigation(
    [st.Page(path, title=title, default=i == 0) for i, (title, path) in enumerate(PAGES)]
)
ctx = ui.start()
navigation.run()
ui.footer(ctx.snap)
