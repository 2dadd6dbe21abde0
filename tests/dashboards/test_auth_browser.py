"""Sign-in for real: an OpenID Connect provider (oidc-provider-mock, built on Authlib) and
`sealdeal serve` with an access configuration pointing at it, both on 127.0.0.1, driven by
headless Chromium through the provider's own login form.

- before sign-in: the sign-in button and nothing else, whatever page URL is opened;
- a coach of north-star: that firm's pages and figures only (its interview count, the firm
  filter fixed to it, no other firm's name anywhere), no data health, no research pages, not
  even by URL or query parameter; a CSV download; sign-out through the provider's end-session
  page, after which the sign-in button is back and no figure is shown;
- a researcher (mapped by an identity-provider group): the research pages only, with figures
  from research.duckdb, no firm page and no client;
- a signed-in user with no mapping: refused, no page, no figure;
- the access log holds exactly those events, with no other personal data.

Uses Debian's chromium; skipped locally without it, failed when CI is set.
"""

from __future__ import annotations

import re
import secrets
import shutil
import threading

import duckdb
import pytest

from dashboards import PAGES, RESEARCH_PAGES, access_log
from pipelines.core.settings import Settings
from tests.dashboards.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    TIMEOUT_MS,
    free_port,
    require_chromium,
    serving,
    settled,
)

pytestmark = pytest.mark.browser

COACH = "ana@north-star.example"
RESEARCHER = "rita@research.example"
STRANGER = "sam@elsewhere.example"
FIRM, OTHER_FIRMS = "north-star", ("bright-path", "summit-coaching")
USERS = {
    COACH: {"email": COACH, "email_verified": True, "groups": ["coaches"]},
    RESEARCHER: {"email": RESEARCHER, "email_verified": True, "groups": ["sealdeal-research"]},
    STRANGER: {"email": STRANGER, "email_verified": True, "groups": ["marketing"]},
}
FIRM_TITLES = [t for t, path in PAGES if path != "views/health.py"]
RESEARCH_TITLES = [t for t, _ in RESEARCH_PAGES]


