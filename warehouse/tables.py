"""The warehouse's tables by name, in one place: build, erasure, publishing and the tests all read
them from here (sql/*.sql creates them; tests/warehouse/test_tables.py holds the two together).

Layers follow dbt's: staging decodes events, intermediate joins them, marts serve readers.
"""

from __future__ import annotations

STAGING = ("staging.stg_debriefs", "staging.stg_outcomes", "staging.stg_erasures")
INTERMEDIATE = ("intermediate.int_interviews",)
FACT = "marts.fct_interviews"  # one row per interview: the row-level fact every mart reads

# Aggregates released to researchers, under the k-rule.
RESEARCH_MARTS = (
    "tactic_estimates",
    "hypothesis_tests",
    "offer_rate_by_timing",
    "offer_rate_by_rapport",
    "objections",
    "perception_gap",
    "warm_prospects",
    "funnel_by_stage",
    "trends_by_month",
)
# A row per firm, or the firms' own spellings: published in the firms file only.
FIRMS_ONLY_MARTS = ("industry_groups", "rounds_by_status")
MARTS = RESEARCH_MARTS + FIRMS_ONLY_MARTS

# The row-level research release: made by pipelines.release.microdata at publish time and held
# only by research.duckdb (no DDL creates them in the warehouse).
MICRODATA = ("microdata.interviews", "microdata.release_info")

# Everything a build derives from the event log (a full build drops and recreates them).
PROJECTIONS = (*STAGING, *INTERMEDIATE, FACT, *(f"marts.{m}" for m in MARTS))
# Tables with a row per client (firm_id, client_key): an erasure deletes the client's rows.
CLIENT_TABLES = (*STAGING, *INTERMEDIATE, FACT)
# The log, the ingestion records and the bookkeeping: written by ingest and erasure, never rebuilt.
LOG = (
    "eventstore.events",
    "eventstore.conflicts",
    "eventstore.tracking",
    "eventstore.erasures",
    "eventstore.key_fingerprint",
    "eventstore.schema_applied",
    "ingest.files",
    "ingest.quarantine",
)


def name(qualified: str) -> str:
    """The table name without its schema."""
    return qualified.rsplit(".", 1)[-1]
