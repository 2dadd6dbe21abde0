"""Synthetic landing-file generator for the debrief export (shared/spec/debrief-export-v1.md).

``generate(out_dir, interviews, seed, fmt, firms)`` writes a realistic landing zone: several firms,
clients with multi-round applications, debriefs, outcomes that arrive days to weeks later
(sometimes in an earlier file than their debrief), superseded ``next_round`` outcomes, corrected
debriefs, pending interviews, a handful of erasures and free-text notes full of PII. Next to the
landing files it writes ``truth.json``: the causal effects planted in the data, so that the
analytics can be tested against a known answer.

Everything is vectorised with numpy and serialised with polars; the same arguments always give
byte-identical files.

The outcome model
-----------------
For every interview ``i`` with strata ``s = (stage, seniority, industry, experience band)``::

    p_offer(i) = clip( base(s)                                  # confounded baseline
                       + CONCERNS_RAISED_EFFECT * R              # any concern voiced
                       + m_t(asked_at_pct) * m_r(rapport)
                         * (b_c * C + b_i * I + b_m * M)         # fit-question kinds asked
                       + ADDRESSED_EFFECT * R * D,               # concerns addressed
                       CLIP_LO, CLIP_HI )

with ``C, I, M`` = ``fit_question_kinds`` contains ``concerns`` / ``ideal_candidate`` /
``comparison`` (``asked_fit_question`` = C or I or M), ``R`` = ``concerns_raised`` non-empty and
``D`` = ``concerns_addressed``. ``b_m`` is exactly 0 (the comparison question is a true null).
``m_t`` peaks at ``asked_at_pct`` = 75 and is small before 40; ``m_r`` grows with rapport.

Confounding acts only through ``s``: the probabilities of asking each kind (independent Bernoulli
draws given ``s``), of concerns being raised and of addressing them all depend on ``s`` alone, and
``base(s)`` rises with the same variables (senior, experienced, late-stage clients ask more and get
more offers). ``asked_at_pct`` and ``rapport_before_ask`` are drawn independently of everything
else, so the effect of asking is close to homogeneous across strata and a stratified
(Mantel-Haenszel) risk difference on the four confounders recovers the truth, while the crude
difference is biased upwards by several points. ``self_rating``, ``duration_min``,
``interviewer_role``, ``role_family``, firm and client identity have no effect on the outcome given
``s`` (``self_rating`` depends on seniority and experience band only).

A decided interview's final outcome is ``offer`` with probability ``p_offer``, otherwise one of
``rejected``/``next_round``/``withdrawn``/``no_response``. Whether an interview is decided
(pending = never any outcome record) is independent of the outcome and of the tactics.

truth.json
----------
Top-level keys (all probabilities and risk differences are on the 0-1 scale; "RD" = risk
difference = P(offer | do(tactic=1)) - P(offer | do(tactic=0))):

``generator``, ``seed``, ``interviews``, ``format``, ``firm_ids``, ``window``
    The arguments and the simulated time window (``window.start``/``window.end``, RFC 3339).
``definitions``
    Plain-text definitions that the numbers below use. ``final_outcome``: the latest outcome
    record per ``(firm_id, interview_ref)`` by ``decided_at`` (``next_round`` then ``offer`` counts
    as ``offer``). ``decided``: the interview has at least one outcome record. ``pending``: no
    outcome record at all. ``offer``: ``final_outcome == "offer"``. ``debrief_values``: the latest
    debrief per ``(firm_id, interview_ref)`` by ``submitted_at`` (corrections applied).
    ``population``: decided interviews of clients that are NOT erased (what remains after the
    erasures in the files are processed).
``confounders``
    ``["stage", "seniority", "industry", "experience_band"]``; ``experience_bands`` lists the
    bands (from ``pipelines.spec.EXPERIENCE_BANDS``) as ``[lo, hi, label]``.
``model``
    Every parameter of the generating model: ``intercept``, ``offset_by_stage``,
    ``offset_by_seniority``, ``offset_by_experience_band``, ``offset_by_industry`` (so
    ``base(s)`` = intercept + the four offsets), ``concerns_raised_effect``, ``kind_effects``
    (b_c, b_i, b_m), ``addressed_effect``, ``timing_curve`` (``formula``, ``peak``, ``width``,
    ``floor``) and ``rapport_multiplier`` (level -> m_r), ``clip`` (``lo``, ``hi``),
    ``clip_active_share`` (share of the population where any potential outcome used below was
    clipped; 0 with the current parameters) and ``formula`` (the model above, as text).
``tactics``
    One entry per tactic id: ``asked_fit_question``, ``asked_about_concerns``,
    ``asked_about_ideal_candidate``, ``asked_how_compare``, ``addressed_concerns``. Each has
    ``population`` (text), ``n``, ``n_treated``, ``n_control``, ``ate_rd`` (the TRUE average
    effect: mean over the population of p(do 1) - p(do 0) from the model), ``att_rd`` (the same
    mean over treated units only), ``crude_rd`` (offer rate of treated minus control as observed
    in the generated outcomes), ``offer_rate_treated``, ``offer_rate_control`` and ``true_null``
    (true only for ``asked_how_compare``). Potential outcomes: for ``asked_fit_question``,
    do(1) uses the kinds/timing/rapport the client asked with, or (non-askers) the latent ones
    they would have used; do(0) removes the fit-question term. For a kind, do(1)/do(0) switches
    that kind on/off holding the other kinds as observed and timing/rapport at their (latent)
    values. ``addressed_concerns``: population = decided interviews with concerns raised;
    do(1)/do(0) sets ``concerns_addressed``. Kinds are independent given ``s`` and the effect of
    each kind is constant, so a stratified RD estimates each kind's ``ate_rd`` directly; the RD of
    ``asked_fit_question`` varies a little across strata (the kind mix of askers does), so a
    Mantel-Haenszel estimate lands within sampling error of ``ate_rd`` rather than exactly on it.
``timing``
    ``best_range_pct`` ([70, 80]), ``multiplier_by_pct`` (m_t for pct 0..100) and ``bins``: for
    asked_at_pct bins [0,39], [40,69], [70,80], [81,100]: ``lo``, ``hi``, ``n`` (askers in the
    population), ``effect_rd`` (mean over them of p(as asked) - p(not asked)) and
    ``mean_multiplier`` (mean m_t over the integer pcts of the bin).
``rapport``
    ``multiplier_by_level`` (m_r for levels 1..5) and ``levels``: per level, ``level``, ``n``,
    ``effect_rd`` among askers in the population (same definition as the timing bins) and
    ``multiplier``.
``referral``
    Among population interviews whose final outcome is not ``offer`` (referral taken from the
    final outcome record), P(referral) = ``base_by_seniority`` + ``effect_rd`` * C, with
    ``tactic`` = ``asked_about_concerns`` (so ``effect_rd`` is the true RD among non-offers and a
    stratified comparison recovers it). Also ``population`` (text), ``crude_rd``,
    ``rate_treated``, ``rate_control``, ``n_treated``, ``n_control`` (observed) and
    ``rate_among_offers`` (observed; the model uses 0.02 for offers).
``self_rating``
    ``effect_rd`` = 0.0: self_rating is independent of the outcome given the confounders
    (``statement``). ``offer_rate_by_rating`` (observed, "1".."5") shows the spurious crude
    association.
``base_rates``
    Observed over the population: ``offer_rate``, ``ask_rate``, ``concerns_raised_rate``,
    ``offer_rate_by_stage``, ``offer_rate_by_seniority``, ``offer_rate_by_experience_band``; and
    ``mean_base_probability`` (mean of base(s): intercept + offsets, no tactic/concern terms).
``counts``
    Over ALL generated interviews (erased clients included): interviews, clients, decided,
    pending, population (= ``tactics.asked_fit_question.n``), corrected_debriefs (interviews
    with two debriefs), superseded_outcomes (interviews with more than one outcome record),
    next_round_then_offer, outcome_in_earlier_file (first outcome record in a file whose name
    sorts before the file of the first debrief), outcome_arrives_first (same, by arrival
    position: sorted file name, then line), erased_clients, files and ``records`` by type.
``erasures``
    ``count`` and ``client_refs``: the erased clients as ``{"firm_id", "client_ref"}``; all their
    records are in the files, before the erasure record in arrival order.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl

from pipelines import spec

# --------------------------------------------------------------------------------------------
# Time window
# --------------------------------------------------------------------------------------------
DAY = 86_400
WINDOW_START = int(datetime(2025, 1, 1, tzinfo=UTC).timestamp())
WINDOW_END = int(datetime(2026, 7, 1, tzinfo=UTC).timestamp()) - 1  # inclusive horizon
TOTAL_DAYS = (WINDOW_END + 1 - WINDOW_START) // DAY

TRUTH_FILE = "truth.json"
FORMATS = ("jsonl", "csv")

# --------------------------------------------------------------------------------------------
# Population vocabulary
# --------------------------------------------------------------------------------------------
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
# Round sequences of an application; an application stops after 1-5 rounds.
STAGE_TEMPLATES = np.array(
    [
        [S_PHONE, S_RECRUITER, S_HM, S_PANEL, S_FINAL],
        [S_PHONE, S_HM, S_PANEL, S_FINAL, S_OTHER],
        [S_RECRUITER, S_HM, S_PANEL, S_FINAL, S_OTHER],
        [S_RECRUITER, S_HM, S_FINAL, S_OTHER, S_OTHER],
    ]
)
TEMPLATE_P = (0.3, 0.3, 0.25, 0.15)
APP_LEN_P = (0.24, 0.26, 0.22, 0.15, 0.13)  # 1..5 rounds
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

# --------------------------------------------------------------------------------------------
# The planted outcome model (see module docstring); everything here is dumped to truth.json.
# --------------------------------------------------------------------------------------------
INTERCEPT = 0.12
OFFSET_STAGE = np.array([0.00, 0.02, 0.05, 0.08, 0.15, 0.03])
OFFSET_SENIORITY = np.array([0.00, 0.03, 0.06, 0.08, 0.10])
OFFSET_BAND = np.array([0.00, 0.02, 0.05, 0.07, 0.05])
OFFSET_INDUSTRY = np.array([0.03, 0.04, 0.00, 0.05, 0.02, 0.03, 0.00, 0.01])
CONCERNS_RAISED_EFFECT = -0.06
KIND_EFFECT = np.array([0.14, 0.08, 0.0])  # concerns, ideal_candidate, comparison (true null)
ADDRESSED_EFFECT = 0.08
TIMING_PEAK, TIMING_WIDTH, TIMING_FLOOR = 75.0, 18.0, 0.15
RAPPORT_MULT = np.array([0.4, 0.7, 1.0, 1.25, 1.5])
CLIP_LO, CLIP_HI = 0.01, 0.95

# Propensity to ask each kind: p_k = KIND_BASE[k] + KIND_SLOPE[k] * savvy(s).
SAVVY_STAGE = np.array([0.00, 0.03, 0.05, 0.07, 0.10, 0.02])
SAVVY_SENIORITY = np.array([0.00, 0.05, 0.10, 0.14, 0.18])
SAVVY_BAND = np.array([0.00, 0.04, 0.08, 0.12, 0.14])
SAVVY_INDUSTRY = np.array([0.04, 0.01, 0.03, 0.00, 0.00, 0.00, 0.05, 0.00])
KIND_BASE = np.array([0.08, 0.06, 0.05])
KIND_SLOPE = np.array([1.3, 1.1, 0.9])
# Timing of the ask (latent for non-askers): mixture of uniform ranges, independent of all else.
TIMING_MIX = ((0.20, 5, 39), (0.25, 40, 69), (0.35, 70, 80), (0.20, 81, 100))
RAPPORT_P = (0.08, 0.17, 0.35, 0.28, 0.12)
# Concerns raised: P(R) = base + by band + by stage; addressed: base + by seniority + by band.
RAISED_BASE = 0.28
RAISED_BAND = np.array([0.12, 0.05, 0.00, 0.00, 0.06])
RAISED_STAGE = np.array([0.00, 0.00, 0.04, 0.05, 0.06, 0.00])
ADDRESSED_BASE = 0.30
ADDRESSED_SENIORITY = np.array([0.00, 0.05, 0.10, 0.14, 0.18])
ADDRESSED_BAND = np.array([0.00, 0.03, 0.06, 0.09, 0.10])
CONCERN_WEIGHTS = np.array([0.16, 0.16, 0.16, 0.12, 0.12, 0.07, 0.05, 0.10, 0.06])
# Referral (warm prospect) on the final outcome record.
REFERRAL_BASE_SENIORITY = np.array([0.05, 0.06, 0.07, 0.08, 0.09])
REFERRAL_CONCERNS_EFFECT = 0.07
REFERRAL_OFFER_RATE = 0.02
# Self-rating: round(SELF_BASE + slope_s * seniority + slope_b * band + N(0, sd)), clipped 1..5.
SELF_BASE, SELF_SLOPE_SENIORITY, SELF_SLOPE_BAND, SELF_SD = 2.9, 0.15, 0.05, 0.95
# Non-offer final outcomes and the chance of an earlier next_round record.
NON_OFFER = ("rejected", "next_round", "withdrawn", "no_response")
NON_OFFER_P = (0.62, 0.13, 0.10, 0.15)
PRE_NEXT_ROUND_P = {"offer": 0.35, "rejected": 0.15, "withdrawn": 0.1}
GHOST_P = 0.07  # never hear back: no outcome record (pending)
CORRECTION_P = 0.02
LATE_DEBRIEF_P = 0.04  # debrief synced 20-90 days late (its outcome may land in an earlier file)

# --------------------------------------------------------------------------------------------
# Names and notes vocabulary (display form, ascii form for e-mails)
# --------------------------------------------------------------------------------------------
FIRST_NAMES = (
    ("Jane", "jane"), ("Tom", "tom"), ("Priya", "priya"), ("José", "jose"), ("Zoë", "zoe"),
    ("Wei", "wei"), ("Aisha", "aisha"), ("Liam", "liam"), ("Sofía", "sofia"),
    ("Mohammed", "mohammed"), ("Olga", "olga"), ("Kenji", "kenji"), ("Fatima", "fatima"),
    ("Lucas", "lucas"), ("Chloé", "chloe"), ("Ama", "ama"), ("Noah", "noah"), ("Mei", "mei"),
    ("Ravi", "ravi"), ("Elena", "elena"), ("Sean", "sean"), ("Ingrid", "ingrid"),
    ("Tariq", "tariq"), ("Hannah", "hannah"), ("Diego", "diego"), ("Yuki", "yuki"),
    ("Grace", "grace"), ("Omar", "omar"), ("Anna", "anna"), ("Kwame", "kwame"),
    ("Marta", "marta"), ("Daniel", "daniel"), ("Leila", "leila"), ("Björn", "bjorn"),
    ("Nadia", "nadia"), ("Samuel", "samuel"), ("Ana-Maria", "ana-maria"), ("Chen", "chen"),
    ("Rosa", "rosa"), ("Patrick", "patrick"),
)  # fmt: skip
LAST_NAMES = (
    ("Doe", "doe"), ("Smith", "smith"), ("Shah", "shah"), ("García", "garcia"),
    ("O'Brien", "obrien"), ("Nguyen", "nguyen"), ("Müller", "muller"), ("Okafor", "okafor"),
    ("Kowalski", "kowalski"), ("Tanaka", "tanaka"), ("Haddad", "haddad"),
    ("Johansson", "johansson"), ("Rossi", "rossi"), ("Mensah", "mensah"), ("Chen", "chen"),
    ("Patel", "patel"), ("Silva", "silva"), ("Novak", "novak"), ("Dubois", "dubois"),
    ("Kim", "kim"), ("Ivanova", "ivanova"), ("Smith-Jones", "smith-jones"),
    ("van der Berg", "vanderberg"), ("Larsen", "larsen"), ("Brown", "brown"),
    ("Cohen", "cohen"), ("Ali", "ali"), ("Fischer", "fischer"), ("Moreau", "moreau"),
    ("Lopez", "lopez"), ("Yilmaz", "yilmaz"), ("Andersson", "andersson"),
    ("Kaur", "kaur"), ("Walsh", "walsh"), ("Costa", "costa"), ("Popescu", "popescu"),
    ("Sato", "sato"), ("Adeyemi", "adeyemi"), ("Schmidt", "schmidt"), ("Reyes", "reyes"),
)  # fmt: skip
EMAIL_DOMAINS = (
    "example.com",
    "example.org",
    "example.net",
    "mail.example.com",
    "post.example.org",
    "inbox.example.net",
)
COMPANIES = (
    ("Acme Corp", "acme.io"), ("Globex", "globex.com"), ("Initech", "initech.com"),
    ("Umbrella Health", "umbrella-health.org"), ("Stark Industries", "stark.example"),
    ("Wayne Enterprises", "wayne-ent.com"), ("Hooli", "hooli.xyz"),
    ("Vandelay Industries", "vandelay.biz"), ("Soylent Foods", "soylent.example"),
    ("Cyberdyne Systems", "cyberdyne.ai"), ("Northwind Traders", "northwind.co"),
    ("Contoso", "contoso.com"), ("Fabrikam", "fabrikam.net"), ("Tailspin Toys", "tailspin.toys"),
    ("Wide World Importers", "wideworld.example"), ("Massive Dynamic", "massive.example"),
)  # fmt: skip
STAGE_WORDS = ("phone screen", "recruiter call", "HM round", "panel", "final round", "interview")
MOODS = ("great", "okay", "a bit rushed", "awkward", "really positive", "hard to read")
CONCERN_TEXT = (
    "my years of experience",
    "not having enough industry experience",
    "a skills gap in their stack",
    "culture fit",
    "my salary expectations",
    "relocating",
    "me being overqualified",
    "the gap on my CV",
    "something vague about timing",
)


# ============================================================================================
# Public API
# ============================================================================================
def generate(out_dir: Path, interviews: int, seed: int, fmt: str = "jsonl", firms: int = 3) -> dict:
    """Write landing files + truth.json into out_dir; return a summary dict (files written,
    record counts by type).

    ``out_dir`` is created if needed and must not already hold landing files (``*.jsonl``,
    ``*.csv``) or a ``truth.json`` (a FileExistsError is raised rather than mixing two runs).
    Landing files are named ``<batch end date>_<firm_id>_b<NN>.jsonl`` (JSONL: one file per
    firm and batch, record types mixed, lines in arrival order) or
    ``<batch end date>_<firm_id>_b<NN>_<k>-<record_type>.csv`` (CSV: one record type per file,
    k = 1 debrief, 2 outcome, 3 erasure), so sorted file names are a realistic arrival order.

    Returns ``{"out_dir", "format", "seed", "interviews", "firm_ids", "files", "records",
    "truth_file"}`` where ``files`` is the sorted list of landing file names and ``records`` the
    number of records written by record type.
    """
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {FORMATS}, got {fmt!r}")
    if not isinstance(interviews, int) or interviews < 1:
        raise ValueError("interviews must be a positive integer")
    if not isinstance(firms, int) or firms < 1:
        raise ValueError("firms must be a positive integer")
    if not isinstance(seed, int) or seed < 0:
        raise ValueError("seed must be a non-negative integer")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    clash = sorted(
        p.name for p in out_dir.iterdir() if p.suffix in (".jsonl", ".csv") or p.name == TRUTH_FILE
    )
    if clash:
        raise FileExistsError(f"{out_dir} already holds landing files, e.g. {clash[0]}")

    world = _simulate(interviews, seed, firms)
    recs = _build_records(world)
    files = _write_files(out_dir, recs, world, fmt)
    truth = _truth(world, recs, files, seed, interviews, fmt)
    (out_dir / TRUTH_FILE).write_text(
        json.dumps(truth, indent=2, ensure_ascii=False, allow_nan=False) + "\n", encoding="utf-8"
    )
    counts = {t: int((recs["rtype"] == k).sum()) for k, t in enumerate(spec.RECORD_TYPES)}
    return {
        "out_dir": str(out_dir),
        "format": fmt,
        "seed": seed,
        "interviews": interviews,
        "firm_ids": list(world["firm_ids"]),
        "files": sorted(files["names"]),
        "records": counts,
        "truth_file": TRUTH_FILE,
    }


# ============================================================================================
# Simulation (numpy, one row per interview / client / application)
# ============================================================================================
def _firm_ids(k: int) -> list[str]:
    out = list(FIRM_NAMES[:k])
    i = 0
    while len(out) < k:
        out.append(f"{FIRM_NAMES[i % len(FIRM_NAMES)]}-{i // len(FIRM_NAMES) + 2}")
        i += 1
    return out


def _cut_sizes(sizes: np.ndarray, total: int) -> np.ndarray:
    """Shortest prefix of sizes summing to total (last element trimmed)."""
    cs = np.cumsum(sizes)
    k = int(np.searchsorted(cs, total))
    out = sizes[: k + 1].copy()
    out[-1] -= cs[k] - total
    return out


def _draw_sizes(rng: np.random.Generator, total: int, draw) -> np.ndarray:
    sizes = draw(max(16, int(total * 0.6) + 16))
    while sizes.sum() < total:
        sizes = np.concatenate([sizes, draw(max(16, total // 4))])
    return _cut_sizes(sizes, total)


def _cat(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One categorical draw per row of a (n, k) probability matrix."""
    u = rng.random(probs.shape[0])
    cum = np.cumsum(probs, axis=1)
    return np.minimum((u[:, None] >= cum).sum(axis=1), probs.shape[1] - 1)


