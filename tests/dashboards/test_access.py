"""Access: the configuration format (the example of docs/access.md as it stands) and its start-up
errors; who gets which scope; each role's pages; what each scope loads from real published
snapshots; the app under AppTest as each role, refused and signed out; the access log."""

from __future__ import annotations

import json
import re
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dashboards import PAGES, RESEARCH_PAGES, access, access_log, data
from dashboards.access import AccessConfigError, Refused, Role, Scope
from tests.dashboards.test_app import charts, texts
from warehouse.publish import current_snapshot

DOC = Path(__file__).resolve().parents[2] / "docs" / "access.md"
AUTH = """
[auth]
redirect_uri = "http://127.0.0.1:8501/oauth2callback"
cookie_secret = "0123456789abcdef0123456789abcdef"
client_id = "sealdeal"
client_secret = "s3cret"
server_metadata_url = "http://127.0.0.1:9000/.well-known/openid-configuration"
"""
ACCESS = """
[access]
[[access.users]]
email = "Ana@North-Star.example"
role = "coach"
firm = "north-star"

[[access.users]]
email = "ops@sealdeal.example"
role = "operator"

[[access.groups]]
group = "north-star-admins"
role = "firm_admin"
firm = "north-star"

[[access.groups]]
group = "bright-path-admins"
role = "firm_admin"
firm = "bright-path"

[[access.groups]]
group = "sealdeal-research"
role = "researcher"
"""
FIRM_TITLES = [t for t, p in PAGES if p != access.HEALTH_PAGE]


def config(access_text: str = ACCESS, auth: str = AUTH) -> access.AccessConfig:
    return access.parse(auth + access_text)


def doc_example() -> str:
    return re.search(r"```toml\n(.*?)```", DOC.read_text(), re.S).group(1)


# ------------------------------------------------------------------------------ the format


def test_the_documented_example_is_a_valid_configuration():
    parsed = access.parse(doc_example())
    assert parsed.users["ana@north-star.example"] == Scope(Role.COACH, "north-star")
    assert parsed.users["ops@sealdeal.example"] == Scope(Role.OPERATOR)
    assert parsed.groups["north-star-admins"] == Scope(Role.FIRM_ADMIN, "north-star")
    assert parsed.groups["sealdeal-research"] == Scope(Role.RESEARCHER)
    assert parsed.groups_claim == "groups" and parsed.require_verified_email


@pytest.mark.parametrize(
    ("access_text", "auth", "says"),
    [
        ('[[access.users]]\nemail = "a@b.c"\nrole = "admin"', AUTH, "unknown role 'admin'"),
        ('[[access.users]]\nemail = "a@b.c"\nrole = "coach"', AUTH, "a coach needs a firm"),
        (
            '[[access.groups]]\ngroup = "g"\nrole = "firm_admin"',
            AUTH,
            "[[access.groups]] #1: a firm_admin needs a firm",
        ),
        (
            '[[access.users]]\nemail = "a@b.c"\nrole = "researcher"\nfirm = "north-star"',
            AUTH,
            "a researcher sees no firm's rows: remove firm",
        ),
        (
            '[[access.users]]\nemail = "a@b.c"\nrole = "operator"\nfirm = "x1"',
            AUTH,
            "an operator sees every firm: remove firm",
        ),
        ('[[access.users]]\nemail = "a@b.c"\nrole = "coach"\nfirm = "A B"', AUTH, "not a firm id"),
        ('[[access.users]]\nemail = "nobody"\nrole = "operator"', AUTH, "not an e-mail address"),
        ('[[access.users]]\nrole = "operator"', AUTH, "email is missing"),
        ('[[access.users]]\nemial = "a@b.c"\nrole = "operator"', AUTH, "unknown key(s) ['emial']"),
        (
            '[[access.users]]\nemail = "a@b.c"\nrole = "operator"\n'
            '[[access.users]]\nemail = "A@B.C"\nrole = "researcher"',
            AUTH,
            "#2: email 'a@b.c' is mapped twice",
        ),
        (
            '[[access.groups]]\ngroup = "g"\nrole = "operator"\n'
            '[[access.groups]]\ngroup = "g"\nrole = "researcher"',
            AUTH,
            "group 'g' is mapped twice",
        ),
        ("groups_claim = 3", AUTH, "groups_claim must be a claim name"),
        ('require_verified_email = "yes"', AUTH, "must be true or false"),
        ("", AUTH, "maps nobody"),
        ('colour = "red"', AUTH, "[access]: unknown key(s) ['colour']"),
        ('[[access.users]]\nemail = "a@b.c"\nrole = "operator"', "", "[auth] is missing"),
        (
            '[[access.users]]\nemail = "a@b.c"\nrole = "operator"',
            AUTH.replace('client_secret = "s3cret"\n', ""),
            "[auth] lacks client_secret",
        ),
        (
            '[[access.users]]\nemail = "a@b.c"\nrole = "operator"',
            AUTH.replace("/oauth2callback", "/callback"),
            "must end with /oauth2callback",
        ),
        (
            '[[access.users]]\nemail = "a@b.c"\nrole = "operator"',
            AUTH.replace("0123456789abcdef0123456789abcdef", "short"),
            "cookie_secret must be at least 32 characters",
        ),
        (
            '[[access.users]]\nemail = "a@b.c"\nrole = "operator"',
            AUTH + '\n[auth.google]\nclient_id = "x"\n',
            "unsupported key(s) ['google']",
        ),
        (
            '[[access.users]]\nemail = "a@b.c"\nrole = "operator"',
            AUTH.replace('"http://127.0.0.1:9000/', '"ftp://127.0.0.1:9000/'),
            "server_metadata_url is not an http(s) URL",
        ),
    ],
)
def test_a_configuration_nobody_could_trust_is_refused_with_where_and_why(access_text, auth, says):
    with pytest.raises(AccessConfigError) as err:
        config("[access]\n" + access_text, auth)
    assert says in str(err.value)


