"""The synthetic population behind ``pipelines.synthetic.generate``: planted parameters (``Params``)
and the simulation of every planned round of every application (``simulate_rounds``).

Everything here is numbers (numpy, vectorised). Which rounds are kept and what firms report is
``pipelines.synthetic.records``' job (``World``, ``Records``), the truth about them
``pipelines.synthetic.truth``', the text (refs, notes) ``pipelines.synthetic.text``'. The model
itself is documented in ``pipelines.synthetic.generate``'s module docstring.

``Rounds`` has one row per PLANNED round of every simulated application (rounds never reached
included, so that application-level potential outcomes can be computed), grouped by application
and ordered by round, applications grouped by client; ``reached`` marks the rounds that happen.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime

import numpy as np

from pipelines.core import spec

DAY = 86_400
WINDOW_START = int(datetime(2025, 1, 1, tzinfo=UTC).timestamp())
WINDOW_END = int(datetime(2026, 7, 1, tzinfo=UTC).timestamp()) - 1  # inclusive horizon
TOTAL_DAYS = (WINDOW_END + 1 - WINDOW_START) // DAY
MAX_ROUNDS = 5

FIRM_NAMES = (
    "north-star",
    "bright-path",
    "summit-coaching",
    "career-forge",
    "open-door-partners",
    "keystone-careers",
    "lighthouse-coaching",
    "tandem-talent",
    "blue-harbor",
    "next-chapter",
)
INDUSTRIES = (
    "software",
    "healthcare",
    "finance",
    "retail",
    "education",
    "manufacturing",
    "consulting",
    "government",
)
INDUSTRY_P = (0.26, 0.15, 0.14, 0.10, 0.08, 0.10, 0.10, 0.07)
RARE_INDUSTRY = len(INDUSTRIES)  # index of the "anything else" industry (one-off spellings)
ROLE_FAMILIES = (
    "engineering",
    "sales",
    "operations",
    "marketing",
    "finance",
    "product",
    "data",
    "customer_success",
)
ROLE_P = (0.25, 0.15, 0.13, 0.10, 0.09, 0.11, 0.10, 0.07)
BAND_LABELS = tuple(b[2] for b in spec.EXPERIENCE_BANDS)
BAND_UPPER = np.array([b[1] for b in spec.EXPERIENCE_BANDS])

S_PHONE, S_RECRUITER, S_HM, S_PANEL, S_FINAL, S_OTHER = range(6)
# Stage of each round of an application, by template.
STAGE_TEMPLATES = np.array(
    [
        [S_PHONE, S_RECRUITER, S_HM, S_PANEL, S_FINAL],
        [S_PHONE, S_HM, S_PANEL, S_FINAL, S_OTHER],
        [S_RECRUITER, S_HM, S_PANEL, S_FINAL, S_OTHER],
        [S_RECRUITER, S_HM, S_FINAL, S_OTHER, S_OTHER],
    ]
)
TEMPLATE_P = (0.3, 0.3, 0.25, 0.15)
# P(seniority | experience band): rows = band, cols = spec.SENIORITIES.
SENIORITY_GIVEN_BAND = np.array(
    [
        [0.85, 0.15, 0.00, 0.00, 0.00],
        [0.25, 0.60, 0.15, 0.00, 0.00],
        [0.00, 0.35, 0.50, 0.15, 0.00],
        [0.00, 0.10, 0.45, 0.30, 0.15],
        [0.00, 0.00, 0.30, 0.35, 0.35],
    ]
)
# P(interviewer_role | stage): rows = spec.STAGES, cols = spec.INTERVIEWER_ROLES.
ROLE_GIVEN_STAGE = np.array(
    [
        [0.70, 0.15, 0.10, 0.00, 0.00, 0.05],
        [0.90, 0.05, 0.00, 0.00, 0.00, 0.05],
        [0.02, 0.85, 0.08, 0.03, 0.00, 0.02],
        [0.00, 0.05, 0.15, 0.00, 0.78, 0.02],
        [0.00, 0.35, 0.05, 0.50, 0.08, 0.02],
        [0.10, 0.20, 0.30, 0.20, 0.05, 0.15],
    ]
)
DURATION_BY_STAGE = np.array([25.0, 30.0, 50.0, 180.0, 90.0, 45.0])
CONCERN_WEIGHTS = np.array([0.16, 0.16, 0.16, 0.12, 0.12, 0.07, 0.05, 0.10, 0.06])

# Outcome codes = positions in spec.OUTCOMES.
O_OFFER, O_NEXT, O_REJECTED, O_WITHDRAWN, O_NO_RESPONSE = (
    spec.OUTCOMES.index(o) for o in ("offer", "next_round", "rejected", "withdrawn", "no_response")
)
# How a firm reports (index = firm position; firms past the table report like firm 0).
FULL, NO_ROUND, FINAL_ONLY, REVISION_1_0 = range(4)
REPORTING_NAMES = ("per_round", "no_round", "final_only", "revision_1_0")


@dataclass(frozen=True)
class Params:
    """Every planted parameter of the population model (dumped to truth.json as ``params``).

    Effects are additive on P(advance) of one round unless named otherwise; ``ask_*`` are on the
    logit scale of P(any fit question); index-aligned tuples follow the order of the vocabulary
    they are named after (rounds 1-5, spec.STAGES, spec.SENIORITIES, experience bands,
    INDUSTRIES + "other").
    """

    # the planted per-round effects
    kind_effects: tuple[float, float, float] = (0.08, 0.04, 0.0)
    addressed_effect: float = 0.06
    late_effect: float = 0.03
    rapport_effect: float = 0.03
    referral_effect: float = 0.05
    latent_sd_effect: float = 0.07
    concerns_raised_effect: float = -0.05
    # baseline P(advance) = intercept + offsets (observed confounders)
    advance_intercept: float = 0.36
    advance_by_round: tuple[float, ...] = (0.0, 0.0, 0.01, 0.02, 0.03)
    advance_by_stage: tuple[float, ...] = (0.06, 0.05, 0.0, 0.0, -0.02, 0.02)
    advance_by_seniority: tuple[float, ...] = (0.0, 0.02, 0.04, 0.05, 0.06)
    advance_by_band: tuple[float, ...] = (0.0, 0.02, 0.04, 0.05, 0.04)
    advance_by_industry: tuple[float, ...] = (0.02, 0.03, 0.0, 0.03, 0.01, 0.02, 0.0, 0.01, 0.0)
    advance_clip: tuple[float, float] = (0.03, 0.97)
    # asking any fit question (logit scale), then which kinds (correlated)
    ask_intercept: float = -0.7
    ask_latent: float = 0.5
    ask_by_stage: tuple[float, ...] = (0.0, 0.1, 0.3, 0.4, 0.5, 0.0)
    ask_by_seniority: tuple[float, ...] = (0.0, 0.2, 0.4, 0.55, 0.7)
    ask_by_band: tuple[float, ...] = (0.0, 0.15, 0.3, 0.4, 0.45)
    concerns_given_ask: float = 0.6
    ideal_given_concerns: float = 0.35
    comparison_given_concerns: float = 0.6
    comparison_given_ask_without_concerns: float = 0.4
    ideal_given_comparison_without_concerns: float = 0.3
    # when (percent of the interview) and after how much rapport
    late_pct: tuple[int, int] = (65, 85)
    timing_mix: tuple[tuple[float, int, int], ...] = (
        (0.20, 5, 39),
        (0.25, 40, 64),
        (0.35, 65, 85),
        (0.20, 86, 100),
    )
    rapport_mean: float = 3.1
    rapport_latent: float = 0.3
    rapport_sd: float = 0.9
    # objections voiced by the interviewer, and addressing them
    raised_base: float = 0.28
    raised_by_band: tuple[float, ...] = (0.12, 0.05, 0.0, 0.0, 0.06)
    raised_by_stage: tuple[float, ...] = (0.0, 0.0, 0.04, 0.05, 0.06, 0.0)
    addressed_base: float = 0.32
    addressed_by_seniority: tuple[float, ...] = (0.0, 0.05, 0.10, 0.14, 0.18)
    addressed_latent: float = 0.08
    # self-rating: round(mean + latent * u + N(0, sd)), 1..5; nothing else
    self_rating_mean: float = 3.0
    self_rating_latent: float = 0.6
    self_rating_sd: float = 0.8
    # referral (on the outcome record)
    referral_base: float = 0.07
    referral_latent: float = 0.02
    referral_if_advanced: float = 0.02
    # the client withdraws (before the employer decides), the employer goes silent
    withdraw_base: float = 0.03
    withdraw_latent: float = 0.03
    no_response_share: float = 0.2
    # population shape
    applications_per_client: float = 5.0
    planned_rounds_p: tuple[float, ...] = (0.24, 0.26, 0.22, 0.15, 0.13)
    rare_industry_rate: float = 0.006
    # reporting
    ghost_rate: float = 0.04
    no_response_before_rejected: float = 0.15
    next_round_before_offer: float = 0.3
    hindsight_rate: float = 0.12
    hindsight_add_concerns: float = 0.6
    hindsight_drop_kind: float = 0.5
    correction_before_outcome_rate: float = 0.02
    late_debrief_rate: float = 0.04

    def __post_init__(self) -> None:
        lengths = {
            "kind_effects": 3,
            "advance_by_round": MAX_ROUNDS,
            "advance_by_stage": len(spec.STAGES),
            "advance_by_seniority": len(spec.SENIORITIES),
            "advance_by_band": len(BAND_LABELS),
            "advance_by_industry": len(INDUSTRIES) + 1,
            "advance_clip": 2,
            "ask_by_stage": len(spec.STAGES),
            "ask_by_seniority": len(spec.SENIORITIES),
            "ask_by_band": len(BAND_LABELS),
            "late_pct": 2,
            "raised_by_band": len(BAND_LABELS),
            "raised_by_stage": len(spec.STAGES),
            "addressed_by_seniority": len(spec.SENIORITIES),
            "planned_rounds_p": MAX_ROUNDS,
        }
        for name, n in lengths.items():
            if len(getattr(self, name)) != n:
                raise ValueError(f"Params.{name} needs {n} values")
        if not math.isclose(sum(self.planned_rounds_p), 1.0, abs_tol=1e-9):
            raise ValueError("Params.planned_rounds_p must sum to 1")
        if not math.isclose(sum(w for w, _, _ in self.timing_mix), 1.0, abs_tol=1e-9):
            raise ValueError("Params.timing_mix weights must sum to 1")
        lo, hi = self.advance_clip
        if not 0.0 <= lo < hi <= 1.0:
            raise ValueError("Params.advance_clip must be 0 <= lo < hi <= 1")

    def to_dict(self) -> dict:
        """Plain JSON-able dict (tuples become lists)."""

        def lists(v):
            return [lists(x) for x in v] if isinstance(v, tuple) else v

        return {k: lists(v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict) -> Params:
        """Inverse of to_dict (lists become tuples); unknown keys are an error."""

        def tup(v):
            return tuple(tup(x) for x in v) if isinstance(v, list | tuple) else v

        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown Params fields: {sorted(unknown)}")
        return cls(**{k: tup(v) for k, v in d.items()})


def reporting_of(firm: np.ndarray | int) -> np.ndarray:
    """The reporting convention of firm index(es): FULL, NO_ROUND, FINAL_ONLY, REVISION_1_0."""
    table = np.array([FULL, NO_ROUND, FINAL_ONLY, REVISION_1_0])
    f = np.asarray(firm)
    return np.where(f < len(table), table[np.minimum(f, len(table) - 1)], FULL)


# ============================================================================================
# Containers
# ============================================================================================
@dataclass(frozen=True)
class Rounds:
    """One row per planned round (see module docstring). Kinds are (rows, 3) booleans."""

    app: np.ndarray
    rnd: np.ndarray  # 0-based round
    planned: np.ndarray  # planned rounds R of the application
    client: np.ndarray
    u: np.ndarray
    stage: np.ndarray
    interviewer_role: np.ndarray
    industry: np.ndarray
    role_family: np.ndarray
    seniority: np.ndarray
    band: np.ndarray
    duration: np.ndarray
    asked: np.ndarray
    kinds: np.ndarray  # as asked (all False when not asked)
    latent_kinds: np.ndarray  # what would be asked (= kinds where asked)
    pct: np.ndarray  # latent for non-askers
    rapport: np.ndarray  # latent for non-askers
    raised: np.ndarray
    concern_mask: np.ndarray
    first_concern: np.ndarray
    addressed: np.ndarray  # False where nothing raised
    self_rating: np.ndarray
    base: np.ndarray  # intercept + observed offsets
    late_share: float
    high_rapport_share: float
    p_advance: np.ndarray
    p_raw: np.ndarray  # before clipping
    result: np.ndarray  # outcome code of the round if it were reached
    decided: np.ndarray  # epoch seconds the client hears (if reached)
    iv_day: np.ndarray
    start_sec: np.ndarray
    submitted: np.ndarray
    reached: np.ndarray
    referral: np.ndarray


@dataclass(frozen=True)
class Population:
    """All planned rounds plus the per-client and per-application draws they index."""

    rounds: Rounds
    client_firm: np.ndarray
    client_years: np.ndarray
    client_ref_style: np.ndarray  # 0 e-mail, 1 name, 2 opaque id
    app_industry: np.ndarray
    app_switched: np.ndarray  # applying outside the client's home industry


def _group_starts(sizes: np.ndarray) -> np.ndarray:
    return np.cumsum(sizes) - sizes


def _within_group_cumsum(values: np.ndarray, starts: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    cs = np.cumsum(values)
    return cs - np.repeat(cs[starts] - values[starts], sizes)


def _cat(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One categorical draw per row of a (n, k) probability matrix."""
    u = rng.random(probs.shape[0])
    cum = np.cumsum(probs, axis=1)
    return np.minimum((u[:, None] >= cum).sum(axis=1), probs.shape[1] - 1)