def _within_group_cumsum(values: np.ndarray, starts: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    cs = np.cumsum(values)
    before = np.repeat(cs[starts] - values[starts], sizes)
    return cs - before


def timing_multiplier(pct: np.ndarray) -> np.ndarray:
    """m_t: the benefit of asking at asked_at_pct (peak 1.0 at 75, floor 0.15)."""
    pct = np.asarray(pct, dtype=float)
    return TIMING_FLOOR + (1 - TIMING_FLOOR) * np.exp(-(((pct - TIMING_PEAK) / TIMING_WIDTH) ** 2))


def _simulate(n: int, seed: int, n_firms: int) -> dict:
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(10)]
    r_struct, r_client, r_app, r_time, r_tac, r_out, r_corr, r_notes, r_ids, r_erase = streams

    # --- applications (1-5 rounds) grouped into clients (1 + Poisson apps) ------------------
    app_len = _draw_sizes(r_struct, n, lambda m: r_struct.choice(5, m, p=APP_LEN_P) + 1)
    n_apps = len(app_len)
    apps_per_client = _draw_sizes(r_struct, n_apps, lambda m: 1 + r_struct.poisson(0.9, m))
    n_clients = len(apps_per_client)
    client_app_start = np.cumsum(apps_per_client) - apps_per_client
    app_client = np.repeat(np.arange(n_clients), apps_per_client)
    app_iv_start = np.cumsum(app_len) - app_len
    iv_app = np.repeat(np.arange(n_apps), app_len)
    iv_round = np.arange(n) - app_iv_start[iv_app]
    iv_client = app_client[iv_app]
    template = r_struct.choice(len(STAGE_TEMPLATES), n_apps, p=TEMPLATE_P)
    stage = STAGE_TEMPLATES[template[iv_app], iv_round]
    stage = np.where(r_struct.random(n) < 0.02, S_OTHER, stage)

    # --- clients ---------------------------------------------------------------------------
    firm_ids = _firm_ids(n_firms)
    firm_w = 1.0 / np.arange(1, n_firms + 1) ** 0.7
    client_firm = r_client.choice(n_firms, n_clients, p=firm_w / firm_w.sum())
    years = np.rint(r_client.gamma(2.0, 5.0, n_clients))
    veteran = r_client.random(n_clients) < 0.03
    years = np.where(veteran, r_client.integers(25, 46, n_clients), years)
    years = np.clip(years, 0, 60).astype(np.int64)
    band_c = np.searchsorted(BAND_UPPER, years, side="left")
    home_ind = r_client.choice(len(INDUSTRIES), n_clients, p=INDUSTRY_P)
    home_role = r_client.choice(len(ROLE_FAMILIES), n_clients, p=ROLE_P)
    ref_style = r_client.choice(3, n_clients, p=(0.4, 0.3, 0.3))  # e-mail, name, opaque

    # --- applications ----------------------------------------------------------------------
    switch = r_app.random(n_apps) < 0.18
    app_ind = np.where(switch, r_app.choice(len(INDUSTRIES), n_apps), home_ind[app_client])
    app_role = np.where(
        r_app.random(n_apps) < 0.1, r_app.choice(len(ROLE_FAMILIES), n_apps), home_role[app_client]
    )
    app_sen = _cat(r_app, SENIORITY_GIVEN_BAND[band_c[app_client]])
    app_gap = r_app.integers(3, 41, n_apps)
    app_gap[client_app_start] = 0
    app_offset = _within_group_cumsum(app_gap, client_app_start, apps_per_client)

    # --- interview timing ------------------------------------------------------------------
    round_gap = r_time.integers(4, 19, n)
    round_gap[app_iv_start] = 0
    round_offset = _within_group_cumsum(round_gap, app_iv_start, app_len)
    rel_day = app_offset[iv_app] + round_offset
    client_iv_start = app_iv_start[client_app_start]
    span = np.maximum.reduceat(rel_day, client_iv_start)
    latest = np.maximum(TOTAL_DAYS - 14 - span, 0)
    client_start = np.floor(r_time.random(n_clients) * (latest + 1)).astype(np.int64)
    iv_day = np.minimum(client_start[iv_client] + rel_day, TOTAL_DAYS - 14)
    start_sec = r_time.integers(32, 72, n) * 900  # 08:00-17:45, quarter hours
    duration = DURATION_BY_STAGE[stage] * np.exp(r_time.normal(0.0, 0.25, n))
    duration = np.clip(np.rint(duration / 5) * 5, 5, 600).astype(np.int64)
    lag_kind = r_time.choice(3, n, p=(0.7, 0.25, 0.05))
    lag = np.choose(
        lag_kind,
        [
            r_time.integers(1_200, 8 * 3600, n),
            r_time.integers(8 * 3600, 72 * 3600, n),
            r_time.integers(3 * DAY, 10 * DAY, n),
        ],
    )
    iv_date_sec = WINDOW_START + iv_day * DAY
    submitted = iv_date_sec + start_sec + duration * 60 + lag

    # --- strata ----------------------------------------------------------------------------
    industry = app_ind[iv_app]
    seniority = app_sen[iv_app]
    band = band_c[iv_client]
    role_family = app_role[iv_app]
    interviewer_role = _cat(r_time, ROLE_GIVEN_STAGE[stage])

    # --- tactics (true values) -------------------------------------------------------------
    savvy = (
        SAVVY_STAGE[stage]
        + SAVVY_SENIORITY[seniority]
        + SAVVY_BAND[band]
        + SAVVY_INDUSTRY[industry]
    )
    p_kind = np.clip(KIND_BASE[None, :] + KIND_SLOPE[None, :] * savvy[:, None], 0.01, 0.9)
    p_any = 1 - np.prod(1 - p_kind, axis=1)
    # Latent kinds given asking (independent Bernoulli draws conditioned on at least one).
    lat_kinds = r_tac.random((n, 3)) < p_kind
    todo = ~lat_kinds.any(axis=1)
    while todo.any():
        idx = np.flatnonzero(todo)
        lat_kinds[idx] = r_tac.random((len(idx), 3)) < p_kind[idx]
        todo[idx] = ~lat_kinds[idx].any(axis=1)
    asked = r_tac.random(n) < p_any
    kinds = lat_kinds & asked[:, None]
    mix_w = np.array([m[0] for m in TIMING_MIX])
    comp = r_tac.choice(len(TIMING_MIX), n, p=mix_w)
    lo = np.array([m[1] for m in TIMING_MIX])[comp]
    hi = np.array([m[2] for m in TIMING_MIX])[comp]
    lat_pct = lo + np.floor(r_tac.random(n) * (hi - lo + 1)).astype(np.int64)
    lat_rapport = r_tac.choice(5, n, p=RAPPORT_P) + 1
    lat_m = timing_multiplier(lat_pct) * RAPPORT_MULT[lat_rapport - 1]

    p_raised = RAISED_BASE + RAISED_BAND[band] + RAISED_STAGE[stage]
    raised = r_tac.random(n) < p_raised
    n_concerns = r_tac.choice(3, n, p=(0.7, 0.24, 0.06)) + 1
    cw = np.broadcast_to(np.log(CONCERN_WEIGHTS), (n, 9)).copy()
    cw[band == 0, 0] += np.log(3.0)
    cw[band == 0, 6] += np.log(0.2)
    cw[band == 4, 6] += np.log(4.0)
    cw[band == 4, 0] += np.log(0.2)
    cw[switch[iv_app], 1] += np.log(3.0)
    keys = cw + r_tac.gumbel(size=(n, 9))
    order = np.argsort(-keys, axis=1)
    rank_of = np.empty_like(order)
    np.put_along_axis(rank_of, order, np.arange(9)[None, :].repeat(n, 0), axis=1)
    chosen = (rank_of < n_concerns[:, None]) & raised[:, None]
    concern_mask = (chosen * (1 << np.arange(9))[None, :]).sum(axis=1)
    first_concern = order[:, 0]
    p_addr = ADDRESSED_BASE + ADDRESSED_SENIORITY[seniority] + ADDRESSED_BAND[band]
    addressed = (r_tac.random(n) < p_addr) & raised
    self_rating = np.rint(
        SELF_BASE
        + SELF_SLOPE_SENIORITY * seniority
        + SELF_SLOPE_BAND * band
        + r_tac.normal(0.0, SELF_SD, n)
    )
    self_rating = np.clip(self_rating, 1, 5).astype(np.int64)

    # --- outcome model ---------------------------------------------------------------------
    base = (
        INTERCEPT
        + OFFSET_STAGE[stage]
        + OFFSET_SENIORITY[seniority]
        + OFFSET_BAND[band]
        + OFFSET_INDUSTRY[industry]
    )
    base_part = base + CONCERNS_RAISED_EFFECT * raised
    addr_term = ADDRESSED_EFFECT * (raised & addressed)
    tactic_term = lat_m * (kinds @ KIND_EFFECT)
    p_offer = np.clip(base_part + tactic_term + addr_term, CLIP_LO, CLIP_HI)
    offer = r_out.random(n) < p_offer

    d_final = np.clip(np.exp(r_out.normal(math.log(14.0), 0.6, n)), 1.5, 120.0)
    decided_at = submitted + np.rint(d_final * DAY).astype(np.int64)
    decided = (r_out.random(n) >= GHOST_P) & (decided_at <= WINDOW_END)
    non_offer = r_out.choice(len(NON_OFFER), n, p=NON_OFFER_P)
    final_code = np.where(offer, -1, non_offer)  # -1 offer, else index into NON_OFFER
    pre_p = np.select(
        [final_code == -1, final_code == 0, final_code == 2],
        [PRE_NEXT_ROUND_P["offer"], PRE_NEXT_ROUND_P["rejected"], PRE_NEXT_ROUND_P["withdrawn"]],
        0.0,
    )
    has_pre = decided & (r_out.random(n) < pre_p)
    pre_at = submitted + np.rint(d_final * r_out.uniform(0.25, 0.6, n) * DAY).astype(np.int64)
    p_ref = np.where(
        offer,
        REFERRAL_OFFER_RATE,
        REFERRAL_BASE_SENIORITY[seniority] + REFERRAL_CONCERNS_EFFECT * kinds[:, 0],
    )
    referral = r_out.random(n) < p_ref

    # --- corrections: the original debrief is perturbed, the correction carries the truth --
    corrected = r_corr.random(n) < CORRECTION_P
    corr_at = submitted + r_corr.integers(DAY, 12 * DAY, n)
    pert = {
        "duration": corrected & (r_corr.random(n) < 0.3),
        "self_rating": corrected & (r_corr.random(n) < 0.4),
        "notes": corrected & (r_corr.random(n) < 0.3),
        "pct": corrected & asked & (r_corr.random(n) < 0.4),
        "rapport": corrected & asked & (r_corr.random(n) < 0.3),
        "addressed": corrected & raised & (r_corr.random(n) < 0.5),
        "drop_kind": corrected & (kinds.sum(axis=1) >= 2) & (r_corr.random(n) < 0.5),
        "unasked": corrected & asked & (r_corr.random(n) < 0.15),
        "date": corrected & (r_corr.random(n) < 0.1),
    }
    debrief_export = submitted + r_time.integers(600, 36 * 3600, n)
    late = r_time.random(n) < LATE_DEBRIEF_P
    debrief_export = np.where(
        late, submitted + r_time.integers(20 * DAY, 90 * DAY, n), debrief_export
    )
    corr_export = corr_at + r_time.integers(600, 36 * 3600, n)
    decided_export = decided_at + r_out.integers(600, 72 * 3600, n)
    pre_export = pre_at + r_out.integers(600, 72 * 3600, n)

    return {
        "n": n,
        "seed": seed,
        "firm_ids": firm_ids,
        "n_clients": n_clients,
        "client_firm": client_firm,
        "ref_style": ref_style,
        "years": years,
        "iv_client": iv_client,
        "iv_firm": client_firm[iv_client],
        "iv_day": iv_day,
        "submitted": submitted,
        "stage": stage,
        "interviewer_role": interviewer_role,
        "industry": industry,
        "role_family": role_family,
        "seniority": seniority,
        "band": band,
        "duration": duration,
        "asked": asked,
        "kinds": kinds,
        "lat_kinds": lat_kinds,
        "pct": lat_pct,
        "rapport": lat_rapport,
        "lat_m": lat_m,
        "raised": raised,
        "concern_mask": concern_mask,
        "first_concern": first_concern,
        "addressed": addressed,
        "self_rating": self_rating,
        "base": base,
        "base_part": base_part,
        "addr_term": addr_term,
        "p_offer": p_offer,
        "offer": offer,
        "decided": decided,
        "decided_at": decided_at,
        "final_code": final_code,
        "has_pre": has_pre,
        "pre_at": pre_at,
        "referral": referral,
        "corrected": corrected,
        "corr_at": corr_at,
        "pert": pert,
        "debrief_export": debrief_export,
        "corr_export": corr_export,
        "decided_export": decided_export,
        "pre_export": pre_export,
        "r_corr": r_corr,
        "r_notes": r_notes,
        "r_ids": r_ids,
        "r_erase": r_erase,
    }


