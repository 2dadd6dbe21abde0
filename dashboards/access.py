"""Who may see what: the roles, the pages and data each may load, and the access table of
signed-in mode (docs/access.md).

Signed-in mode is on when ``SEALDEAL_AUTH_CONFIG`` names a TOML file: its ``[auth]`` table is
Streamlit's own OpenID Connect configuration (``sealdeal serve`` hands the file to Streamlit as
its secrets file), its ``[access]`` table maps e-mail addresses and identity-provider groups to
a role and, for the firm roles, a firm::

    [access]
    groups_claim = "groups"          # the ID-token claim listing the user's groups
    require_verified_email = true    # e-mail rules need email_verified = true in the ID token

    [[access.users]]
    email = "ana@north-star.example"
    role = "coach"
    firm = "north-star"

    [[access.groups]]
    group = "sealdeal-research"
    role = "researcher"

A user's grant: their e-mail's rule, else the one grant all their mapped groups agree on;
groups that disagree, or no rule at all, refuse them. Without the variable the dashboards run in
local mode: one user, no sign-in, the operator's view (or ``serve --firm``'s firm admin view).

Everything here is plain Python (no Streamlit): the data layer enforces a ``Scope``, the app
decides which ``Scope`` a viewer gets.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from urllib.parse import urlparse

from dashboards import PAGES, RESEARCH_PAGES
from pipelines.core.spec import FIRM_ID_PATTERN

ENV = "SEALDEAL_AUTH_CONFIG"
# The [auth] keys SealDeal uses: Streamlit's default provider. Named providers ([auth.x]) and
# expose_tokens are left out on purpose: one provider, and no token reaches the pages.
AUTH_REQUIRED = (
    "redirect_uri",
    "cookie_secret",
    "client_id",
    "client_secret",
    "server_metadata_url",
)
AUTH_OPTIONAL = ("client_kwargs",)
MIN_COOKIE_SECRET = 32  # characters; it signs the identity cookie


class Role(StrEnum):
    COACH = "coach"
    FIRM_ADMIN = "firm_admin"
    RESEARCHER = "researcher"
    OPERATOR = "operator"


FIRM_ROLES = frozenset({Role.COACH, Role.FIRM_ADMIN})
# Pages and who is offered them; a page not listed here is a firm page.
HEALTH_PAGE = "views/health.py"
FIRM_PAGE_ROLES = frozenset({Role.COACH, Role.FIRM_ADMIN, Role.OPERATOR})
PAGE_ROLES = {HEALTH_PAGE: frozenset({Role.FIRM_ADMIN, Role.OPERATOR})} | {
    path: frozenset({Role.RESEARCHER, Role.OPERATOR}) for _, path in RESEARCH_PAGES
}


class AccessConfigError(ValueError):
    """The access configuration cannot be used; the message says where and why."""


class Forbidden(PermissionError):
    """A load outside the viewer's scope: a bug, since pages are offered by role."""


@dataclass(frozen=True)
class Scope:
    """What one viewer may load. The data layer reads only what its scope allows."""

    role: Role
    firm: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "role", Role(self.role))
        if (self.role in FIRM_ROLES) != (self.firm is not None):
            need = "needs a firm" if self.role in FIRM_ROLES else "sees no single firm"
            raise ValueError(f"{self.role} {need}")

    @property
    def reads_firms(self) -> bool:
        """Row-level data from firms.duckdb (one firm's rows unless operator)."""
        return self.role != Role.RESEARCHER

    @property
    def reads_health(self) -> bool:
        """Data health: GX checks and the quarantine (of the firm in scope)."""
        return self.role in (Role.FIRM_ADMIN, Role.OPERATOR)

    @property
    def reads_landing_files(self) -> bool:
        """The ingestion's file list: file names name firms, and a file holds every firm."""
        return self.role == Role.OPERATOR

    @property
    def reads_microdata(self) -> bool:
        """The row-level research release (``microdata.*`` of research.duckdb)."""
        return self.role in (Role.RESEARCHER, Role.OPERATOR)

    def describe(self) -> str:
        if self.firm:
            return f"{self.role}, firm {self.firm}"
        return f"{self.role}, all firms" if self.role == Role.OPERATOR else str(self.role)


def local_scope(firm: str | None) -> Scope:
    """Local mode: the operator's view, or with ``serve --firm`` that firm's admin view."""
    return Scope(Role.FIRM_ADMIN, firm) if firm else Scope(Role.OPERATOR)


def pages(role: Role) -> list[tuple[str, str]]:
    """(title, page file) the role is offered, in navigation order."""
    return [
        (title, path)
        for title, path in (*PAGES, *RESEARCH_PAGES)
        if role in PAGE_ROLES.get(path, FIRM_PAGE_ROLES)
    ]


@dataclass(frozen=True)
class Refused:
    """A signed-in identity that is given nothing, and why (shown to them)."""

    reason: str


@dataclass(frozen=True)
class AccessConfig:
    users: Mapping[str, Scope] = field(default_factory=dict)  # casefolded e-mail -> scope
    groups: Mapping[str, Scope] = field(default_factory=dict)
    groups_claim: str = "groups"
    require_verified_email: bool = True

    def resolve(self, claims: Mapping[str, object]) -> Scope | Refused:
        """The scope of a signed-in user from their ID-token claims."""
        email = claims.get("email")
        if isinstance(email, str) and email.casefold() in self.users:
            if claims.get("email_verified") is True or not self.require_verified_email:
                return self.users[email.casefold()]
            unverified = (
                "Your identity provider did not confirm your e-mail address (email_verified), "
                "so it cannot be used to grant access."
            )
        else:
            unverified = ""
        raw = claims.get(self.groups_claim)
        member_of = [raw] if isinstance(raw, str) else raw if isinstance(raw, list) else []
        grants = {self.groups[g] for g in member_of if isinstance(g, str) and g in self.groups}
        if len(grants) == 1:
            return grants.pop()
        if len(grants) > 1:
            return Refused(
                "Your groups map to different roles or firms, and SealDeal does not choose "
                "between them: ask an operator to map your e-mail address to one."
            )
        return Refused(unverified or "Your account is not in SealDeal's access table.")