def _expit(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def simulate_rounds(seqs, n_apps_target: int, n_firms: int, p: Params) -> Population:
    """Clients, applications and every planned round, with outcomes and timing."""
    r_struct, r_client, r_app = (np.random.default_rng(s) for s in seqs[:3])
    apps_per_client = 1 + r_struct.poisson(p.applications_per_client, n_apps_target // 3 + 8)
    apps_per_client = apps_per_client[
        : int(np.searchsorted(np.cumsum(apps_per_client), n_apps_target)) + 1
    ]
    n_clients, n_apps = len(apps_per_client), int(apps_per_client.sum())
    app_client = np.repeat(np.arange(n_clients), apps_per_client)

    # clients
    firm_w = 1.0 / np.arange(1, n_firms + 1) ** 0.7
    client_firm = r_client.choice(n_firms, n_clients, p=firm_w / firm_w.sum())
    years = np.rint(r_client.gamma(2.0, 5.0, n_clients))
    veteran = r_client.random(n_clients) < 0.03
    years = np.where(veteran, r_client.integers(25, 46, n_clients), years)
    years = np.clip(years, 0, 60).astype(np.int64)
    band_c = np.searchsorted(BAND_UPPER, years, side="left")
    home_ind = r_client.choice(len(INDUSTRIES), n_clients, p=INDUSTRY_P)
    home_role = r_client.choice(len(ROLE_FAMILIES), n_clients, p=ROLE_P)
    style = r_client.choice(3, n_clients, p=(0.4, 0.3, 0.3))  # e-mail, name, opaque
    u_c = r_client.standard_normal(n_clients)
    client_start = r_client.integers(0, TOTAL_DAYS, n_clients)

    # applications
    switched = r_app.random(n_apps) < 0.18
    app_ind = np.where(switched, r_app.choice(len(INDUSTRIES), n_apps), home_ind[app_client])
    app_ind = np.where(r_app.random(n_apps) < p.rare_industry_rate, RARE_INDUSTRY, app_ind)
    other_role = r_app.random(n_apps) < 0.1
    app_role = np.where(other_role, r_app.choice(len(ROLE_FAMILIES), n_apps), home_role[app_client])
    app_sen = _cat(r_app, SENIORITY_GIVEN_BAND[band_c[app_client]])
    planned = r_app.choice(MAX_ROUNDS, n_apps, p=p.planned_rounds_p) + 1
    template = r_app.choice(len(STAGE_TEMPLATES), n_apps, p=TEMPLATE_P)
    gap = r_app.integers(3, 41, n_apps)
    gap[_group_starts(apps_per_client)] = 0
    app_start = client_start[app_client] + _within_group_cumsum(
        gap, _group_starts(apps_per_client), apps_per_client
    )

    # planned rounds
    app = np.repeat(np.arange(n_apps), planned)
    rnd = np.arange(len(app)) - np.repeat(_group_starts(planned), planned)
    client = app_client[app]
    base_rows = {
        "app": app,
        "rnd": rnd,
        "planned": planned[app],
        "client": client,
        "u": u_c[client],
        "industry": app_ind[app],
        "role_family": app_role[app],
        "seniority": app_sen[app],
        "band": band_c[client],
        "template": template[app],
        "app_start": app_start[app],
    }
    return Population(_round_rows(seqs, base_rows, p), client_firm, years, style, app_ind, switched)


def _round_rows(seqs, b: dict, p: Params) -> Rounds:
    r_stage, r_tac = (np.random.default_rng(s) for s in seqs[3:5])
    m = len(b["app"])
    stage = STAGE_TEMPLATES[b["template"], b["rnd"]]
    stage = np.where(r_stage.random(m) < 0.02, S_OTHER, stage)
    role = _cat(r_stage, ROLE_GIVEN_STAGE[stage])
    duration = DURATION_BY_STAGE[stage] * np.exp(r_stage.normal(0.0, 0.25, m))
    duration = np.clip(np.rint(duration / 5) * 5, 5, 600).astype(np.int64)
    t = _tactics(r_tac, stage, b, p)
    late = (t["pct"] >= p.late_pct[0]) & (t["pct"] <= p.late_pct[1])
    high = t["rapport"] >= 4
    askers = t["asked"]
    late_share = float(late[askers].mean()) if askers.any() else 0.0
    high_share = float(high[askers].mean()) if askers.any() else 0.0
    base = (
        p.advance_intercept
        + np.asarray(p.advance_by_round)[b["rnd"]]
        + np.asarray(p.advance_by_stage)[stage]
        + np.asarray(p.advance_by_seniority)[b["seniority"]]
        + np.asarray(p.advance_by_band)[b["band"]]
        + np.asarray(p.advance_by_industry)[b["industry"]]
    )
    extra = p.late_effect * (late - late_share) + p.rapport_effect * (high - high_share)
    p_raw = (
        base
        + p.latent_sd_effect * b["u"]
        + t["kinds"] @ np.asarray(p.kind_effects)
        + p.concerns_raised_effect * t["raised"]
        + p.addressed_effect * t["addressed"]
        + askers * extra
    )
    p_adv = np.clip(p_raw, *p.advance_clip)
    out = _decide(seqs, b, stage, duration, t["kinds"][:, 0], p_adv, p)
    keep = ("app", "rnd", "planned", "client", "u", "industry", "role_family", "seniority", "band")
    return Rounds(
        **{k: b[k] for k in keep},
        stage=stage,
        interviewer_role=role,
        duration=duration,
        **t,
        base=base,
        late_share=late_share,
        high_rapport_share=high_share,
        p_advance=p_adv,
        p_raw=p_raw,
        **out,
    )


def _tactics(rng: np.random.Generator, stage: np.ndarray, b: dict, p: Params) -> dict:
    """Asking (any, which kinds, when, after what rapport), objections, self-rating."""
    m, u = len(stage), b["u"]
    logit = (
        p.ask_intercept
        + p.ask_latent * u
        + np.asarray(p.ask_by_stage)[stage]
        + np.asarray(p.ask_by_seniority)[b["seniority"]]
        + np.asarray(p.ask_by_band)[b["band"]]
    )
    asked = rng.random(m) < _expit(logit)
    # Latent kinds (what would be asked): concerns; comparison mostly together with concerns.
    c = rng.random(m) < p.concerns_given_ask
    cmp_p = np.where(c, p.comparison_given_concerns, p.comparison_given_ask_without_concerns)
    cmp = rng.random(m) < cmp_p
    ideal_p = np.where(c, p.ideal_given_concerns, p.ideal_given_comparison_without_concerns)
    ideal = (rng.random(m) < ideal_p) | (~c & ~cmp)
    latent = np.stack([c, ideal, cmp], axis=1)
    kinds = latent & asked[:, None]
    weights = np.array([w for w, _, _ in p.timing_mix])
    comp = rng.choice(len(weights), m, p=weights / weights.sum())
    lo = np.array([lo for _, lo, _ in p.timing_mix])[comp]
    hi = np.array([hi for _, _, hi in p.timing_mix])[comp]
    pct = lo + np.floor(rng.random(m) * (hi - lo + 1)).astype(np.int64)
    rapport = np.rint(p.rapport_mean + p.rapport_latent * u + rng.normal(0.0, p.rapport_sd, m))
    rapport = np.clip(rapport, 1, 5).astype(np.int64)

    p_raised = p.raised_base + np.asarray(p.raised_by_band)[b["band"]]
    p_raised = p_raised + np.asarray(p.raised_by_stage)[stage]
    raised = rng.random(m) < p_raised
    concern_mask, first_concern = _concerns(rng, raised, b["band"])
    p_addr = p.addressed_base + np.asarray(p.addressed_by_seniority)[b["seniority"]]
    p_addr = np.clip(p_addr + p.addressed_latent * u, 0.02, 0.98)
    addressed = (rng.random(m) < p_addr) & raised
    self_rating = np.rint(
        p.self_rating_mean + p.self_rating_latent * u + rng.normal(0.0, p.self_rating_sd, m)
    )
    return {
        "asked": asked,
        "kinds": kinds,
        "latent_kinds": latent,
        "pct": pct,
        "rapport": rapport,
        "raised": raised,
        "concern_mask": concern_mask,
        "first_concern": first_concern,
        "addressed": addressed,
        "self_rating": np.clip(self_rating, 1, 5).astype(np.int64),
    }


def _concerns(rng: np.random.Generator, raised: np.ndarray, band: np.ndarray):
    """Which objections (1-3, weighted by experience band) where any were raised: a bit mask
    over spec.CONCERNS and the first one named (0 where none)."""
    rows = np.flatnonzero(raised)
    k, band = len(rows), band[rows]
    n_concerns = rng.choice(3, k, p=(0.7, 0.24, 0.06)) + 1
    cw = np.broadcast_to(np.log(CONCERN_WEIGHTS), (k, 9)).copy()
    cw[band == 0, 0] += np.log(3.0)
    cw[band == 0, 6] += np.log(0.2)
    cw[band == 4, 6] += np.log(4.0)
    cw[band == 4, 0] += np.log(0.2)
    order = np.argsort(-(cw + rng.gumbel(size=(k, 9))), axis=1)
    rank_of = np.empty_like(order)
    np.put_along_axis(rank_of, order, np.broadcast_to(np.arange(9), (k, 9)), axis=1)
    mask = np.zeros(len(raised), dtype=np.int64)
    first = np.zeros(len(raised), dtype=np.int64)
    mask[rows] = ((rank_of < n_concerns[:, None]) * (1 << np.arange(9))).sum(axis=1)
    first[rows] = order[:, 0]
    return mask, first


def _decide(seqs, b: dict, stage, duration, asked_concerns, p_adv, p: Params) -> dict:
    """Per planned round: the result if reached, referral, and the timing of the whole chain."""
    r_out, r_time = (np.random.default_rng(s) for s in seqs[5:7])
    m, u, rnd = len(p_adv), b["u"], b["rnd"]
    withdraw = r_out.random(m) < p.withdraw_base + p.withdraw_latent * np.maximum(u, 0.0)
    advance = r_out.random(m) < p_adv
    silent = r_out.random(m) < p.no_response_share
    last = rnd == b["planned"] - 1
    result = np.where(
        advance, np.where(last, O_OFFER, O_NEXT), np.where(silent, O_NO_RESPONSE, O_REJECTED)
    )
    result = np.where(withdraw, O_WITHDRAWN, result)
    p_ref = np.where(
        advance,
        p.referral_if_advanced,
        p.referral_base + p.referral_latent * u + p.referral_effect * asked_concerns,
    )
    p_ref = np.where(withdraw, p.referral_base, p_ref)
    referral = r_out.random(m) < np.clip(p_ref, 0.0, 1.0)

    start_sec = r_time.integers(32, 72, m) * 900  # 08:00-17:45, quarter hours
    lag_kind = r_time.choice(3, m, p=(0.7, 0.25, 0.05))
    lag = np.choose(
        lag_kind,
        [
            r_time.integers(1_200, 8 * 3600, m),
            r_time.integers(8 * 3600, 72 * 3600, m),
            r_time.integers(3 * DAY, 10 * DAY, m),
        ],
    )
    decision_days = np.clip(np.exp(r_time.normal(math.log(10.0), 0.6, m)), 1.5, 90.0)
    gap_days = r_time.integers(2, 15, m)
    iv_day = b["app_start"].astype(np.int64).copy()
    submitted = np.zeros(m, dtype=np.int64)
    decided = np.zeros(m, dtype=np.int64)
    reached = np.zeros(m, dtype=bool)
    for r in range(MAX_ROUNDS):
        rows = np.flatnonzero(rnd == r)
        if r:
            prev = rows - 1
            iv_day[rows] = (decided[prev] - WINDOW_START) // DAY + gap_days[rows]
        submitted[rows] = (
            WINDOW_START + iv_day[rows] * DAY + start_sec[rows] + duration[rows] * 60 + lag[rows]
        )
        decided[rows] = submitted[rows] + np.rint(decision_days[rows] * DAY).astype(np.int64)
        ok = (iv_day[rows] < TOTAL_DAYS) & (submitted[rows] <= WINDOW_END)
        if r:
            ok &= reached[prev] & (result[prev] == O_NEXT) & (decided[prev] <= WINDOW_END)
        reached[rows] = ok
    return {
        "result": result,
        "decided": decided,
        "iv_day": iv_day,
        "start_sec": start_sec,
        "submitted": submitted,
        "reached": reached,
        "referral": referral,
    }
