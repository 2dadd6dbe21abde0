"""Who is looking, decided before anything is loaded or drawn.

Local mode (``SEALDEAL_AUTH_CONFIG`` unset): one user, no sign-in, a banner on every page; the
scope is the operator's, or with ``SEALDEAL_FIRM`` that firm's admin's. Signed-in mode: Streamlit's
own ``st.login`` (OpenID Connect through Authlib; ``sealdeal serve`` hands it the ``[auth]``
table), then the ``[access]`` table decides the scope (``dashboards.access``). A visitor who is
not signed in, or signed in without a mapping, gets the sign-in button or a refusal and the run
stops: no page is offered and nothing is read. Sign-ins, refusals, page views, downloads and
sign-outs go to the access log (``dashboards.access_log``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import streamlit as st

from dashboards import access, access_log, data

LOGGED_KEY = "sealdeal_logged_in_as"  # the (identity, scope) whose sign-in this session logged
PAGE_KEY = "sealdeal_page"  # the page last logged as viewed in this session
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Viewer:
    scope: access.Scope
    identity: str | None = None  # as signed in (the e-mail claim, else sub:<subject>)

    @property
    def signed_in(self) -> bool:
        return self.identity is not None


def config_path() -> Path | None:
    value = os.environ.get(access.ENV)
    return Path(value) if value else None


@st.cache_resource(max_entries=4, show_spinner=False)
def _config(path: str, mtime_ns: int) -> access.AccessConfig:
    # Keyed by the file's mtime: an edited table takes effect on the next rerun.
    return access.load(Path(path))


def _stop(message: str) -> NoReturn:
    st.title("SealDeal")
    st.error(message, icon=":material/lock:")
    st.stop()


def viewer() -> Viewer:
    """The viewer of this run, or a sign-in page / refusal and a stopped run."""
    path = config_path()
    user = st.user.to_dict()
    streamlit_auth = "is_logged_in" in user  # Streamlit was given an [auth] table
    if path is None:
        if streamlit_auth:  # fail closed: sign-in settings without the access table
            _stop(
                f"Streamlit has sign-in settings but {access.ENV} is not set, so nobody's "
                "access is known. Start the dashboards with `sealdeal serve`."
            )
        return _local()
    try:
        config = _config(str(path), path.stat().st_mtime_ns)
    except (OSError, access.AccessConfigError) as exc:
        _log.error("access configuration unusable: %s", exc)
        _stop(
            "Sign-in is misconfigured, so nothing is shown. An operator must fix it (the "
            "server log says what is wrong)."
        )
    if not streamlit_auth:
        _stop(
            f"{access.ENV} is set but Streamlit was not given its [auth] settings: start the "
            "dashboards with `sealdeal serve`."
        )
    if st.get_option("server.trustedUserHeaders"):
        # Headers named there override the signed cookie in st.user: anyone could claim anyone.
        _stop("server.trustedUserHeaders is set: sign-in cannot be trusted. Remove it.")
    if not user.get("is_logged_in"):
        _sign_in_page()
    identity = _identity(user)
    decision = config.resolve(user)
    if isinstance(decision, access.Refused):
        _log_once("refused", identity, None)
        _refused_page(identity, decision.reason)
    _log_once("sign_in", identity, decision)
    with st.sidebar:
        st.caption(f"Signed in as **{identity}** · {decision.describe()}")
        st.button("Sign out", key="sign_out", on_click=_sign_out, args=(identity, decision))
    return Viewer(decision, identity)


def _identity(user: dict) -> str:
    email = user.get("email")
    return email if isinstance(email, str) and email else f"sub:{user.get('sub')}"


def _local() -> Viewer:
    scope = data.local_scope()
    sees = f"firm {scope.firm}'s data" if scope.firm else "every firm's data"
    st.info(
        f"**Local mode**: one user, no sign-in. Whoever can open this address sees {sees}. "
        f"For several people, set up sign-in ({access.ENV}, docs/access.md).",
        icon=":material/person:",
    )
    return Viewer(scope)


def _sign_in_page() -> NoReturn:
    st.title("SealDeal")
    st.markdown("Interview-debrief analytics for coaching firms. Sign in to see the dashboards.")
    st.button("Sign in", key="sign_in", type="primary", on_click=st.login)
    st.stop()


def _refused_page(identity: str, reason: str) -> NoReturn:
    st.title("SealDeal")
    st.error(
        f"You are signed in as **{identity}**, but this account has no access to SealDeal. "
        f"{reason} Ask an operator to add you to the access table.",
        icon=":material/block:",
    )
    st.button("Sign out", key="sign_out", on_click=_sign_out, args=(identity, None))
    st.stop()


def _record(event: str, identity: str, scope: access.Scope | None, **names: str | None) -> None:
    role, firm = (scope.role.value, scope.firm) if scope else (None, None)
    access_log.record(data.settings().home, event, identity, role, firm, **names)


def _log_once(event: str, identity: str, scope: access.Scope | None) -> None:
    """One sign_in (or refused) per browser session and grant: a new tab or a reload with the
    sign-in cookie is a new session, so it logs again."""
    marker = (event, identity, scope)
    if st.session_state.get(LOGGED_KEY) != marker:
        st.session_state[LOGGED_KEY] = marker
        _record(event, identity, scope)


def _sign_out(identity: str, scope: access.Scope | None) -> None:
    _record("sign_out", identity, scope)
    st.logout()


def page_viewed(who: Viewer, title: str) -> None:
    """Log a page view when the session moves to another page (not on every rerun)."""
    if who.signed_in and st.session_state.get(PAGE_KEY) != title:
        st.session_state[PAGE_KEY] = title
        _record("page_view", who.identity, who.scope, page=title)


def download_logger(who: Viewer, name: str) -> Callable[[], None] | str:
    """The ``on_click`` of a CSV download: log it when signed in (the click reruns the app),
    else no rerun at all."""
    if not who.signed_in:
        return "ignore"

    def logged() -> None:
        page = st.session_state.get(PAGE_KEY)
        _record("download", who.identity, who.scope, page=page, download=name)

    return logged