def _where(kind: str, index: int) -> str:
    return f"[[access.{kind}]] #{index + 1}"


def _scope(entry: Mapping, where: str) -> Scope:
    role = entry.get("role")
    if role not in [r.value for r in Role]:
        known = ", ".join(r.value for r in Role)
        raise AccessConfigError(f"{where}: unknown role {role!r} (roles: {known})")
    firm = entry.get("firm")
    role = Role(role)
    if role in FIRM_ROLES:
        if firm is None:
            raise AccessConfigError(f'{where}: a {role} needs a firm (firm = "...")')
        if not isinstance(firm, str) or not re.fullmatch(FIRM_ID_PATTERN, firm):
            raise AccessConfigError(f"{where}: not a firm id: {firm!r}")
    elif firm is not None:
        who = (
            "an operator sees every firm"
            if role == Role.OPERATOR
            else ("a researcher sees no firm's rows")
        )
        raise AccessConfigError(f"{where}: {who}: remove firm = {firm!r}")
    return Scope(role, firm)


def _rules(access: Mapping, kind: str, key: str) -> dict[str, Scope]:
    entries = access.get(kind, [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise AccessConfigError(f"access.{kind} must be an array of tables ([[access.{kind}]])")
    out: dict[str, Scope] = {}
    for i, entry in enumerate(entries):
        where = _where(kind, i)
        if unknown := set(entry) - {key, "role", "firm"}:
            raise AccessConfigError(f"{where}: unknown key(s) {sorted(unknown)}")
        name = entry.get(key)
        if not isinstance(name, str) or not name.strip():
            raise AccessConfigError(f"{where}: {key} is missing")
        if key == "email":
            if not re.fullmatch(r"[^@\s]+@[^@\s]+", name):
                raise AccessConfigError(f"{where}: not an e-mail address: {name!r}")
            name = name.casefold()
        if name in out:
            raise AccessConfigError(f"{where}: {key} {name!r} is mapped twice")
        out[name] = _scope(entry, where)
    return out


def _check_auth(auth: object) -> None:
    if not isinstance(auth, dict):
        raise AccessConfigError("[auth] is missing: Streamlit's OpenID Connect settings")
    if missing := [k for k in AUTH_REQUIRED if not auth.get(k)]:
        raise AccessConfigError(f"[auth] lacks {', '.join(missing)} (docs/access.md)")
    if unknown := set(auth) - set(AUTH_REQUIRED) - set(AUTH_OPTIONAL):
        raise AccessConfigError(
            f"[auth]: unsupported key(s) {sorted(unknown)}: SealDeal uses one provider, its "
            f"keys directly in [auth] ({', '.join(AUTH_REQUIRED + AUTH_OPTIONAL)})"
        )
    for key in ("redirect_uri", "server_metadata_url"):
        url = urlparse(str(auth[key]))
        if url.scheme not in ("http", "https") or not url.netloc:
            raise AccessConfigError(f"[auth] {key} is not an http(s) URL: {auth[key]!r}")
    if not str(auth["redirect_uri"]).endswith("/oauth2callback"):
        raise AccessConfigError(
            "[auth] redirect_uri must end with /oauth2callback (Streamlit's callback route)"
        )
    if len(str(auth["cookie_secret"])) < MIN_COOKIE_SECRET:
        raise AccessConfigError(
            f"[auth] cookie_secret must be at least {MIN_COOKIE_SECRET} characters (it signs "
            "the sign-in cookie): python -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )


def parse(text: str, source: str = "access configuration") -> AccessConfig:
    """Validate a whole configuration file (``[auth]`` and ``[access]``)."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise AccessConfigError(f"{source}: not valid TOML: {exc}") from None
    try:
        if unknown := set(doc) - {"auth", "access"}:
            raise AccessConfigError(f"unknown table(s) {sorted(unknown)}: only [auth], [access]")
        _check_auth(doc.get("auth"))
        access = doc.get("access")
        if not isinstance(access, dict):
            raise AccessConfigError("[access] is missing: who may see what (docs/access.md)")
        if unknown := set(access) - {"users", "groups", "groups_claim", "require_verified_email"}:
            raise AccessConfigError(f"[access]: unknown key(s) {sorted(unknown)}")
        claim = access.get("groups_claim", "groups")
        verified = access.get("require_verified_email", True)
        if not isinstance(claim, str) or not claim:
            raise AccessConfigError("[access] groups_claim must be a claim name")
        if not isinstance(verified, bool):
            raise AccessConfigError("[access] require_verified_email must be true or false")
        config = AccessConfig(
            users=_rules(access, "users", "email"),
            groups=_rules(access, "groups", "group"),
            groups_claim=claim,
            require_verified_email=verified,
        )
        if not config.users and not config.groups:
            raise AccessConfigError("[access] maps nobody: add [[access.users]] or groups")
    except AccessConfigError as exc:
        raise AccessConfigError(f"{source}: {exc}") from None
    return config


def load(path: Path) -> AccessConfig:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise AccessConfigError(f"{ENV}={path}: cannot read it ({exc.strerror})") from None
    return parse(text, str(path))