def test_not_toml_and_stray_tables_are_refused(tmp_path):
    with pytest.raises(AccessConfigError, match="not valid TOML"):
        access.parse("[auth\n", "auth.toml")
    with pytest.raises(AccessConfigError, match=r"unknown table\(s\) \['roles'\]"):
        access.parse(AUTH + ACCESS + "[roles]\n")
    with pytest.raises(AccessConfigError, match="cannot read it"):
        access.load(tmp_path / "missing.toml")
    path = tmp_path / "auth.toml"
    path.write_text(AUTH + "[access]\n")
    with pytest.raises(AccessConfigError, match=re.escape(f"{path}: [access] maps nobody")):
        access.load(path)


# ------------------------------------------------------------------------------ who gets what


def test_an_email_rule_is_matched_without_case_and_needs_a_verified_email():
    c = config()
    coach = Scope(Role.COACH, "north-star")
    assert c.resolve({"email": "ana@north-star.EXAMPLE", "email_verified": True}) == coach
    unverified = c.resolve({"email": "ana@north-star.example", "email_verified": False})
    assert isinstance(unverified, Refused) and "email_verified" in unverified.reason
    assert isinstance(c.resolve({"email": "ana@north-star.example"}), Refused)
    lenient = config(ACCESS.replace("[access]", "[access]\nrequire_verified_email = false"))
    assert lenient.resolve({"email": "ana@north-star.example"}) == coach


def test_groups_give_a_scope_only_when_they_agree():
    c = config()
    assert c.resolve({"groups": ["sealdeal-research", "unmapped"]}) == Scope(Role.RESEARCHER)
    assert c.resolve({"groups": "north-star-admins"}) == Scope(Role.FIRM_ADMIN, "north-star")
    torn = c.resolve({"groups": ["north-star-admins", "bright-path-admins"]})
    assert isinstance(torn, Refused) and "different roles or firms" in torn.reason
    # The e-mail rule wins over the groups.
    both = {
        "email": "ops@sealdeal.example",
        "email_verified": True,
        "groups": ["north-star-admins"],
    }
    assert c.resolve(both) == Scope(Role.OPERATOR)
    other_claim = config(ACCESS.replace("[access]", '[access]\ngroups_claim = "roles"'))
    assert other_claim.resolve({"roles": ["sealdeal-research"]}) == Scope(Role.RESEARCHER)
    assert isinstance(other_claim.resolve({"groups": ["sealdeal-research"]}), Refused)


def test_no_rule_refuses():
    refused = config().resolve({"email": "sam@else.example", "email_verified": True, "groups": []})
    assert refused == Refused("Your account is not in SealDeal's access table.")


