"""Entry of the dashboards (`streamlit run dashboards/app.py`, or `sealdeal serve`)."""

import streamlit as st

from dashboards import access, signin, ui

st.set_page_config(page_title="SealDeal", layout="wide")
# Who is looking comes first: someone who may see nothing is stopped here, before any page is
# offered or any data read; the pages offered are the role's only.
viewer = signin.viewer()
offered = access.pages(viewer.scope.role)
navigation = st.navigation(
    [st.Page(path, title=title, default=i == 0) for i, (title, path) in enumerate(offered)]
)
ctx = ui.start(viewer)
signin.page_viewed(viewer, navigation.title)
navigation.run()
ui.footer(ctx)