# ============================================================================================
# Records: one row per landing record, ordered by arrival
# ============================================================================================
RT_DEBRIEF, RT_OUTCOME, RT_ERASURE = 0, 1, 2


def _build_records(w: dict) -> dict:
    """Arrays describing every record: type, interview, client, firm, export time, variant."""
    n = w["n"]
    iv = np.arange(n)
    dec = np.flatnonzero(w["decided"])
    pre = np.flatnonzero(w["has_pre"])
    corr = np.flatnonzero(w["corrected"])
    # variant: debrief 0 = original, 1 = correction; outcome 0 = final, 1 = earlier next_round.
    parts = [
        (RT_DEBRIEF, iv, 0, w["debrief_export"]),
        (RT_DEBRIEF, corr, 1, w["corr_export"][corr]),
        (RT_OUTCOME, dec, 0, w["decided_export"][dec]),
        (RT_OUTCOME, pre, 1, w["pre_export"][pre]),
    ]
    rtype = np.concatenate([np.full(len(p[1]), p[0]) for p in parts])
    ivx = np.concatenate([p[1] for p in parts])
    variant = np.concatenate([np.full(len(p[1]), p[2]) for p in parts])
    export = np.concatenate([p[3] for p in parts])
    client = w["iv_client"][ivx]

    # Erasures: a handful of clients per firm whose records are all out well before the end.
    last_export = np.full(w["n_clients"], np.iinfo(np.int64).min)
    np.maximum.at(last_export, client, export)
    eligible = last_export <= WINDOW_END - 20 * DAY
    erased_clients = []
    r = w["r_erase"]
    for f in range(len(w["firm_ids"])):
        cand = np.flatnonzero(eligible & (w["client_firm"] == f))
        n_f = int((w["client_firm"] == f).sum())
        k = min(len(cand), max(1, min(12, round(n_f * 0.002)))) if n_f >= 10 else 0
        if k:
            erased_clients.append(np.sort(r.choice(cand, k, replace=False)))
    erased = np.concatenate(erased_clients) if erased_clients else np.zeros(0, dtype=np.int64)
    req_at = last_export[erased] + r.integers(2 * DAY, 14 * DAY, len(erased))

    rtype = np.concatenate([rtype, np.full(len(erased), RT_ERASURE)])
    ivx = np.concatenate([ivx, np.full(len(erased), -1)])
    variant = np.concatenate([variant, np.zeros(len(erased), dtype=np.int64)])
    export = np.concatenate([export, req_at])
    client = np.concatenate([client, erased])
    firm = w["client_firm"][client]

    # Batches: equal time windows per firm; more data -> more (smaller-window) files.
    n_firms = len(w["firm_ids"])
    iv_per_firm = np.bincount(w["iv_firm"], minlength=n_firms)
    n_batches = np.clip(np.ceil(iv_per_firm / 20_000), 4, 36).astype(np.int64)
    span = WINDOW_END + 1 - WINDOW_START
    batch = np.floor((export - WINDOW_START) * n_batches[firm] / span).astype(np.int64)
    batch = np.clip(batch, 0, n_batches[firm] - 1)

    serial = np.arange(len(rtype))
    order = np.lexsort((serial, rtype, export, batch, firm))
    out = {
        "rtype": rtype[order],
        "iv": ivx[order],
        "variant": variant[order],
        "export": export[order],
        "client": client[order],
        "firm": firm[order],
        "batch": batch[order],
        "n_batches": n_batches,
        "erased_clients": erased,
        "requested_at": req_at,
    }
    # Per-firm, per-type counters (1-based) in arrival order within the firm.
    key = out["firm"] * 3 + out["rtype"]
    out["type_seq"] = _rank_within(key)
    out["firm_seq"] = _rank_within(out["firm"])
    return out