def test_each_role_is_offered_its_pages_only():
    research = [t for t, _ in RESEARCH_PAGES]
    titles = {role: [t for t, _ in access.pages(role)] for role in Role}
    assert titles[Role.COACH] == FIRM_TITLES
    assert titles[Role.FIRM_ADMIN] == [t for t, _ in PAGES]
    assert titles[Role.RESEARCHER] == research
    assert titles[Role.OPERATOR] == [t for t, _ in PAGES] + research


def test_a_scope_is_consistent_with_its_role():
    with pytest.raises(ValueError, match="needs a firm"):
        Scope(Role.COACH)
    with pytest.raises(ValueError, match="sees no single firm"):
        Scope(Role.RESEARCHER, "north-star")
    assert access.local_scope(None) == Scope(Role.OPERATOR)
    assert access.local_scope("north-star") == Scope(Role.FIRM_ADMIN, "north-star")


# ------------------------------------------------------------------------------ what is loaded


@pytest.fixture
def opened(monkeypatch):
    """Which snapshot files the data layer opens."""
    parts: list[str] = []
    real = data.open_snapshot

    def recording(published, snapshot_id=None, part="research"):
        parts.append(part)
        return real(published, snapshot_id, part)

    monkeypatch.setattr(data, "open_snapshot", recording)
    return parts


def _published(home):
    return str(home.published_dir), current_snapshot(home.published_dir).name


def _firms(home) -> list[str]:
    published, sid = _published(home)
    return data.load_snapshot(published, sid, Scope(Role.OPERATOR)).options["firms"]


def test_a_coach_loads_their_firms_rows_and_no_data_health(built_home):
    published, sid = _published(built_home)
    firm = _firms(built_home)[1]
    snap = data.load_snapshot(published, sid, Scope(Role.COACH, firm))
    assert snap.fct.height > 0 and set(snap.fct["firm_id"]) == {firm}
    assert set(snap.outcome_history["firm_id"]) == {firm}
    assert snap.quarantine_by_reason.is_empty() and snap.mart_checks.width == 0  # not read
    assert snap.ingest_files.is_empty()
    assert set(snap.benchmark["segment"]) == {"all"}  # the k-suppressed cross-firm aggregate


def test_a_firm_admin_adds_the_firms_data_health_and_an_operator_sees_everything(built_home):
    published, sid = _published(built_home)
    firms = _firms(built_home)
    admin = data.load_snapshot(published, sid, Scope(Role.FIRM_ADMIN, firms[0]))
    assert set(admin.fct["firm_id"]) == {firms[0]}
    assert "expectation" in admin.mart_checks.columns  # read (no GX run here: no rows)
    assert set(admin.quarantine_by_reason["firm_id"]) <= {firms[0]}
    assert admin.ingest_files.is_empty()  # landing files hold every firm
    operator = data.load_snapshot(published, sid, Scope(Role.OPERATOR))
    assert set(operator.fct["firm_id"]) == set(firms) and len(firms) == 3
    assert operator.ingest_files.height > 0


def test_a_researcher_never_opens_firms_duckdb(built_home, opened):
    published, sid = _published(built_home)
    researcher = Scope(Role.RESEARCHER)
    with pytest.raises(access.Forbidden):
        data.load_snapshot(published, sid, researcher)
    data.load_research.clear()
    research = data.load_research(published, sid, researcher)
    tactics = data.research_table(research, "marts.tactic_estimates")
    assert "is_suppressed" in tactics.columns and tactics.height > 0
    assert "fct_interviews" not in " ".join(research.tables["name"])
    assert opened and set(opened) == {"research"}


def test_the_row_level_release_is_for_researchers_and_operators_only(built_home):
    published, sid = _published(built_home)
    firm = _firms(built_home)[0]
    every = data.load_research(published, sid, Scope(Role.OPERATOR)).tables["name"].to_list()
    assert (
        every == data.load_research(published, sid, Scope(Role.RESEARCHER)).tables["name"].to_list()
    )
    coach = data.load_research(published, sid, Scope(Role.COACH, firm))
    assert {n.split(".")[0] for n in coach.tables["name"]} == {"marts", "meta"}
    beyond = [n for n in every if n.split(".")[0] not in ("marts", "meta")]
    for name in [*beyond, "microdata.interviews"]:  # listed or not: refused all the same
        with pytest.raises(access.Forbidden):
            data.research_table(coach, name)


# ------------------------------------------------------------------------------ the app


