"""The dashboards under Streamlit's AppTest, on snapshots made by the real pipeline: every page
renders on real data, on an empty snapshot and when every arm is below the minimum n; every
filter changes the numbers (and they are the pipeline's numbers for the filtered rows); a
firm-scoped app shows nothing of another firm; downloads carry the intervals."""

from __future__ import annotations

import io
import re
import shutil
from datetime import timedelta
from pathlib import Path
from typing import ClassVar

import polars as pl
import pytest
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import app_test

from dashboards import PAGES
from dashboards.findings import HYPOTHESES, TACTIC_LABELS, pts
from pipelines.core.settings import Settings
from pipelines.insights.effects import tactic_estimates
from tests.dashboards.conftest import publish_home
from warehouse.publish import current_snapshot, open_snapshot

PAGE_IDS = [path.split("/")[-1].removesuffix(".py") for _, path in PAGES]
# Charts each page draws on the 2,000-interview snapshot (every chart comes with a CSV).
CHARTS_ON_REAL_DATA = {
    "home": 2,  # the ranking, and the three methods side by side
    "hypotheses": 1,
    "funnel": 4,  # pass-through by round, offers per application, stages, months
    "timing": 2,
    "objections": 2,
    "perception": 1,
    "warm_prospects": 1,
    "journeys": 1,
    "health": 0,  # nothing was quarantined
}
# Pages whose charts are estimates or rates: with every arm below the minimum n none is drawn.
RATE_ONLY_PAGES = {
    "home",
    "hypotheses",
    "timing",
    "objections",
    "perception",
    "warm_prospects",
}
TEXT_TYPES = {
    "title",
    "header",
    "subheader",
    "markdown",
    "caption",
    "info",
    "warning",
    "success",
    "error",
    "code",
    "text",
    "expander",
}


def elements(at):
    """Every element of the last run, depth first (main area and sidebar)."""
    stack = [at._tree]
    while stack:
        node = stack.pop()
        children = getattr(node, "children", None)
        if isinstance(children, dict):
            stack.extend(reversed(list(children.values())))
        else:
            yield node


def texts(at) -> list[str]:
    """Everything a person could read on the page, tables included."""
    out = []
    for el in elements(at):
        kind = getattr(el, "type", "")
        if kind in TEXT_TYPES:
            out.append(str(el.value))
        elif kind == "metric":
            out.append(f"{el.label}: {el.value}")
        elif kind == "dataframe":
            out.append(el.value.to_csv(index=False))
        elif kind in ("selectbox", "multiselect", "radio"):
            out.append(" | ".join(map(str, el.options)))
        elif kind in ("download_button", "button", "toggle"):
            out.append(el.label)
    return out


def numbers(at) -> list[str]:
    """The page's figures: texts without the footer (its snapshot age ticks)."""
    return [t for t in texts(at) if not t.startswith("Snapshot ")]


def charts(at) -> int:
    return len(at.get("vega_lite_chart"))


def snapshot_id(home: Settings) -> str:
    return current_snapshot(home.published_dir).name


def open_page(at, page: str):
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    path = dict(zip(PAGE_IDS, (p for _, p in PAGES), strict=True))[page]
    at.switch_page(path).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def assert_common(at, home: Settings, page: str) -> None:
    title = dict(zip(PAGE_IDS, (t for t, _ in PAGES), strict=True))[page]
    assert at.title[0].value == title
    footer = at.caption[-1].value
    assert footer.startswith(f"Snapshot {snapshot_id(home)} · ")
    assert "old" in footer


@pytest.mark.parametrize("page", PAGE_IDS)
def test_page_renders_on_real_data(app, built_home, page):
    at = open_page(app(built_home), page)
    assert_common(at, built_home, page)
    assert charts(at) == CHARTS_ON_REAL_DATA[page]
    downloads = [d.label for d in at.get("download_button")]
    assert len(downloads) >= charts(at)
    if page == "home":
        assert not [t for t in texts(at) if "Not enough data" in t]