def _rank_within(group: np.ndarray) -> np.ndarray:
    """1-based position of each element within its group, in array order."""
    order = np.argsort(group, kind="stable")
    g = group[order]
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    sizes = np.diff(np.r_[starts, len(g)])
    pos = np.arange(len(g)) - np.repeat(starts, sizes)
    out = np.empty(len(g), dtype=np.int64)
    out[order] = pos + 1
    return out


# --------------------------------------------------------------------------------------------
# String helpers (vectorised)
# --------------------------------------------------------------------------------------------
def _scramble(x: np.ndarray, bits: int, salt: int) -> np.ndarray:
    """Bijection on [0, 2**bits): multiply by an odd constant, xor a salt (mod 2**bits)."""
    mask = np.uint64((1 << bits) - 1)
    with np.errstate(over="ignore"):
        y = (x.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)) & mask
        y = (y ^ np.uint64(salt & ((1 << bits) - 1))) & mask
        y = (y * np.uint64(0xBF58476D1CE4E5B9)) & mask
    return y


def _hex(x: np.ndarray, digits: int) -> pl.Series:
    """Lower-case hex of uint64 values, zero-padded to `digits` (<= 16) characters."""
    n = len(x)
    buf = np.empty((n, 9), dtype=np.uint8)
    buf[:, :8] = np.asarray(x, dtype=np.uint64).astype(">u8").view(np.uint8).reshape(n, 8)
    buf[:, 8] = 1  # sentinel: numpy "S" arrays strip trailing NUL bytes
    return pl.Series(buf.view("S9").ravel()).bin.encode("hex").str.slice(16 - digits, digits)


