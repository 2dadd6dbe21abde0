"""Client journeys (for coaches): one pseudonymous client's interviews and outcomes, in order."""

import altair as alt
import polars as pl
import streamlit as st

from dashboards import data, report, ui
from pipelines.core.spec import OUTCOMES, STAGES
from pipelines.insights.rounds import rounds

ROUND_STATUS = {
    "advanced": "got past",
    "not_advanced": "did not get past",
    "withdrawn": "withdrawn (left out)",
    "pending": "pending (left out)",
    "debrief_after_outcome": "debriefed only after the outcome (left out)",
}
MAX_LISTED = 1000  # a longer select list is no use to anyone; any key can be pasted instead

ctx = ui.context()
st.title("Client journeys")
st.caption(
    "For coaches: pick a client (pseudonym) to see every interview and every outcome they heard, "
    "in order. The filters choose which clients are listed; a journey is always shown whole."
)
clients = data.clients(ctx.snap, ctx.filters)
st.caption(f"{clients.height:,} clients have interviews that match the filters.")

if clients.is_empty():
    ui.not_enough_data("No client has an interview that matches the filters.")
else:
    listed = clients.head(MAX_LISTED)
    counts = dict(zip(listed["client_key"], listed["interviews"], strict=True))
    chosen = st.selectbox(
        "Client",
        listed.get_column("client_key").to_list(),
        format_func=lambda k: f"{k[:16]}…  ({counts[k]} interviews)",
        key="journey_client",
        help=f"The {min(MAX_LISTED, clients.height):,} clients with most interviews.",
    )
    pasted = st.text_input("…or paste a client key", key="journey_paste").strip()
    client = pasted or chosen
    interviews, outcomes = data.client_history(ctx.snap, client)
    if interviews.is_empty() and outcomes.is_empty():
        st.warning("No client with that key in this snapshot.")
    else:
        st.markdown(f"Client `{client}`")
        c = st.columns(4)
        c[0].metric("Interviews", f"{interviews.height:,}")
        c[1].metric("Offers", f"{int(interviews['got_offer'].sum() or 0):,}")
        c[2].metric("Referrals", f"{int(interviews['got_referral'].sum() or 0):,}")
        c[3].metric("Outcomes heard", f"{outcomes.height:,}")

        shown = interviews.with_columns(pl.col("outcome").fill_null("pending"))
        if shown.height:
            kinds = [*OUTCOMES, "pending"]
            timeline = (
                alt.Chart(shown)
                .mark_point(filled=True, size=160)
                .encode(
                    x=alt.X("interview_date:T", title="Interview date"),
                    y=alt.Y("stage:N", sort=list(STAGES), title="Stage"),
                    color=alt.Color("outcome:N", scale=ui.palette(kinds), title="Outcome"),
                    shape=alt.Shape("outcome:N", scale=alt.Scale(domain=kinds), title="Outcome"),
                    tooltip=[
                        "interview_date:T",
                        "stage:N",
                        "industry:N",
                        "seniority:N",
                        "asked_fit_question:N",
                        "outcome:N",
                    ],
                )
            )
            ui.chart(timeline, interviews.drop("firm_id", "client_key"), "client_interviews")
        st.subheader("Interviews")
        shown = rounds(interviews.lazy()).collect().sort("interview_date", "round_number")
        ui.table(
            shown,
            [
                report.date_text("Date", "interview_date"),
                report.Col("Application", lambda r: r["application_key"][:8] + "…"),
                report.number("Round", "round_number"),
                report.text("Stage", "stage"),
                report.text("Interviewer", "interviewer_role"),
                report.text("Industry (as reported)", "industry"),
                report.text("Seniority", "seniority"),
                report.listed("Fit questions asked", "fit_question_kinds"),
                report.number("Asked at (% of the way in)", "asked_at_pct"),
                report.number("Rapport before asking (1-5)", "rapport_before_ask"),
                report.listed("Concerns raised", "concerns_raised"),
                report.yes_no("Concerns addressed", "concerns_addressed"),
                report.number("Own rating (1-5)", "self_rating"),
                report.text("Outcome", "outcome"),
                report.text("Counts in the estimates as", "round_status", ROUND_STATUS),
                report.number("Debrief versions", "debrief_versions"),
                report.number("Versions written after the outcome", "versions_after_outcome"),
            ],
        )
        st.subheader("Every outcome reported, in the order heard")
        ui.table(
            outcomes,
            [
                report.date_text("Heard on", "decided_at", "%Y-%m-%d %H:%M"),
                report.text("Outcome", "outcome"),
                report.yes_no("Referred elsewhere", "referral"),
            ],
        )
        ui.download(outcomes.drop("firm_id", "client_key"), "client_outcomes")
