"""The dashboards under Streamlit's AppTest, on snapshots made by the real pipeline: every page
renders on real data, on an empty snapshot and when every arm is below the minimum n; every
filter changes the numbers (and they are the pipeline's numbers for the filtered rows); a
firm-scoped app shows nothing of another firm; downloads carry the intervals."""

from __future__ import annotations

import io
import re
import shutil
from datetime import date
from pathlib import Path
from typing import ClassVar

import polars as pl
import pytest
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import app_test

from dashboards import PAGES
from pipelines.config import Settings
from pipelines.effects import tactic_effects
from tests.dashboards.conftest import publish_home
from warehouse.publish import current_snapshot, open_snapshot

PAGE_IDS = [path.split("/")[-1].removesuffix(".py") for _, path in PAGES]
# Charts each page draws on the 2,000-interview snapshot (every chart comes with a CSV).
CHARTS_ON_REAL_DATA = {
    "home": 1,
    "timing": 2,
    "objections": 2,
    "perception": 1,
    "warm_prospects": 1,
    "funnel": 3,
    "journeys": 1,
    "health": 0,  # nothing was quarantined
}
# Pages whose charts are rates: with every arm below the minimum n none of them may be drawn.
RATE_ONLY_PAGES = {"home", "timing", "objections", "perception", "warm_prospects"}
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
        elif kind in ("download_button", "button"):
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


def test_home_ranks_tactics_with_crude_and_adjusted_numbers(app, built_home):
    at = open_page(app(built_home), "home")
    sentences = [m.value for m in at.markdown if re.match(r"(:gray\[)?\*\*\d\.\*\*", m.value)]
    assert len(sentences) == 5
    for text in sentences:
        assert re.search(r"got offers \d+% of the time vs \d+% \([+-]?\d+ pts, 95% CI", text)
        assert "Adjusted for stage, seniority, industry and experience" in text
    table = at.dataframe[0].value
    assert list(table["rank"]) == [1, 2, 3, 4, 5]
    assert {"n_with", "n_without", "diff_ci_low", "adj_ci_high", "q_value"} <= set(table.columns)
    # Non-findings are labelled in the table and greyed in the text, never shown as findings.
    for status, text in zip(table["status"], sentences, strict=True):
        assert (status == "finding") == text.startswith("**")
        if status != "finding":
            assert "Not a finding" in text or "not enough data" in text


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
        sentences = [m.value for m in at.markdown if "Clients who" in m.value]
        assert len(sentences) == 5
        assert all("not enough data (n < 30 per arm" in s for s in sentences)
        assert set(at.dataframe[0].value["status"]) == {"not enough data (n < 30 per arm)"}


def test_no_snapshot_yet_says_so(app, tmp_path):
    at = app(Settings(home=tmp_path / "fresh")).run()
    assert not at.exception
    assert "No snapshot has been published yet" in at.info[0].value


def _one_firm(at):
    firms = at.multiselect(key="f_firms")
    firms.set_value(firms.options[:1])


FILTERS = {
    "firm": _one_firm,
    "dates": lambda at: at.date_input[0].set_value((date(2025, 1, 1), date(2025, 9, 30))),
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


def test_home_numbers_are_the_pipelines_numbers_for_the_filtered_rows(app, built_home):
    """The filter is applied by SQL here and by the app's Polars filter there: same rows, same
    tactic_effects, to the last digit."""
    at = open_page(app(built_home), "home")
    at.multiselect(key="f_stages").set_value(["hiring_manager", "final"])
    at.multiselect(key="f_seniorities").set_value(["mid", "senior"])
    at.run()
    shown = pl.from_pandas(at.dataframe[0].value).sort("tactic")

    con = open_snapshot(built_home.published_dir, part="detail")
    try:
        rows = con.sql(
            'SELECT * FROM "detail"."detail".fct_interviews '
            "WHERE stage IN (?, ?) AND seniority IN (?, ?)",
            params=["hiring_manager", "final", "mid", "senior"],
        ).pl()
    finally:
        con.close()
    expected = tactic_effects(rows.lazy()).collect().filter(pl.col("segment") == "all")
    expected = expected.sort("tactic")
    for column in ("n_with", "n_without", "offers_with", "diff", "adj_diff", "adj_ci_low"):
        assert shown[column].to_list() == expected[column].to_list(), column


def test_firm_scoped_pages_show_no_row_of_another_firm(app, built_home):
    con = open_snapshot(built_home.published_dir, part="detail")
    try:
        keys = con.sql(
            'SELECT firm_id, client_key, interview_key FROM "detail"."detail".fct_interviews'
        ).pl()
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
    con = open_snapshot(built_home.published_dir, part="detail")
    try:
        firm, other_client = con.sql(
            'SELECT min(firm_id), max_by(client_key, firm_id) FROM "detail"."detail".fct_interviews'
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
    assert len(bench) == 5  # the five tactics' all-firm rows, no per-firm segment


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
    "page", ["home", "timing", "objections", "perception", "warm_prospects", "funnel"]
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
    assert with_ci >= 1


def test_data_health_shows_the_gx_results_and_links_the_data_docs(app, tiny_home, tmp_path):
    from pipelines.tasks import build_quality_docs, check_marts, publish_snapshot

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