def _pick(values, idx: np.ndarray) -> pl.Series:
    return pl.Series(list(values), dtype=pl.String).gather(idx)


def _ts(secs: np.ndarray) -> pl.Series:
    return pl.from_epoch(pl.Series(secs, dtype=pl.Int64), time_unit="s").dt.strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )


def _date(secs: np.ndarray) -> pl.Series:
    return pl.from_epoch(pl.Series(secs, dtype=pl.Int64), time_unit="s").dt.strftime("%Y-%m-%d")


def _firm_prefix(firm_id: str) -> str:
    return "".join(p[0] for p in firm_id.split("-") if p).upper()[:4] or "F"


def _unique_codes(rng: np.random.Generator, n: int, base: int, levels: int) -> np.ndarray:
    """n distinct codes in [0, base*levels), preferring the first `base` (level 0) codes."""
    cap = base * levels
    if n > cap:
        raise ValueError("code space exhausted")
    if n <= base:
        return rng.choice(base, n, replace=False)
    rest = rng.choice(cap - base, n - base, replace=False) + base
    return np.concatenate([rng.permutation(base), rest])


def _client_refs(w: dict) -> pl.Series:
    """One client_ref per client, unique within its firm: e-mails, full names or opaque ids."""
    rng = w["r_ids"]
    nf, nl = len(FIRST_NAMES), len(LAST_NAMES)
    first_d = [f[0] for f in FIRST_NAMES]
    first_a = [f[1] for f in FIRST_NAMES]
    last_d = [x[0] for x in LAST_NAMES]
    last_a = [x[1] for x in LAST_NAMES]
    refs = np.empty(w["n_clients"], dtype=object)
    for f, firm_id in enumerate(w["firm_ids"]):
        members = np.flatnonzero(w["client_firm"] == f)
        style = w["ref_style"][members]
        # e-mail: first.last / firstlast / f.last / first_last, optional number, six domains
        em = members[style == 0]
        base = nf * nl * 4 * len(EMAIL_DOMAINS)
        codes = _unique_codes(rng, len(em), base, 100)
        caps = rng.random(len(em)) < 0.05
        for i, c, cap in zip(em, codes.tolist(), caps.tolist(), strict=True):
            c, num = c % base, c // base
            fi, c = c % nf, c // nf
            li, c = c % nl, c // nl
            form, dom = c % 4, c // 4
            fa, la = first_a[fi], last_a[li]
            if cap:
                fa, la = fa.capitalize(), la.capitalize()
            local = (f"{fa}.{la}", f"{fa}{la}", f"{fa[0]}.{la}", f"{fa}_{la}")[form]
            refs[i] = f"{local}{num if num else ''}@{EMAIL_DOMAINS[dom]}"
        # full names, with one or two middle initials once plain names run out
        nm = members[style == 1]
        codes = _unique_codes(rng, len(nm), nf * nl, 1 + 26 + 26 * 26)
        for i, c in zip(nm, codes.tolist(), strict=True):
            fi, c = c % nf, c // nf
            li, mid = c % nl, c // nl
            if mid == 0:
                refs[i] = f"{first_d[fi]} {last_d[li]}"
            elif mid <= 26:
                refs[i] = f"{first_d[fi]} {chr(64 + mid)}. {last_d[li]}"
            else:
                a, b = divmod(mid - 27, 26)
                refs[i] = f"{first_d[fi]} {chr(65 + a)}. {chr(65 + b)}. {last_d[li]}"
        # opaque ids, numbered within the firm
        op = members[style == 2]
        num = np.arange(1, len(op) + 1)
        kind = f % 3
        if kind == 0:
            vals = [f"C{k:06d}" for k in num.tolist()]
        elif kind == 1:
            vals = ("cl_" + _hex(_scramble(num, 40, 0x5EA1 + f), 10)).to_list()
        else:
            pfx = _firm_prefix(firm_id)
            vals = [f"{pfx}{k:05d}" for k in num.tolist()]
        refs[op] = vals
    return pl.Series(refs.tolist(), dtype=pl.String)


def _interview_refs(w: dict) -> pl.Series:
    """interview_ref per interview, unique within a firm (numbered in interview-date order)."""
    n = w["n"]
    firm = w["iv_firm"]
    order = np.lexsort((np.arange(n), w["submitted"], firm))
    seq = np.empty(n, dtype=np.int64)
    seq[order] = _rank_within(firm[order])
    style = firm % 3
    parts = []
    sel = np.flatnonzero(style == 0)
    parts.append((sel, "int-" + pl.Series(seq[sel]).cast(pl.String)))
    sel = np.flatnonzero(style == 1)
    parts.append((sel, "iv_" + _hex(_scramble(seq[sel], 48, 0x1D5EA1), 12)))
    sel = np.flatnonzero(style == 2)
    year = _date(WINDOW_START + w["iv_day"][sel] * DAY).str.slice(0, 5)
    parts.append((sel, year + pl.Series(seq[sel]).cast(pl.String).str.zfill(6)))
    return _scatter(n, parts)


def _record_ids(recs: dict, firm_ids: list[str]) -> pl.Series:
    """record_id per record, unique within a firm; the id style differs by firm."""
    n = len(recs["rtype"])
    style = recs["firm"] % 3
    parts = []
    sel = np.flatnonzero(style == 0)  # "d-17", "o-17", "e-17"
    letters = pl.Series(["d-", "o-", "e-"], dtype=pl.String).gather(recs["rtype"][sel])
    parts.append((sel, letters + pl.Series(recs["type_seq"][sel]).cast(pl.String)))
    sel = np.flatnonzero(style == 1)  # uuid-shaped, from a bijection of the firm serial
    a = _hex(_scramble(recs["firm_seq"][sel], 64, 0xA5A5), 16)
    b = _hex(_scramble(recs["firm_seq"][sel], 64, 0x5A5A7), 16)
    uuid = pl.select(
        pl.format(
            "{}-{}-{}-{}-{}",
            a.str.slice(0, 8),
            a.str.slice(8, 4),
            a.str.slice(12, 4),
            b.str.slice(0, 4),
            b.str.slice(4, 12),
        )
    ).to_series()
    parts.append((sel, uuid))
    sel = np.flatnonzero(style == 2)  # "SC-DEB-0000017"
    pfx = np.array([_firm_prefix(f) + "-" for f in firm_ids], dtype=object)[recs["firm"][sel]]
    mid = np.array(["DEB-", "OUT-", "ERA-"], dtype=object)[recs["rtype"][sel]]
    head = pl.Series((pfx + mid).astype(str), dtype=pl.String)
    parts.append((sel, head + pl.Series(recs["type_seq"][sel]).cast(pl.String).str.zfill(7)))
    return _scatter(n, parts)


def _scatter(n: int, parts: list[tuple[np.ndarray, pl.Series]]) -> pl.Series:
    """Assemble a string Series of length n from (positions, values) parts covering 0..n-1."""
    pos = np.concatenate([p for p, _ in parts])
    vals = pl.concat([v for _, v in parts])
    inv = np.empty(n, dtype=np.int64)
    inv[pos] = np.arange(n)
    return vals.gather(inv)