def _write_config(tmp_path: Path) -> Path:
    path = tmp_path / "auth.toml"
    path.write_text(AUTH + ACCESS)
    return path


@pytest.fixture
def signed_in(app, tmp_path, monkeypatch):
    """An AppTest of the dashboards in signed-in mode, as the claims given (None: signed out)."""

    def make(home, claims: dict | None, firm_env: str | None = None):
        at = app(home, firm=firm_env)
        monkeypatch.setenv(access.ENV, str(_write_config(tmp_path)))
        at.user = {"is_logged_in": False} if claims is None else {"is_logged_in": True, **claims}
        return at.run()

    return make


def _home_copy(built_home, tmp_path):
    import shutil

    from pipelines.core.settings import Settings

    home = Settings(home=tmp_path / "home")
    shutil.copytree(built_home.published_dir, home.published_dir, symlinks=True)
    return home


def test_signed_out_sees_a_sign_in_button_and_nothing_else(signed_in, built_home, opened):
    at = signed_in(built_home, None)
    assert not at.exception
    assert [b.label for b in at.button] == ["Sign in"]
    assert charts(at) == 0 and not at.dataframe and not at.metric
    assert not opened  # no snapshot file was even opened


def test_a_coach_gets_their_firm_whatever_sealdeal_firm_says(signed_in, built_home, tmp_path):
    home = _home_copy(built_home, tmp_path)
    firms = _firms(built_home)
    claims = {"email": "ana@north-star.example", "email_verified": True}
    at = signed_in(home, claims, firm_env=firms[0])  # an inherited SEALDEAL_FIRM is ignored
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "Seal the deal"
    assert at.selectbox(key="f_firm_scoped").options == ["north-star"]
    assert at.selectbox(key="f_firm_scoped").disabled
    seen = " ".join(texts(at))
    assert "Signed in as **ana@north-star.example** · coach, firm north-star" in seen
    assert not [f for f in firms if f != "north-star" and f in seen]
    assert "Local mode" not in seen
    # Data health is not a page of a coach's: not even registered with Streamlit.
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("views/health.py")
    events = access_log.read(home.home)
    assert [e["event"] for e in events][:2] == ["sign_in", "page_view"]
    assert {(e["identity"], e["role"], e["firm"]) for e in events} == {
        ("ana@north-star.example", "coach", "north-star")
    }