RANKED = re.compile(r"(:gray\[)?\*\*\d\.\*\* ")
HEADLINE = re.compile(
    r"(In the same client's rounds|Among rounds alike in everything recorded), "
    r"(.+) went with getting past the round "
    r"(\d+ points? (more|less) often|about as often \(0 points\)) \[[+-]?\d+, [+-]?\d+\]\. "
    r"(A finding|Could be chance) \(q (=|<) [\d.e-]+ after correcting for 30 comparisons\)\."
)


def test_home_ranks_the_tactics_by_headline_estimate_in_plain_words(app, built_home):
    at = open_page(app(built_home), "home")
    ranked = [m.value for m in at.markdown if RANKED.match(m.value)]
    assert len(ranked) == 4  # the three kinds and addressing concerns; the union apart
    for text in ranked:
        assert HEADLINE.search(text), text
        assert not re.search(r"\b(cause|causes|increase|increases|raises)\b", text)
    union = [m.value for m in at.markdown if m.value.startswith("**Any of the three")]
    assert len(union) == 1 and "asking any of the three fit questions" in union[0]
    assert "not ranked against its own parts" in union[0]
    caption = next(c.value for c in at.caption if c.value.startswith("Headline: "))
    assert "same-client comparison" in caption or "adjusted comparison" in caption
    # The three methods side by side, one plain sentence each.
    expander = next(e for e in at.expander if e.label == "All three methods side by side")
    sentences = [m.value for m in expander.markdown]
    for lead in ("- Crude:", "- Adjusted:", "- Same client:"):
        assert any(s.startswith(lead) for s in sentences), lead
    assert len(expander.get("vega_lite_chart")) == 1
    # The report table: words, points and brackets; machine names only in the CSV.
    table = at.dataframe[-1].value
    assert list(table.columns[:5]) == [
        "Tactic",
        "Outcome",
        "Method",
        "Difference (points)",
        "95% interval (points)",
    ]
    assert set(table["Tactic"]) == set(TACTIC_LABELS.values())
    assert set(table["Method"]) == {"crude", "adjusted", "same client"}
    assert all(re.fullmatch(r"\[[+-]?\d+, [+-]?\d+\]|–", v) for v in table.iloc[:, 4])
    assert set(table["Verdict"]) <= {"finding", "could be chance", "not enough data"}


def test_home_headline_numbers_are_the_pipelines(app, built_home):
    at = open_page(app(built_home), "home")
    con = open_snapshot(built_home.published_dir, part="firms")
    try:
        rows = con.sql("SELECT * FROM detail.fct_interviews").pl()
    finally:
        con.close()
    expected = tactic_estimates(rows.lazy(), ("all",)).collect()
    table = at.dataframe[-1].value
    assert list(table["Difference (points)"]) == [
        "–" if v is None else pts(v) for v in expected["estimate"]
    ]


def test_hypotheses_page_has_one_card_per_seed_hypothesis(app, built_home):
    at = open_page(app(built_home), "hypotheses")
    questions = [m.value.removeprefix("#### ") for m in at.markdown if m.value.startswith("####")]
    assert questions == [h.question for h in HYPOTHESES.values()]
    badges = [m.value for m in at.markdown if "-badge[" in m.value]
    assert len(badges) == 5
    for badge in badges:
        answer = re.search(r"-badge\[:material/\w+: ([^\]]+)\]", badge).group(1)
        assert answer in ("Supported", "Not supported", "Not enough data")
        assert re.search(r"method: (same client|adjusted)", badge)
        assert re.search(r"[\d,]+ rounds? of [\d,]+ clients?", badge)
        if answer != "Not enough data":
            assert re.search(r"\*\*[+-]?\d+ points? \[[+-]?\d+, [+-]?\d+\]\*\*", badge)
    others = [c.value for c in at.caption if c.value.startswith("The other methods: ")]
    assert len(others) == 5