def _notes(w: dict, client_refs: pl.Series) -> pl.Series:
    """Free-text notes per interview (true version), ~15% null, full of PII."""
    n = w["n"]
    r = w["r_notes"]
    nf, nl = len(FIRST_NAMES), len(LAST_NAMES)
    fi = r.integers(0, nf, n)
    li = r.integers(0, nl, n)
    ci = r.integers(0, len(COMPANIES), n)
    area = r.integers(201, 990, n)
    last4 = r.integers(100, 200, n)
    client_area = r.integers(201, 990, n)
    client_last4 = r.integers(100, 200, n)
    df = pl.DataFrame(
        {
            "ifirst": _pick([f[0] for f in FIRST_NAMES], fi),
            "ifirst_a": _pick([f[1] for f in FIRST_NAMES], fi),
            "ilast": _pick([x[0] for x in LAST_NAMES], li),
            "ilast_a": _pick([x[1] for x in LAST_NAMES], li),
            "company": _pick([c[0] for c in COMPANIES], ci),
            "cdomain": _pick([c[1] for c in COMPANIES], ci),
            "area": pl.Series(area).cast(pl.String),
            "l4": pl.Series(last4).cast(pl.String).str.zfill(4),
            "carea": pl.Series(client_area).cast(pl.String),
            "cl4": pl.Series(client_last4).cast(pl.String).str.zfill(4),
            "pfmt": r.integers(0, 7, n),
            "cfmt": r.integers(0, 7, n),
            "efmt": r.integers(0, 3, n),
            "ufmt": r.integers(0, 4, n),
            "tmpl": r.choice(9, n, p=(0.16, 0.14, 0.12, 0.12, 0.12, 0.1, 0.08, 0.08, 0.08)),
            "null": r.random(n) < 0.15,
            "jobid": pl.Series(r.integers(1000, 99999, n)).cast(pl.String),
            "stage_word": _pick(STAGE_WORDS, w["stage"]),
            "mood": _pick(MOODS, r.integers(0, len(MOODS), n)),
            "concern": _pick(CONCERN_TEXT, w["first_concern"]),
            "c": w["kinds"][:, 0],
            "i": w["kinds"][:, 1],
            "m": w["kinds"][:, 2],
            "raised": w["raised"],
            "addressed": w["addressed"],
            "noask": r.integers(0, 3, n),
            "client": client_refs.gather(w["iv_client"]),
        }
    )

    def phone(area_col: str, l4_col: str, fmt_col: str) -> pl.Expr:
        a, l4 = pl.col(area_col), pl.col(l4_col)
        return (
            pl.when(pl.col(fmt_col) == 0)
            .then(pl.format("+1 {}-555-{}", a, l4))
            .when(pl.col(fmt_col) == 1)
            .then(pl.format("({}) 555-{}", a, l4))
            .when(pl.col(fmt_col) == 2)
            .then(pl.format("{}.555.{}", a, l4))
            .when(pl.col(fmt_col) == 3)
            .then(pl.format("+44 20 7946 {}", l4))
            .when(pl.col(fmt_col) == 4)
            .then(pl.format("020 7946 {}", l4))
            .when(pl.col(fmt_col) == 5)
            .then(pl.format("+1{}555{}", a, l4))
            .otherwise(pl.format("{} 555 {}", a, l4))
        )

    iemail = (
        pl.when(pl.col("efmt") == 0)
        .then(pl.format("{}@{}", "ifirst_a", "cdomain"))
        .when(pl.col("efmt") == 1)
        .then(pl.format("{}.{}@{}", "ifirst_a", "ilast_a", "cdomain"))
        .otherwise(pl.format("{}{}@{}", pl.col("ifirst_a").str.slice(0, 1), "ilast_a", "cdomain"))
    )
    url = (
        pl.when(pl.col("ufmt") == 0)
        .then(pl.format("https://www.linkedin.com/in/{}-{}", "ifirst_a", "ilast_a"))
        .when(pl.col("ufmt") == 1)
        .then(pl.format("https://{}/careers/{}", "cdomain", "jobid"))
        .when(pl.col("ufmt") == 2)
        .then(pl.format("www.{}/jobs?id={}", "cdomain", "jobid"))
        .otherwise(pl.format("http://bit.ly/{}", "jobid"))
    )
    tactic = (
        pl.when(pl.col("c"))
        .then(pl.format("Asked {} whether they had any concerns about my fit.", "ifirst"))
        .when(pl.col("i"))
        .then(pl.lit("Asked what their ideal candidate looks like."))
        .when(pl.col("m"))
        .then(pl.lit("Asked how I compare with the other candidates."))
        .when(pl.col("noask") == 0)
        .then(pl.lit("Ran out of time for my fit question."))
        .when(pl.col("noask") == 1)
        .then(pl.lit("Didn't ask the fit question."))
        .otherwise(pl.lit(""))
    )
    concern = (
        pl.when(pl.col("raised") & pl.col("addressed"))
        .then(pl.format("{} mentioned {}; I clarified it on the spot.", "ifirst", "concern"))
        .when(pl.col("raised"))
        .then(pl.format("{} brought up {}, didn't manage to address it.", "ifirst", "concern"))
        .otherwise(pl.lit(""))
    )
    iname = pl.format("{} {}", "ifirst", "ilast")
    tm = pl.col("tmpl")
    text = (
        pl.when(tm == 0)
        .then(pl.format("{} Interviewer was {} ({}).", tactic, iname, iemail))
        .when(tm == 1)
        .then(
            pl.format(
                "Call with {} from {}. {} Follow up at {}.",
                "ifirst",
                "company",
                tactic,
                phone("area", "l4", "pfmt"),
            )
        )
        .when(tm == 2)
        .then(
            pl.format(
                "{} {}: felt {}. {} Job post: {}", "company", "stage_word", "mood", concern, url
            )
        )
        .when(tm == 3)
        .then(
            pl.format(
                "{} {} Recruiter {} said to email {} or call {}.",
                tactic,
                concern,
                iname,
                iemail,
                phone("area", "l4", "pfmt"),
            )
        )
        .when(tm == 4)
        .then(pl.format("Felt {}. {}", "mood", tactic))
        .when(tm == 5)
        .then(pl.format("Met {} at {}; {} shared {}. {}", iname, "company", "ifirst", url, concern))
        .when(tm == 6)
        .then(
            pl.format(
                "{} asked me to send references to {} by Friday. {}", "ifirst", iemail, tactic
            )
        )
        .when(tm == 7)
        .then(
            pl.format(
                "Notes for coach ({}): {} {} My cell is {}.",
                "client",
                tactic,
                concern,
                phone("carea", "cl4", "cfmt"),
            )
        )
        .otherwise(
            pl.format(
                '{} said "we\'ll be in touch" - {}, {}. {}', iname, "company", "mood", concern
            )
        )
    )
    return df.select(
        pl.when(pl.col("null"))
        .then(pl.lit(None, dtype=pl.String))
        .otherwise(text.str.replace_all(r"\s{2,}", " ").str.strip_chars())
    ).to_series()


def _kind_lists() -> pl.Series:
    vals = [[k for b, k in enumerate(spec.FIT_QUESTION_KINDS) if m >> b & 1] for m in range(8)]
    return pl.Series(vals, dtype=pl.List(pl.String))


def _concern_lists() -> pl.Series:
    vals = [[c for b, c in enumerate(spec.CONCERNS) if m >> b & 1] for m in range(512)]
    return pl.Series(vals, dtype=pl.List(pl.String))