def test_a_researcher_gets_the_research_pages_from_research_duckdb_alone(
    signed_in, built_home, tmp_path, opened
):
    home = _home_copy(built_home, tmp_path)
    at = signed_in(home, {"email": "rita@research.example", "groups": ["sealdeal-research"]})
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "Published estimates"
    assert charts(at) >= 1
    at.switch_page("views/research_tables.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "Research tables"
    assert at.main.caption[-1].value.endswith("· research release")
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("views/journeys.py")  # not offered, not registered
    assert set(opened) == {"research"}


def test_an_unmapped_user_is_refused_and_shown_nothing(signed_in, built_home, tmp_path, opened):
    home = _home_copy(built_home, tmp_path)
    at = signed_in(home, {"email": "sam@else.example", "email_verified": True})
    assert not at.exception
    assert "has no access to SealDeal" in at.error[0].value
    assert "not in SealDeal's access table" in at.error[0].value
    assert [b.label for b in at.button] == ["Sign out"]
    assert charts(at) == 0 and not at.dataframe and not at.metric and not opened
    (event,) = access_log.read(home.home)
    assert (event["identity"], event["event"], event["role"]) == (
        "sam@else.example",
        "refused",
        None,
    )


def test_signed_in_mode_fails_closed_when_misconfigured(app, built_home, tmp_path, monkeypatch):
    at = app(built_home)
    bad = tmp_path / "bad.toml"
    bad.write_text(AUTH + "[access]\n")
    monkeypatch.setenv(access.ENV, str(bad))
    at.user = {"is_logged_in": True, "email": "ops@sealdeal.example", "email_verified": True}
    at.run()
    assert "Sign-in is misconfigured" in at.error[0].value and charts(at) == 0
    # Streamlit without [auth] while SEALDEAL_AUTH_CONFIG is set: no st.user to trust.
    monkeypatch.setenv(access.ENV, str(_write_config(tmp_path)))
    at.user = {"email": "ops@sealdeal.example"}
    at.run()
    assert "was not given its [auth] settings" in at.error[0].value and charts(at) == 0
    # Streamlit with [auth] but no access table: never local mode.
    monkeypatch.delenv(access.ENV)
    at.user = {"is_logged_in": False}
    at.run()
    assert "SEALDEAL_AUTH_CONFIG is not set" in at.error[0].value and charts(at) == 0


def test_identity_headers_that_could_override_the_cookie_stop_everything(
    signed_in, built_home, monkeypatch
):
    import streamlit as st

    real = st.get_option
    monkeypatch.setattr(
        st,
        "get_option",
        lambda key: {"X-Email": "email"} if key == "server.trustedUserHeaders" else real(key),
    )
    at = signed_in(built_home, {"email": "ops@sealdeal.example", "email_verified": True})
    assert "server.trustedUserHeaders is set" in at.error[0].value and charts(at) == 0


def test_local_mode_says_so_on_every_page(app, built_home):
    at = app(built_home).run()
    assert at.info[0].value.startswith("**Local mode**: one user, no sign-in.")
    assert "every firm's data" in at.info[0].value
    firm = _firms(built_home)[0]
    scoped = app(built_home, firm=firm).run()
    assert f"firm {firm}'s data" in scoped.info[0].value


@pytest.mark.parametrize("snapshot", ["built_home", "empty_home", "tiny_home"])
@pytest.mark.parametrize("page", [path for _, path in RESEARCH_PAGES])
def test_research_pages_render_for_an_operator_in_local_mode(app, request, snapshot, page):
    home = request.getfixturevalue(snapshot)
    at = app(home).run()
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == {p: t for t, p in RESEARCH_PAGES}[page]
    assert "The sidebar's filters apply to the firm pages" in at.caption[0].value
    if snapshot == "built_home":
        assert at.dataframe
        assert charts(at) == (2 if page.endswith("estimates.py") else 0)


# ------------------------------------------------------------------------------ the access log


def test_the_access_log_appends_one_line_per_event_per_month_file(tmp_path):
    when = datetime(2026, 11, 26, 9, 14, 3, tzinfo=UTC)
    access_log.record(tmp_path, "sign_in", "ana@x.example", "coach", "north-star", now=when)
    access_log.record(
        tmp_path, "download", "ana@x.example", "coach", "north-star", page="Seal the deal",
        download="tactic_ranking", now=when,
    )  # fmt: skip
    path = tmp_path / "access_log" / "access-2026-11.jsonl"
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert lines[1] == {
        "time": "2026-11-26T09:14:03Z",
        "identity": "ana@x.example",
        "role": "coach",
        "firm": "north-star",
        "event": "download",
        "page": "Seal the deal",
        "download": "tactic_ranking",
    }
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with pytest.raises(ValueError, match="unknown access-log event"):
        access_log.record(tmp_path, "peeked", "ana@x.example", None, None, now=when)


def test_months_older_than_the_retention_are_deleted_at_start_and_at_a_new_month(tmp_path):
    folder = tmp_path / "access_log"
    folder.mkdir()
    for month in ("2026-05", "2026-07", "2026-08", "2026-09"):
        (folder / f"access-{month}.jsonl").write_text("{}\n")
    (folder / "notes.txt").write_text("not ours")
    # 2026-07 ended 2026-07-31: 92 days before 2026-10-31; 2026-08 ended 61 days before.
    removed = access_log.prune(tmp_path, datetime(2026, 10, 31, tzinfo=UTC))
    assert removed == ["access-2026-05.jsonl", "access-2026-07.jsonl"]
    assert sorted(p.name for p in folder.iterdir()) == [
        "access-2026-08.jsonl",
        "access-2026-09.jsonl",
        "notes.txt",
    ]
    # Beginning a new month's file prunes too: by 2026-12-05 August ended 96 days ago.
    december = datetime(2026, 12, 5, tzinfo=UTC)
    access_log.record(tmp_path, "sign_in", "a@b.c", "operator", None, now=december)
    assert sorted(p.name for p in folder.glob("*.jsonl")) == [
        "access-2026-09.jsonl",
        "access-2026-12.jsonl",
    ]


def test_every_event_of_the_log_is_one_the_docs_describe():
    documented = set(re.findall(r"^\| `(\w+)` \|", DOC.read_text(), re.M))
    assert set(access_log.EVENTS) <= documented