def test_perception_page_tests_self_rating_after_adjustment(app, built_home):
    at = open_page(app(built_home), "perception")
    assert any("If I feel the interview went well, did I get through?" in t for t in texts(at))
    claims = [m.value for m in at.markdown if m.value.startswith("- ")]
    assert any(c.startswith("- Among rounds alike in everything recorded,") for c in claims)
    assert any(c.startswith("- In the same client's rounds,") for c in claims)
    table = at.dataframe[0].value
    assert list(table["Method"]) == ["crude", "adjusted", "same client"]
    # The raw line by rating is kept out of sight, labelled crude.
    assert any("(crude)" in e.label for e in at.expander)


def test_funnel_shows_pass_through_per_round_and_offers_per_application(app, built_home):
    at = open_page(app(built_home), "funnel")
    rounds = at.dataframe[0].value
    assert list(rounds.columns[:6]) == [
        "Round",
        "Rounds",
        "Decided by the employer",
        "Got past",
        "Pass-through (%)",
        "95% interval (%)",
    ]
    assert rounds["Round"].iloc[0] == "1"
    assert re.fullmatch(r"\d+%", rounds["Pass-through (%)"].iloc[0])
    assert re.fullmatch(r"\[\d+%, \d+%\]", rounds["95% interval (%)"].iloc[0])
    metrics = {m.label: m.value for m in at.metric}
    assert re.fullmatch(r"\d+%", metrics["Applications that ended in an offer"])
    assert re.fullmatch(r"\[\d+%, \d+%\]", metrics["95% interval"])


def test_data_health_shows_what_the_estimates_leave_out(app, built_home):
    at = open_page(app(built_home), "health")
    metrics = {m.label: m.value for m in at.metric}
    for label in (
        "Rounds used",
        "Corrected after the outcome",
        "Withdrawn rounds",
        "Pending rounds",
        "Advances inferred",
    ):
        assert re.fullmatch(r"[\d,]+", metrics[label]), label
    assert int(metrics["Corrected after the outcome"].replace(",", "")) > 0
    assert int(metrics["Withdrawn rounds"].replace(",", "")) > 0
    assert any("debriefed only after the outcome" in c.value for c in at.caption)
    spellings = next(
        d.value for d in at.dataframe if list(d.value.columns[:2]) == ["As reported", "Counted as"]
    )
    reported = dict(zip(spellings["As reported"], spellings["Counted as"], strict=True))
    # Firms' spellings land in one group each: the map shows which.
    groups = {}
    for raw, group in reported.items():
        groups.setdefault(group, set()).add(raw)
    assert any(len(raws) > 1 for raws in groups.values())
    assert all(g == g.lower() for g in groups)


def _seniority_senior(at):
    at.multiselect(key="f_seniorities").set_value(["senior"])