def _nudge(x: np.ndarray, delta: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """x + delta, or x - delta where that would leave [lo, hi] (so a non-zero delta changes x)."""
    up = x + delta
    return np.where((up < lo) | (up > hi), x - delta, up)


def _frames(w: dict, recs: dict) -> dict[int, pl.DataFrame]:
    """Typed polars frames per record type (rows in record order), plus the client_ref series."""
    client_refs = _client_refs(w)
    iv_refs = _interview_refs(w)
    notes_true = _notes(w, client_refs)
    record_ids = _record_ids(recs, w["firm_ids"])
    firm_s = pl.Series(w["firm_ids"], dtype=pl.String)
    out = {}

    # ---- debriefs -------------------------------------------------------------------------
    sel = np.flatnonzero(recs["rtype"] == RT_DEBRIEF)
    ivx = recs["iv"][sel]
    orig = recs["variant"][sel] == 0
    pert = {k: v[ivx] & orig for k, v in w["pert"].items()}
    rc = w["r_corr"]
    m = len(sel)
    submitted = np.where(orig, w["submitted"][ivx], w["corr_at"][ivx])
    iv_day = w["iv_day"][ivx] - pert["date"]
    asked = w["asked"][ivx] & ~pert["unasked"]
    kinds = w["kinds"][ivx] & asked[:, None]
    # drop one kind (the last set one) from a multi-kind ask in the original
    drop = pert["drop_kind"] & asked
    last_set = 2 - np.argmax(kinds[:, ::-1], axis=1)
    kinds[drop, last_set[drop]] = False
    kind_mask = kinds[:, 0] * 1 + kinds[:, 1] * 2 + kinds[:, 2] * 4
    pct = _nudge(w["pct"][ivx], pert["pct"] * rc.choice([-20, -10, 10, 15], m), 0, 100)
    rapport = _nudge(w["rapport"][ivx], pert["rapport"] * rc.choice([-1, 1], m), 1, 5)
    addressed = w["addressed"][ivx] ^ pert["addressed"]
    duration = _nudge(w["duration"][ivx], pert["duration"] * 15, 5, 600)
    notes = notes_true.gather(ivx)
    # Every original that gets corrected must differ from its correction somewhere: if all its
    # perturbations were no-ops (e.g. dropping notes it never had), change the self-rating.
    changed = (
        pert["date"]
        | pert["unasked"]
        | drop
        | (asked & (pert["pct"] | pert["rapport"]))
        | pert["addressed"]
        | pert["duration"]
        | (pert["notes"] & notes.is_not_null().to_numpy())
    )
    flip_self = pert["self_rating"] | (orig & w["corrected"][ivx] & ~changed)
    self_rating = w["self_rating"][ivx]
    self_rating = np.where(flip_self, np.where(self_rating <= 3, self_rating + 1, 2), self_rating)
    notes = pl.select(
        pl.when(pl.Series(pert["notes"])).then(pl.lit(None, dtype=pl.String)).otherwise(notes)
    ).to_series()
    out[RT_DEBRIEF] = pl.DataFrame(
        {
            "record_type": pl.Series(["debrief"] * 1, dtype=pl.String).gather(np.zeros(m, int)),
            "record_id": record_ids.gather(sel),
            "firm_id": firm_s.gather(recs["firm"][sel]),
            "client_ref": client_refs.gather(recs["client"][sel]),
            "interview_ref": iv_refs.gather(ivx),
            "submitted_at": _ts(submitted),
            "interview_date": _date(WINDOW_START + iv_day * DAY),
            "stage": _pick(spec.STAGES, w["stage"][ivx]),
            "interviewer_role": _pick(spec.INTERVIEWER_ROLES, w["interviewer_role"][ivx]),
            "industry": _pick(INDUSTRIES, w["industry"][ivx]),
            "role_family": _pick(ROLE_FAMILIES, w["role_family"][ivx]),
            "seniority": _pick(spec.SENIORITIES, w["seniority"][ivx]),
            "experience_years": pl.Series(w["years"][w["iv_client"][ivx]], dtype=pl.Int64),
            "duration_min": pl.Series(duration, dtype=pl.Int64),
            "asked_fit_question": pl.Series(asked),
            "fit_question_kinds": _kind_lists().gather(kind_mask),
            "_pct": pl.Series(pct, dtype=pl.Int64),
            "_rapport": pl.Series(rapport, dtype=pl.Int64),
            "concerns_raised": _concern_lists().gather(w["concern_mask"][ivx]),
            "_addressed": pl.Series(addressed),
            "_raised": pl.Series(w["raised"][ivx]),
            "self_rating": pl.Series(self_rating, dtype=pl.Int64),
            "notes": notes,
        }
    ).select(
        *[
            pl.col(c)
            for c in ("record_type", "record_id", "firm_id", "client_ref", "interview_ref")
        ],
        *[pl.col(c) for c in spec.DEBRIEF_FIELDS[1:11]],
        pl.col("fit_question_kinds"),
        pl.when(pl.col("asked_fit_question")).then(pl.col("_pct")).alias("asked_at_pct"),
        pl.when(pl.col("asked_fit_question")).then(pl.col("_rapport")).alias("rapport_before_ask"),
        pl.col("concerns_raised"),
        pl.when(pl.col("_raised")).then(pl.col("_addressed")).alias("concerns_addressed"),
        pl.col("self_rating"),
        pl.col("notes"),
    )

    # ---- outcomes -------------------------------------------------------------------------
    sel = np.flatnonzero(recs["rtype"] == RT_OUTCOME)
    ivx = recs["iv"][sel]
    is_pre = recs["variant"][sel] == 1
    code = np.where(is_pre, 1, w["final_code"][ivx])  # 1 == next_round
    outcome_names = ("offer", *NON_OFFER)
    out[RT_OUTCOME] = pl.DataFrame(
        {
            "record_type": pl.Series(["outcome"], dtype=pl.String).gather(np.zeros(len(sel), int)),
            "record_id": record_ids.gather(sel),
            "firm_id": firm_s.gather(recs["firm"][sel]),
            "client_ref": client_refs.gather(recs["client"][sel]),
            "interview_ref": iv_refs.gather(ivx),
            "decided_at": _ts(np.where(is_pre, w["pre_at"][ivx], w["decided_at"][ivx])),
            "outcome": _pick(outcome_names, code + 1),
            "referral": pl.Series(w["referral"][ivx] & ~is_pre),
        }
    )

    # ---- erasures -------------------------------------------------------------------------
    sel = np.flatnonzero(recs["rtype"] == RT_ERASURE)
    out[RT_ERASURE] = pl.DataFrame(
        {
            "record_type": pl.Series(["erasure"], dtype=pl.String).gather(np.zeros(len(sel), int)),
            "record_id": record_ids.gather(sel),
            "firm_id": firm_s.gather(recs["firm"][sel]),
            "client_ref": client_refs.gather(recs["client"][sel]),
            "requested_at": _ts(recs["export"][sel]),
        }
    )
    out["client_refs"] = client_refs
    return out


# ============================================================================================
# Writing
# ============================================================================================
def _batch_end_dates(n_batches: int) -> list[str]:
    span = WINDOW_END + 1 - WINDOW_START
    ends = [WINDOW_START + (b + 1) * span // n_batches - 1 for b in range(n_batches)]
    return [datetime.fromtimestamp(e, tz=UTC).strftime("%Y-%m-%d") for e in ends]


def _schema_version_included(recs: dict) -> np.ndarray:
    """Firm 0 always writes schema_version, firm 1 never, others from their 2nd half of batches."""
    firm, batch = recs["firm"], recs["batch"]
    half = recs["n_batches"][firm] // 2
    return np.where(firm == 0, True, np.where(firm == 1, False, batch >= half))


def _write_files(out_dir: Path, recs: dict, w: dict, fmt: str) -> dict:
    frames = _frames(w, recs)
    w["client_ref_series"] = frames.pop("client_refs")
    with_sv = _schema_version_included(recs)
    n_rec = len(recs["rtype"])
    firm_ids = w["firm_ids"]
    # One file stem per (firm, batch): "<batch end date>_<firm_id>_b<NN>".
    pair = recs["firm"] * 1000 + recs["batch"]
    uniq_pairs, pair_idx = np.unique(pair, return_inverse=True)
    ends = {f: _batch_end_dates(int(nb)) for f, nb in enumerate(recs["n_batches"])}
    pair_stems = [
        f"{ends[p // 1000][p % 1000]}_{firm_ids[p // 1000]}_b{p % 1000 + 1:02d}"
        for p in uniq_pairs.tolist()
    ]
    if fmt == "jsonl":
        code, suffixes = pair_idx, [".jsonl"]
    else:
        code = pair_idx * 3 + recs["rtype"]
        suffixes = [f"_{t + 1}-{rt}.csv" for t, rt in enumerate(spec.RECORD_TYPES)]
    used = np.unique(code)
    used_names = np.array(
        [pair_stems[c // len(suffixes)] + suffixes[c % len(suffixes)] for c in used.tolist()]
    )
    name_order = np.argsort(used_names, kind="stable")
    file_names = used_names[name_order]
    rank_of_code = np.empty(int(used.max()) + 1, dtype=np.int64)
    rank_of_code[used[name_order]] = np.arange(len(used))
    file_rank = rank_of_code[code]
    # Arrival order: sorted file name, then position within the file (export-time order).
    arrival = np.lexsort((np.arange(n_rec), file_rank))
    pos = np.empty(n_rec, dtype=np.int64)
    pos[arrival] = np.arange(n_rec)
    bom_files = set(file_names[np.unique(file_rank[recs["firm"] == 1])].tolist())

    if fmt == "jsonl":
        parts = []
        for t in (RT_DEBRIEF, RT_OUTCOME, RT_ERASURE):
            sel = np.flatnonzero(recs["rtype"] == t)
            if not len(sel):
                continue
            body = (
                frames[t]
                .drop("record_type")
                .select(pl.struct(pl.all()).struct.json_encode().str.slice(1).alias("b"))
                .to_series()
            )
            rt = spec.RECORD_TYPES[t]
            prefix = pl.Series(
                np.where(
                    with_sv[sel],
                    f'{{"record_type":"{rt}","schema_version":{spec.CURRENT_SCHEMA_VERSION},',
                    f'{{"record_type":"{rt}",',
                ),
                dtype=pl.String,
            )
            parts.append(pl.DataFrame({"pos": pos[sel], "line": prefix + body}))
        lines = pl.concat(parts).sort("pos").select("line")
        _write_partitioned(out_dir, file_names, file_rank[arrival], lines, header=False)
    else:
        for t in (RT_DEBRIEF, RT_OUTCOME, RT_ERASURE):
            sel = np.flatnonzero(recs["rtype"] == t)
            if not len(sel):
                continue
            sv = pl.Series("schema_version", np.where(with_sv[sel], 1, 0)).cast(pl.Int64)
            frame = frames[t].with_columns(
                pl.when(sv == 1).then(sv).otherwise(None).alias("schema_version")
            )
            cols = []
            for c in spec.CSV_COLUMNS:
                if c not in frame.columns:
                    cols.append(pl.lit(None, dtype=pl.String).alias(c))
                elif frame.schema[c] == pl.List(pl.String):
                    j = pl.col(c).list.join(spec.LIST_SEPARATOR)
                    cols.append(pl.when(j == "").then(None).otherwise(j).alias(c))
                else:
                    cols.append(pl.col(c))
            order = np.argsort(pos[sel], kind="stable")
            table = frame.select(cols)[order]
            _write_partitioned(
                out_dir, file_names, file_rank[sel][order], table, header=True, bom=bom_files
            )
    return {"names": [str(x) for x in file_names], "rank": file_rank, "pos": pos}


def _write_partitioned(
    out_dir: Path,
    names: np.ndarray,
    ranks: np.ndarray,
    frame: pl.DataFrame,
    header: bool,
    bom: set[str] | None = None,
) -> None:
    """Write consecutive row ranges of frame (sorted by file rank) to their files."""
    starts = np.flatnonzero(np.r_[True, ranks[1:] != ranks[:-1]]) if len(ranks) else []
    for i, s in enumerate(starts):
        e = starts[i + 1] if i + 1 < len(starts) else len(ranks)
        name = str(names[ranks[s]])
        part = frame.slice(int(s), int(e - s))
        with open(out_dir / name, "wb") as fh:
            if bom and name in bom:
                fh.write(b"\xef\xbb\xbf")
            if header:
                part.write_csv(fh, include_header=True)
            else:
                part.write_csv(fh, include_header=False, quote_style="never")


# ============================================================================================
# Truth
# ============================================================================================
TACTIC_IDS = (
    "asked_fit_question",
    "asked_about_concerns",
    "asked_about_ideal_candidate",
    "asked_how_compare",
    "addressed_concerns",
)
TIMING_BINS = ((0, 39), (40, 69), (70, 80), (81, 100))


def _r(x: float) -> float:
    return round(float(x), 6)


def _mean(x: np.ndarray) -> float | None:
    """Rounded mean, or None for an empty selection (never NaN: truth.json stays valid JSON)."""
    return _r(x.mean()) if len(x) else None


def _rate(y: np.ndarray, mask: np.ndarray) -> float | None:
    return _mean(y[mask])


def _truth(w: dict, recs: dict, files: dict, seed: int, n: int, fmt: str) -> dict:
    erased_client = np.zeros(w["n_clients"], dtype=bool)
    erased_client[recs["erased_clients"]] = True
    pop = w["decided"] & ~erased_client[w["iv_client"]]
    y = w["offer"]
    kinds, lat, m = w["kinds"], w["lat_kinds"], w["lat_m"]
    bp, at = w["base_part"], w["addr_term"]
    beta = KIND_EFFECT
    raised, addressed = w["raised"], w["addressed"]

    def clip(x: np.ndarray) -> np.ndarray:
        return np.clip(x, CLIP_LO, CLIP_HI)

    clipped = np.zeros(n, dtype=bool)

    def summary(treated, p1_raw, p0_raw, population, text, true_null=False) -> dict:
        nonlocal clipped
        clipped |= population & (
            (p1_raw < CLIP_LO) | (p1_raw > CLIP_HI) | (p0_raw < CLIP_LO) | (p0_raw > CLIP_HI)
        )
        diff = clip(p1_raw) - clip(p0_raw)
        t1, t0 = population & treated, population & ~treated
        rt, rc = _rate(y, t1), _rate(y, t0)
        return {
            "population": text,
            "n": int(population.sum()),
            "n_treated": int(t1.sum()),
            "n_control": int(t0.sum()),
            "ate_rd": _mean(diff[population]),
            "att_rd": _mean(diff[t1]),
            "crude_rd": _r(rt - rc) if rt is not None and rc is not None else None,
            "offer_rate_treated": rt,
            "offer_rate_control": rc,
            "true_null": true_null,
        }

    tactics = {}
    tactics["asked_fit_question"] = summary(
        w["asked"],
        bp + m * (lat @ beta) + at,
        bp + at,
        pop,
        "decided interviews (non-erased clients)",
    )
    for k, tid in enumerate(TACTIC_IDS[1:4]):
        others = kinds.copy()
        others[:, k] = False
        rest = m * (others @ beta)
        tactics[tid] = summary(
            kinds[:, k],
            bp + rest + m * beta[k] + at,
            bp + rest + at,
            pop,
            "decided interviews (non-erased clients)",
            true_null=bool(beta[k] == 0.0),
        )
    tt = m * (kinds @ beta)
    tactics["addressed_concerns"] = summary(
        addressed,
        bp + tt + ADDRESSED_EFFECT * raised,
        bp + tt,
        pop & raised,
        "decided interviews (non-erased clients) with concerns_raised non-empty",
    )

    # Effect of having asked (as asked) vs not asking, among askers, by timing / rapport.
    askers = pop & w["asked"]
    ask_eff = clip(bp + tt + at) - clip(bp + at)
    bins = []
    for lo, hi in TIMING_BINS:
        sel = askers & (w["pct"] >= lo) & (w["pct"] <= hi)
        bins.append(
            {
                "lo": lo,
                "hi": hi,
                "n": int(sel.sum()),
                "effect_rd": _mean(ask_eff[sel]),
                "mean_multiplier": _r(timing_multiplier(np.arange(lo, hi + 1)).mean()),
            }
        )
    levels = []
    for lvl in range(1, 6):
        sel = askers & (w["rapport"] == lvl)
        levels.append(
            {
                "level": lvl,
                "n": int(sel.sum()),
                "effect_rd": _mean(ask_eff[sel]),
                "multiplier": _r(RAPPORT_MULT[lvl - 1]),
            }
        )

    # Referral among non-offers.
    non_offer = pop & ~y
    c = kinds[:, 0]
    ref = w["referral"]
    r1, r0 = _rate(ref, non_offer & c), _rate(ref, non_offer & ~c)

    # Counts that the realism tests / analysts can check.
    rtype, iv, rank = recs["rtype"], recs["iv"], files["rank"]
    pos = files["pos"]
    big = np.iinfo(np.int64).max
    first_deb_file = np.full(n, big)
    first_out_file = np.full(n, big)
    first_deb_pos = np.full(n, big)
    first_out_pos = np.full(n, big)
    d, o = rtype == RT_DEBRIEF, rtype == RT_OUTCOME
    np.minimum.at(first_deb_file, iv[d], rank[d])
    np.minimum.at(first_out_file, iv[o], rank[o])
    np.minimum.at(first_deb_pos, iv[d], pos[d])
    np.minimum.at(first_out_pos, iv[o], pos[o])
    counts = {
        "interviews": n,
        "clients": int(w["n_clients"]),
        "decided": int(w["decided"].sum()),
        "pending": int((~w["decided"]).sum()),
        "population": int(pop.sum()),
        "corrected_debriefs": int(w["corrected"].sum()),
        "superseded_outcomes": int((w["decided"] & w["has_pre"]).sum()),
        "next_round_then_offer": int((w["decided"] & w["has_pre"] & y).sum()),
        "outcome_in_earlier_file": int((first_out_file < first_deb_file).sum()),
        "outcome_arrives_first": int((first_out_pos < first_deb_pos).sum()),
        "erased_clients": len(recs["erased_clients"]),
        "files": len(files["names"]),
        "records": {t: int((rtype == k).sum()) for k, t in enumerate(spec.RECORD_TYPES)},
    }
    refs = w["client_ref_series"]
    erasures = [
        {"firm_id": w["firm_ids"][int(w["client_firm"][cl])], "client_ref": refs[int(cl)]}
        for cl in recs["erased_clients"].tolist()
    ]

    def by(names, idx) -> dict:
        return {name: _rate(y, pop & (idx == i)) for i, name in enumerate(names)}

    return {
        "generator": "pipelines.generate",
        "seed": seed,
        "interviews": n,
        "format": fmt,
        "firm_ids": list(w["firm_ids"]),
        "window": {
            "start": datetime.fromtimestamp(WINDOW_START, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "end": datetime.fromtimestamp(WINDOW_END, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
        "definitions": {
            "final_outcome": "latest outcome record per (firm_id, interview_ref) by decided_at; "
            "next_round followed by offer counts as offer",
            "decided": "at least one outcome record exists for the interview",
            "pending": "no outcome record at all for the interview",
            "offer": "final_outcome == 'offer'",
            "debrief_values": "latest debrief per (firm_id, interview_ref) by submitted_at "
            "(corrections applied)",
            "population": "decided interviews whose client has no erasure record",
            "risk_difference": "mean over the population of P(offer | do(tactic=1)) - "
            "P(offer | do(tactic=0)) under the generating model",
        },
        "confounders": ["stage", "seniority", "industry", "experience_band"],
        "experience_bands": [list(b) for b in spec.EXPERIENCE_BANDS],
        "model": {
            "formula": "p = clip(intercept + offset_by_stage + offset_by_seniority "
            "+ offset_by_experience_band + offset_by_industry + concerns_raised_effect*R "
            "+ timing(asked_at_pct)*rapport(rapport_before_ask)*(kind_effects . kinds) "
            "+ addressed_effect*R*concerns_addressed, clip.lo, clip.hi)",
            "intercept": INTERCEPT,
            "offset_by_stage": dict(zip(spec.STAGES, OFFSET_STAGE.tolist(), strict=True)),
            "offset_by_seniority": dict(
                zip(spec.SENIORITIES, OFFSET_SENIORITY.tolist(), strict=True)
            ),
            "offset_by_experience_band": dict(zip(BAND_LABELS, OFFSET_BAND.tolist(), strict=True)),
            "offset_by_industry": dict(zip(INDUSTRIES, OFFSET_INDUSTRY.tolist(), strict=True)),
            "concerns_raised_effect": CONCERNS_RAISED_EFFECT,
            "kind_effects": dict(zip(spec.FIT_QUESTION_KINDS, KIND_EFFECT.tolist(), strict=True)),
            "addressed_effect": ADDRESSED_EFFECT,
            "timing_curve": {
                "formula": "floor + (1 - floor) * exp(-((pct - peak) / width)**2)",
                "peak": TIMING_PEAK,
                "width": TIMING_WIDTH,
                "floor": TIMING_FLOOR,
            },
            "rapport_multiplier": dict(
                zip(("1", "2", "3", "4", "5"), RAPPORT_MULT.tolist(), strict=True)
            ),
            "clip": {"lo": CLIP_LO, "hi": CLIP_HI},
            "clip_active_share": _mean(clipped[pop]),
        },
        "tactics": tactics,
        "timing": {
            "best_range_pct": [70, 80],
            "multiplier_by_pct": [_r(v) for v in timing_multiplier(np.arange(101))],
            "bins": bins,
        },
        "rapport": {
            "multiplier_by_level": [_r(v) for v in RAPPORT_MULT],
            "levels": levels,
        },
        "referral": {
            "population": "population interviews whose final outcome is not offer; referral "
            "from the final outcome record",
            "tactic": "asked_about_concerns",
            "effect_rd": REFERRAL_CONCERNS_EFFECT,
            "base_by_seniority": dict(
                zip(spec.SENIORITIES, REFERRAL_BASE_SENIORITY.tolist(), strict=True)
            ),
            "crude_rd": _r(r1 - r0) if r1 is not None and r0 is not None else None,
            "rate_treated": r1,
            "rate_control": r0,
            "n_treated": int((non_offer & c).sum()),
            "n_control": int((non_offer & ~c).sum()),
            "rate_among_offers": _rate(ref, pop & y),
        },
        "self_rating": {
            "effect_rd": 0.0,
            "statement": "self_rating is independent of the outcome given the confounders; it "
            "depends on seniority and experience band only",
            "offer_rate_by_rating": {
                str(k): _rate(y, pop & (w["self_rating"] == k)) for k in range(1, 6)
            },
        },
        "base_rates": {
            "offer_rate": _rate(y, pop),
            "ask_rate": _rate(w["asked"], pop),
            "concerns_raised_rate": _rate(raised, pop),
            "mean_base_probability": _mean(w["base"][pop]),
            "offer_rate_by_stage": by(spec.STAGES, w["stage"]),
            "offer_rate_by_seniority": by(spec.SENIORITIES, w["seniority"]),
            "offer_rate_by_experience_band": by(BAND_LABELS, w["band"]),
        },
        "counts": counts,
        "erasures": {"count": len(erasures), "client_refs": erasures},
    }


def write_messy_example(path: Path, firm_id: str = "demo-firm") -> Path:
    """A small landing file of the kind firms really send: mostly good, a few broken records
    (the demo shows what quarantine says about them). Deterministic."""
    good = {
        **spec.EXAMPLE_DEBRIEF,
        "firm_id": firm_id,
        "fit_question_kinds": ["concerns"],
        "notes": "Asked Tom (tom@acme.io) about concerns; call back on +1 415 555 0132.",
    }
    records = [
        {**good, "record_id": f"m-{i}", "client_ref": f"client{i}@example.com",
         "interview_ref": f"mi-{i}"}
        for i in range(12)
    ]  # fmt: skip
    records[3]["stage"] = "lunch"
    records[5].update(asked_fit_question=False)  # still says when and how it asked
    records[7]["interview_date"] = "2026-03-05"  # after the debrief was written
    records[9]["experience_years"] = "nine"
    lines = [json.dumps(r) for r in records] + ['{"record_type": "debrief", "record_id": ']
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
