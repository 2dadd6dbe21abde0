"""The SealDeal dashboards: a multipage Streamlit app on the current published snapshot.

Start it with ``sealdeal serve [--port N] [--firm FIRM]``; ``dashboards/app.py`` is the entry.
Who sees which page and which data: ``dashboards.access`` (docs/access.md).
"""

# (title, page file relative to dashboards/), in navigation order; the first is the home page.
# Not `pages/`: Streamlit treats a folder of that name as a legacy multipage app and runs its
# scripts without the entry script (no filters, no footer) when a page URL is opened directly.
PAGES = (
    ("Seal the deal", "views/home.py"),
    ("Hypotheses", "views/hypotheses.py"),
    ("Applications funnel", "views/funnel.py"),
    ("Timing & rapport", "views/timing.py"),
    ("Objections", "views/objections.py"),
    ("Perception gap", "views/perception.py"),
    ("Warm prospects", "views/warm_prospects.py"),
    ("Client journeys", "views/journeys.py"),
    ("Data health", "views/health.py"),
)
# Pages on research.duckdb alone (the researchers' and operators'; dashboards.access decides).
RESEARCH_PAGES = (
    ("Published estimates", "views/research_estimates.py"),
    ("Research tables", "views/research_tables.py"),
)