def test_a_filtered_view_is_exploratory_shrunk_and_corrected_across_its_family(
    app, built_home, monkeypatch
):
    monkeypatch.setattr(app_test, "MemoryMediaFileStorage", RecordingStorage)
    at = open_page(app(built_home), "home")
    assert not at.warning and not at.toggle
    RecordingStorage.files = {}
    _seniority_senior(at)
    at.run()
    assert not at.exception
    notice = at.warning[0].value
    assert notice.startswith("**Exploratory view.**")
    assert "one of **5 views**" in notice and "(5 seniorities)" in notice
    assert "**150 comparisons**" in notice  # 30 estimates per view x 5 views
    assert "Benjamini-Hochberg" in notice
    (csv,) = [v for k, v in RecordingStorage.files.items() if k.startswith("tactic_estimates-")]
    explored = pl.read_csv(io.BytesIO(csv))
    enough = explored.filter(pl.col("enough_data"))
    assert enough.height > 0
    # Shrunk toward the overall estimate: never further from it than the raw one.
    distance = (pl.col("estimate") - pl.col("overall_estimate")).abs()
    raw_distance = (pl.col("raw_estimate") - pl.col("overall_estimate")).abs()
    assert enough.select((distance <= raw_distance + 1e-12).all()).item()
    assert enough.select((pl.col("estimate") != pl.col("raw_estimate")).any()).item()
    # A finding only when it survives the correction across the family.
    assert explored["is_finding"].to_list() == [
        bool(e and q is not None and q < 0.05)
        for e, q in zip(explored["enough_data"], explored["family_q_value"], strict=True)
    ]
    assert set(explored["family_views"]) == {5} and set(explored["family_tests"]) == {150}
    table = at.dataframe[-1].value
    verdicts = dict(zip(range(len(table)), table["Verdict"], strict=True))
    for i, is_finding in enumerate(explored["is_finding"]):
        assert (verdicts[i] == "finding") == is_finding
    for text in [m.value for m in at.markdown if RANKED.match(m.value)]:
        assert "after correcting for 150 comparisons" in text
    # The raw estimates are one click away.
    shrunk = list(table["Difference (points)"])
    at.toggle[0].set_value(True).run()
    raw = list(at.dataframe[-1].value["Difference (points)"])
    assert raw == ["–" if v is None else pts(v) for v in explored["raw_estimate"]]
    assert raw != shrunk


@pytest.mark.parametrize("page", ["hypotheses", "timing", "objections", "perception"])
def test_filtered_hypothesis_pages_say_they_are_exploratory(app, built_home, page):
    at = open_page(app(built_home), page)
    _seniority_senior(at)
    at.run()
    assert not at.exception
    assert at.warning[0].value.startswith("**Exploratory view.**")
    assert "**75 comparisons**" in at.warning[0].value  # 15 estimates per view x 5 views


@pytest.mark.parametrize("page", PAGE_IDS)
def test_page_renders_on_an_empty_snapshot(app, empty_home, page):
    at = open_page(app(empty_home), page)
    assert_common(at, empty_home, page)
    assert charts(at) == 0
    assert any(t.startswith(("Not enough data", "No ")) for t in texts(at))


@pytest.mark.parametrize("page", PAGE_IDS)
def test_page_renders_when_every_arm_is_below_min_n(app, tiny_home, page):
    at = open_page(app(tiny_home), page)
    assert_common(at, tiny_home, page)
    if page in RATE_ONLY_PAGES:
        assert charts(at) == 0
        assert any(t.startswith("Not enough data") for t in texts(at))
    if page == "home":
        sentences = [m.value for m in at.markdown if RANKED.match(m.value)]
        assert len(sentences) == 4
        assert all(": not enough data (" in s for s in sentences)
        assert set(at.dataframe[-1].value["Verdict"]) == {"not enough data"}
    if page == "hypotheses":
        badges = [m.value for m in at.markdown if "-badge[" in m.value]
        assert len(badges) == 5 and all("Not enough data" in b for b in badges)


def test_no_snapshot_yet_says_so(app, tmp_path):
    at = app(Settings(home=tmp_path / "fresh")).run()
    assert not at.exception
    # Local mode's banner first (it is on every page), then the message.
    assert at.info[0].value.startswith("**Local mode**")
    assert "No snapshot has been published yet" in at.info[1].value


def _one_firm(at):
    firms = at.multiselect(key="f_firms")
    firms.set_value(firms.options[:1])


def _middle_dates(at):
    """The data's span less its first two and last four months."""
    lo, hi = at.date_input[0].value
    at.date_input[0].set_value((lo + timedelta(days=61), hi - timedelta(days=122)))


FILTERS = {
    "firm": _one_firm,
    "dates": lambda at: _middle_dates(at),
    "industry": lambda at: at.multiselect(key="f_industries").set_value(["software"]),
    "stage": lambda at: at.multiselect(key="f_stages").set_value(["hiring_manager"]),
    "seniority": lambda at: at.multiselect(key="f_seniorities").set_value(["senior"]),
}