@pytest.fixture
def provider():
    """A real OpenID Connect provider on 127.0.0.1, in a thread of this process."""
    import werkzeug.serving
    from oidc_provider_mock import User, app

    users = [User(sub=sub, claims=claims) for sub, claims in USERS.items()]
    server = werkzeug.serving.make_server("127.0.0.1", 0, app(user_claims=users), threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@pytest.fixture
def home(built_home, tmp_path) -> Settings:
    """The shared snapshot in a home of its own: the server writes its access log there."""
    home = Settings(home=tmp_path / "home")
    shutil.copytree(built_home.published_dir, home.published_dir, symlinks=True)
    return home


@pytest.fixture
def server(provider, home, tmp_path):
    require_chromium()
    port = free_port()
    config = tmp_path / "sealdeal-auth.toml"
    config.write_text(
        f"""
[auth]
redirect_uri = "http://127.0.0.1:{port}/oauth2callback"
cookie_secret = "{secrets.token_urlsafe(32)}"
client_id = "sealdeal-dashboards"
client_secret = "{secrets.token_urlsafe(24)}"
server_metadata_url = "{provider}/.well-known/openid-configuration"

[access]
groups_claim = "groups"

[[access.users]]
email = "{COACH}"
role = "coach"
firm = "{FIRM}"

[[access.groups]]
group = "sealdeal-research"
role = "researcher"
"""
    )
    env = {"SEALDEAL_AUTH_CONFIG": str(config)}
    with serving(home.home, port, tmp_path / "streamlit.log", env) as url:
        yield url


def _interviews_of(home: Settings, firm: str) -> int:
    con = duckdb.connect(str(home.published_dir / "current" / "firms.duckdb"), read_only=True)
    try:
        sql = "SELECT count(*) FROM detail.fct_interviews WHERE firm_id = ?"
        return con.execute(sql, [firm]).fetchone()[0]
    finally:
        con.close()


def _signed_out(page, url: str) -> None:
    """The sign-in page: its button, no navigation, no figure, no table."""
    from playwright.sync_api import expect

    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    settled(page)
    expect(page.get_by_test_id("stSidebarNav")).to_have_count(0)
    for figure in ("stVegaLiteChart", "stDataFrame", "stMetric"):
        expect(page.get_by_test_id(figure)).to_have_count(0)


def _sign_in(page, url: str, sub: str) -> None:
    """Through the provider's real authorization form."""
    page.goto(url)
    _signed_out(page, url)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/oauth2/authorize"))
    page.locator("input[name='sub']").fill(sub)
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(re.compile(re.escape(url) + r"/?$"))


def _nav(page) -> list[str]:
    from playwright.sync_api import expect

    nav = page.get_by_test_id("stSidebarNav")
    expect(nav).to_be_visible()
    return [t.strip() for t in nav.get_by_role("link").all_inner_texts()]


def _not_offered(page, url: str, home_title: str) -> None:
    """A page URL the role is not offered: Streamlit says so and runs the role's first page."""
    from playwright.sync_api import expect

    page.goto(url)
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Page not found")
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    expect(page.get_by_role("heading", name=home_title)).to_be_visible()
    settled(page)


def _main_text(page) -> str:
    return (
        page.get_by_test_id("stMain").inner_text() + page.get_by_test_id("stSidebar").inner_text()
    )


def test_sign_in_as_coach_researcher_and_unmapped_user_then_sign_out(server, home):
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            # Before sign-in nothing is shown, whichever page is asked for.
            page = browser.new_page(viewport={"width": 1400, "height": 1100})
            page.set_default_timeout(TIMEOUT_MS)
            for path in ("", "/health", "/journeys", "/research_tables"):
                page.goto(server + path)
                _signed_out(page, server)
            page.close()

            # A coach of north-star: the firm's pages and numbers, nobody else's.
            page = browser.new_context().new_page()
            page.set_default_timeout(TIMEOUT_MS)
            _sign_in(page, server, COACH)
            expect(page.get_by_role("heading", name="Seal the deal")).to_be_visible()
            expect(page.get_by_test_id("stVegaLiteChart").first).to_be_visible()
            settled(page)
            assert _nav(page) == FIRM_TITLES
            text = _main_text(page)
            assert f"Signed in as {COACH}" in text and f"coach, firm {FIRM}" in text
            assert f"{_interviews_of(home, FIRM):,} interviews" in text
            assert "Benchmark: all firms" in text
            assert "Local mode" not in text
            firm_filter = page.get_by_test_id("stSidebar").get_by_role("combobox", name="Firm")
            expect(firm_filter).to_have_value(FIRM)
            expect(firm_filter).to_be_disabled()
            for other in OTHER_FIRMS:
                assert other not in text
            # No page of another role, by URL; no other firm by query parameter.
            for path in ("/health", "/research_tables", f"/?firm={OTHER_FIRMS[0]}"):
                if "?" in path:
                    page.goto(server + path)
                    expect(page.get_by_role("heading", name="Seal the deal")).to_be_visible()
                    settled(page)
                else:
                    _not_offered(page, server + path, "Seal the deal")
                text = _main_text(page)
                assert "Data health" not in text and "Research tables" not in text
                assert all(other not in text for other in OTHER_FIRMS)
            # A download, logged.
            with page.expect_download() as download:
                page.get_by_role("button", name="Download tactic ranking (CSV)").click()
            assert download.value.suggested_filename.startswith("tactic_ranking-")
            settled(page)
            # Sign out, through the provider's end-session page: back to the sign-in button.
            page.get_by_role("button", name="Sign out").click()
            page.wait_for_url(re.compile(r"/oauth2/end_session"))
            page.get_by_role("button", name="End session").click()
            page.wait_for_url(re.compile(re.escape(server) + r"/?$"))
            _signed_out(page, server)
            page.goto(server + "/journeys")  # the cookie is gone: nothing by URL either
            _signed_out(page, server)

            # A researcher, mapped by a group: research pages only, from research.duckdb.
            page = browser.new_context().new_page()
            page.set_default_timeout(TIMEOUT_MS)
            _sign_in(page, server, RESEARCHER)
            expect(page.get_by_role("heading", name="Published estimates")).to_be_visible()
            expect(page.get_by_test_id("stVegaLiteChart").first).to_be_visible()
            settled(page)
            assert _nav(page) == RESEARCH_TITLES
            text = _main_text(page)
            assert "researcher" in text and "research release" in text
            assert "Filters" not in text and "interviews (" not in text
            _not_offered(page, server + "/journeys", "Published estimates")
            assert "Client journeys" not in _main_text(page)
            page.get_by_test_id("stSidebarNav").get_by_text("Research tables").click()
            expect(page.get_by_role("heading", name="Research tables")).to_be_visible()
            expect(page.get_by_test_id("stDataFrame").first).to_be_visible()
            settled(page)

            # Signed in, but in no rule: refused, nothing shown.
            page = browser.new_context().new_page()
            page.set_default_timeout(TIMEOUT_MS)
            _sign_in(page, server, STRANGER)
            expect(page.get_by_text("has no access to SealDeal")).to_be_visible()
            settled(page)
            expect(page.get_by_test_id("stSidebarNav")).to_have_count(0)
            for figure in ("stVegaLiteChart", "stDataFrame", "stMetric"):
                expect(page.get_by_test_id(figure)).to_have_count(0)
            expect(page.get_by_role("button", name="Sign out")).to_be_visible()
        finally:
            browser.close()

    events = access_log.read(home.home)
    assert all(
        set(e) == {"time", "identity", "role", "firm", "event", "page", "download"} for e in events
    )
    by = {who: [e for e in events if e["identity"] == who] for who in USERS}
    coach = [e["event"] for e in by[COACH]]
    assert coach[0] == "sign_in" and coach[-1] == "sign_out"
    assert "page_view" in coach and coach.count("download") == 1
    assert {(e["role"], e["firm"]) for e in by[COACH]} == {("coach", FIRM)}
    (download,) = [e for e in by[COACH] if e["event"] == "download"]
    assert download["download"] == "tactic_ranking" and download["page"] == "Seal the deal"
    assert by[RESEARCHER][0]["event"] == "sign_in"
    assert {(e["role"], e["firm"]) for e in by[RESEARCHER]} == {("researcher", None)}
    assert {e["page"] for e in by[RESEARCHER] if e["event"] == "page_view"} == set(RESEARCH_TITLES)
    assert [e["event"] for e in by[STRANGER]] == ["refused"]
    assert by[STRANGER][0]["role"] is None