@pytest.mark.parametrize("page", PAGE_IDS)
@pytest.mark.parametrize("kind", list(FILTERS))
def test_every_filter_changes_the_numbers_of_every_page(app, built_home, page, kind):
    at = open_page(app(built_home), page)
    before = numbers(at)
    FILTERS[kind](at)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    after = numbers(at)
    assert after != before
    summary = next(t for t in after if "match the filters" in t)
    assert summary != next(t for t in before if "match the filters" in t)


def test_home_raw_numbers_are_the_pipelines_numbers_for_the_filtered_rows(app, built_home):
    """The filter is applied by SQL here and by the app's Polars filter there: same rows, same
    tactic_estimates, to the last digit (the raw ones: the shown ones are shrunk)."""
    at = open_page(app(built_home), "home")
    at.multiselect(key="f_stages").set_value(["hiring_manager", "final"])
    at.multiselect(key="f_seniorities").set_value(["mid", "senior"])
    at.run()
    at.toggle[0].set_value(True).run()
    shown = at.dataframe[-1].value

    con = open_snapshot(built_home.published_dir, part="firms")
    try:
        rows = con.sql(
            "SELECT * FROM detail.fct_interviews WHERE stage IN (?, ?) AND seniority IN (?, ?)",
            params=["hiring_manager", "final", "mid", "senior"],
        ).pl()
    finally:
        con.close()
    expected = tactic_estimates(rows.lazy(), ("all",)).collect()
    assert list(shown["Difference (points)"]) == [
        "–" if v is None else pts(v) for v in expected["estimate"]
    ]
    assert list(shown["Rounds with"]) == [f"{v:,}" for v in expected["n_treated"]]
    assert list(shown["Clients"]) == [f"{v:,}" for v in expected["n_clients"]]


def test_firm_scoped_pages_show_no_row_of_another_firm(app, built_home):
    con = open_snapshot(built_home.published_dir, part="firms")
    try:
        keys = con.sql("SELECT firm_id, client_key, interview_key FROM detail.fct_interviews").pl()
    finally:
        con.close()
    firms = sorted(keys["firm_id"].unique())
    firm, others = firms[0], set(firms[1:])
    foreign = keys.filter(pl.col("firm_id") != firm)
    foreign_keys = set(foreign["client_key"]) | set(foreign["interview_key"])
    assert others and foreign_keys

    at = app(built_home, firm=firm)
    seen = []
    for page in PAGE_IDS:
        open_page(at, page)
        seen += texts(at)
    # The scoped firm's own keys do show (journeys), so the check below is not vacuous.
    hex_tokens = {tok for t in seen for tok in re.findall(r"[0-9a-f]{12,}", t)}
    own = set(keys.filter(pl.col("firm_id") == firm)["client_key"])
    assert any(any(k.startswith(tok) for k in own) for tok in hex_tokens)
    leaked = {tok for tok in hex_tokens for k in foreign_keys if k.startswith(tok)}
    assert not leaked
    assert not [t for t in seen for other in others if other in t]
    # The firm filter is fixed to the scoped firm.
    assert at.selectbox(key="f_firm_scoped").options == [firm]
    assert at.selectbox(key="f_firm_scoped").disabled


def test_pasting_another_firms_client_key_finds_nothing(app, built_home):
    con = open_snapshot(built_home.published_dir, part="firms")
    try:
        firm, other_client = con.sql(
            "SELECT min(firm_id), max_by(client_key, firm_id) FROM detail.fct_interviews"
        ).fetchall()[0]
    finally:
        con.close()
    at = open_page(app(built_home, firm=firm), "journeys")
    at.text_input(key="journey_paste").set_value(other_client).run()
    assert "No client with that key in this snapshot." in [w.value for w in at.warning]
    assert not at.metric


def test_home_shows_the_cross_firm_benchmark_only_to_a_scoped_firm(app, built_home):
    unscoped = open_page(app(built_home), "home")
    assert "Benchmark: all firms" not in [s.value for s in unscoped.subheader]
    firm = unscoped.multiselect(key="f_firms").options[0]
    scoped = open_page(app(built_home, firm=firm), "home")
    assert "Benchmark: all firms" in [s.value for s in scoped.subheader]
    bench = scoped.dataframe[-1].value
    # The five tactics' all-firm headline rows (advance), no per-firm segment.
    assert list(bench["Tactic"]) == list(TACTIC_LABELS.values())
    assert set(bench["Method"]) <= {"same client", "adjusted"}


def test_a_new_snapshot_is_picked_up_on_the_next_rerun(app, tiny_home, tmp_path):
    home = Settings(home=tmp_path / "home")
    shutil.copytree(tiny_home.home, home.home, symlinks=True)
    at = app(home).run()
    first = snapshot_id(home)
    assert at.caption[-1].value.startswith(f"Snapshot {first} ")
    publish_home(home)
    second = snapshot_id(home)
    assert second != first
    at.run()
    assert at.caption[-1].value.startswith(f"Snapshot {second} ")


class RecordingStorage(MemoryMediaFileStorage):
    files: ClassVar[dict[str, bytes]] = {}

    def load_and_get_id(self, path_or_data, mimetype, kind, filename=None):
        if filename and filename.endswith(".csv"):
            RecordingStorage.files[filename] = path_or_data
        return super().load_and_get_id(path_or_data, mimetype, kind, filename)


@pytest.mark.parametrize(
    "page",
    ["home", "hypotheses", "funnel", "timing", "objections", "perception", "warm_prospects"],
)
def test_chart_downloads_are_csv_with_the_intervals(app, built_home, monkeypatch, page):
    monkeypatch.setattr(app_test, "MemoryMediaFileStorage", RecordingStorage)
    at = app(built_home).run()
    RecordingStorage.files = {}  # only the page's own downloads count
    path = dict(zip(PAGE_IDS, (p for _, p in PAGES), strict=True))[page]
    at.switch_page(path).run()
    assert not at.exception
    labels = [d.label for d in at.get("download_button")]
    assert labels and len(RecordingStorage.files) == len(labels)
    sid = snapshot_id(built_home)
    assert all(name.endswith(f"-{sid}.csv") for name in RecordingStorage.files)
    with_ci = 0
    for data in RecordingStorage.files.values():
        frame = pl.read_csv(io.BytesIO(data))
        assert frame.height > 0
        lows = [c for c in frame.columns if c.endswith("ci_low")]
        highs = [c for c in frame.columns if c.endswith("ci_high")]
        assert len(lows) == len(highs)
        with_ci += bool(lows)
        # Downloads keep the machine names.
        assert all(re.fullmatch(r"[a-z0-9_]+", c) for c in frame.columns), frame.columns
    assert with_ci >= 1


def test_data_health_shows_the_gx_results_and_links_the_data_docs(app, tiny_home, tmp_path):
    from pipelines.app.tasks import build_quality_docs, check_marts, publish_snapshot

    home = Settings(home=tmp_path / "home")
    shutil.copytree(tiny_home.home, home.home, symlinks=True)
    expectations = check_marts(home)  # the real GX checks, as the DAG runs them
    docs = build_quality_docs(home)
    assert docs
    publish_snapshot(home)

    at = open_page(app(home), "health")
    summary = next(m.value for m in at.markdown if m.value.startswith("Mart checks"))
    assert f"**{expectations} expectations, all passed**" in summary
    link = next(m.value for m in at.markdown if "GX Data Docs" in m.value)
    assert f"({Path(docs).as_uri()})" in link
    assert at.code[0].value == docs

    firm = at.multiselect(key="f_firms").options[0]
    scoped = open_page(app(home, firm=firm), "health")
    assert not [m for m in scoped.markdown if "GX Data Docs" in m.value]
    assert "operators only" in " ".join(texts(scoped))
