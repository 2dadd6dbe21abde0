"""truth.json for the synthetic population: the planted effects, derived estimands, the crude
comparisons an analyst sees and the counts of everything the realism tests check.

All probabilities and differences are on the 0-1 scale. See ``pipelines.synthetic.generate``'s
module docstring for the model and ``DEFINITIONS`` below for every estimand.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from pipelines.core import spec
from pipelines.synthetic.model import (
    BAND_LABELS,
    FINAL_ONLY,
    INDUSTRIES,
    O_NEXT,
    O_NO_RESPONSE,
    O_OFFER,
    O_REJECTED,
    O_WITHDRAWN,
    REPORTING_NAMES,
    REVISION_1_0,
    WINDOW_END,
    WINDOW_START,
    reporting_of,
)
from pipelines.synthetic.records import RT_DEBRIEF, RT_OUTCOME, Records, World

TACTICS = (
    "asked_fit_question",
    "asked_about_concerns",
    "asked_about_ideal_candidate",
    "asked_how_compare",
    "addressed_concerns",
)
HYPOTHESES = (
    "ask_late",
    "rapport_first",
    "address_objections",
    "self_rating_predicts",
    "warm_prospects",
)

DEFINITIONS = {
    "round": "one interview; its application is the client's hiring process for one opening "
    "(application_ref), its round the interview's position in it (round, 1-based)",
    "advance": "the round's result is offer or next_round (advanced) vs rejected or no_response "
    "(not advanced); withdrawn rounds and rounds with no known result are excluded",
    "round_result": "the latest outcome record of the interview by decided_at; an interview "
    "without any outcome record whose application_ref has a later interview (by interview_date) "
    "counts as advanced (final-only firms report only each application's last interview; a few "
    "outcome records of other firms never arrive); otherwise the round is pending",
    "debrief_version": "the latest debrief of the interview submitted at or before the "
    "decided_at of the interview's FIRST outcome record (no outcome record: the latest debrief); "
    "later versions may be coloured by hindsight",
    "analysable_rounds": "rounds with a known, non-withdrawn result, of clients without an "
    "erasure record",
    "effects.advance": "kinds, addressed_concerns: the planted additive effect on P(advance) of "
    "the round (the kind switched on vs off holding the other kinds; addressed vs not among "
    "rounds where concerns were raised), constant across rounds and strata; asked_fit_question: "
    "mean over asked analysable rounds of P(advance | as asked) - P(advance | nothing asked)",
    "effects.application_offer": "mean over started applications (clients without an erasure "
    "record) of prod_r p_r(tactic on in every planned round) - prod_r p_r(tactic off in every "
    "planned round), p_r = P(advance) of planned round r (rounds never reached included, with "
    "their latent asking); the offer probability of a client who never withdraws. A kind is "
    "switched holding the other kinds as drawn; asked_fit_question switches between the latent "
    "kinds, timing and rapport and nothing asked; addressed_concerns switches addressing where "
    "concerns are raised",
    "hypotheses": "ask_late: asked 65-85% of the way in vs at another time, among rounds where a "
    "fit question was asked; rapport_first: rapport_before_ask >= 4 vs <= 3, among askers; "
    "address_objections: concerns_addressed vs not where concerns were raised; "
    "self_rating_predicts: self_rating >= 4 vs <= 3; warm_prospects: P(referral) among "
    "analysable rounds that did not advance, asked about concerns vs not (referral of the "
    "latest outcome record). All on P(advance) unless the estimand says referral",
    "crude": "observed differences on the analysable rounds: rate with the tactic minus rate "
    "without (same populations as the hypotheses)",
}


def _r(x: float) -> float:
    return round(float(x), 6)


def _mean(x: np.ndarray) -> float | None:
    """Rounded mean, or None for an empty selection (never NaN: truth.json stays valid JSON)."""
    return _r(x.mean()) if len(x) else None


def _diff(y: np.ndarray, treated: np.ndarray, pop: np.ndarray) -> dict:
    t, c = pop & treated, pop & ~treated
    rt, rc = _mean(y[t]), _mean(y[c])
    rd = _r(rt - rc) if rt is not None and rc is not None else None
    return {
        "n_treated": int(t.sum()),
        "n_control": int(c.sum()),
        "rate_treated": rt,
        "rate_control": rc,
        "rd": rd,
    }


def observed_rounds(w: World, erased_clients: np.ndarray) -> dict[str, np.ndarray]:
    """Per interview: analysable?, advanced?, and the flags the definitions use."""
    res = w.rounds.result[w.iv]
    erased = np.zeros(w.n_clients, dtype=bool)
    erased[erased_clients] = True
    firm = w.client_firm[w.iv_client]
    sends_app = reporting_of(firm) != REVISION_1_0
    implied = ~w.has_record & sends_app & ~w.last_of_app  # a later round exists: advanced
    known = (w.has_record & (res != O_WITHDRAWN)) | implied
    return {
        "analysable": known & ~erased[w.iv_client],
        "advance": np.isin(res, (O_OFFER, O_NEXT)),
        "implied": implied,
        "erased": erased[w.iv_client],
        "result": res,
    }


def _p_model(w: World, rows: np.ndarray, kinds: np.ndarray, addressed: np.ndarray):
    """P(advance) of planned-round rows under given kinds / addressing (latent timing, rapport)."""
    p, r = w.params, w.rounds
    late = (r.pct[rows] >= p.late_pct[0]) & (r.pct[rows] <= p.late_pct[1])
    extra = p.late_effect * (late - r.late_share) + p.rapport_effect * (
        (r.rapport[rows] >= 4) - r.high_rapport_share
    )
    raw = (
        r.base[rows]
        + p.latent_sd_effect * r.u[rows]
        + kinds @ np.asarray(p.kind_effects)
        + p.concerns_raised_effect * r.raised[rows]
        + p.addressed_effect * addressed
        + kinds.any(axis=1) * extra
    )
    return np.clip(raw, *p.advance_clip), raw


def _switches(w: World, rows: np.ndarray) -> dict[str, tuple]:
    """(p on, p off, raw on, raw off) for each tactic on planned-round rows."""
    r = w.rounds
    k, lat, d, raised = r.kinds[rows], r.latent_kinds[rows], r.addressed[rows], r.raised[rows]
    out = {"asked_fit_question": (*_p_model(w, rows, lat, d), *_p_model(w, rows, lat & False, d))}
    for j, name in enumerate(TACTICS[1:4]):
        on, off = k.copy(), k.copy()
        on[:, j], off[:, j] = True, False
        out[name] = (*_p_model(w, rows, on, d), *_p_model(w, rows, off, d))
    out["addressed_concerns"] = (
        *_p_model(w, rows, k, raised),
        *_p_model(w, rows, k, raised & False),
    )
    return {t: (v[0], v[2], v[1], v[3]) for t, v in out.items()}


def _effects(w: World, obs: dict) -> tuple[dict, dict]:
    p, r = w.params, w.rounds
    pop = obs["analysable"]
    rows = w.iv[pop]
    asked = r.asked[rows]
    p_obs, _ = _p_model(w, rows, r.kinds[rows], r.addressed[rows])
    p_none, _ = _p_model(w, rows, r.kinds[rows] & False, r.addressed[rows])
    advance = {name: _r(b) for name, b in zip(TACTICS[1:4], p.kind_effects, strict=True)}
    advance["addressed_concerns"] = _r(p.addressed_effect)
    advance["asked_fit_question"] = _mean((p_obs - p_none)[asked])

    # Applications: every planned round of every started application of non-erased clients.
    app_ok = ~obs["erased"][np.searchsorted(w.iv_app, np.arange(w.n_apps))]
    first = w.app_rows[app_ok]
    sizes = r.planned[first]
    all_rows = np.repeat(first - np.cumsum(sizes) + sizes, sizes) + np.arange(sizes.sum())
    starts = np.cumsum(sizes) - sizes
    sw = _switches(w, all_rows)
    offer = {}
    clipped = np.zeros(len(all_rows), dtype=bool)
    lo, hi = p.advance_clip
    for name, (on, off, raw_on, raw_off) in sw.items():
        diff = np.multiply.reduceat(on, starts) - np.multiply.reduceat(off, starts)
        offer[name] = _mean(diff)
        clipped |= (raw_on < lo) | (raw_on > hi) | (raw_off < lo) | (raw_off > hi)
    # The per-round switch means on analysable rounds (close to the planted effects; they
    # differ by clipping and by the centred timing/rapport term of rounds that start asking).
    sw_pop = _switches(w, rows)
    switch_means = {
        t: _mean(v[0] - v[1]) if t != "addressed_concerns" else _mean((v[0] - v[1])[r.raised[rows]])
        for t, v in sw_pop.items()
    }
    _, raw = _p_model(w, rows, r.kinds[rows], r.addressed[rows])
    model = {
        "formula": "p_advance = clip(base(round, stage, seniority, band, industry) "
        "+ latent_sd_effect*u + kind_effects . (C, I, M) + concerns_raised_effect*R "
        "+ addressed_effect*R*D + asked*(late_effect*(late - late_share) "
        "+ rapport_effect*(high_rapport - high_rapport_share)), advance_clip)",
        "late_share": _r(r.late_share),
        "high_rapport_share": _r(r.high_rapport_share),
        "clip_active_share": _mean(((raw < lo) | (raw > hi)).astype(float)),
        "clip_active_share_potential": _mean(clipped.astype(float)),
        "switch_means_analysable": switch_means,
    }
    return {"advance": advance, "application_offer": offer}, model


def _crude(w: World, obs: dict) -> dict:
    r, p = w.rounds, w.params
    pop, y = obs["analysable"], obs["advance"]
    rows = w.iv
    k, asked, raised = r.kinds[rows], r.asked[rows], r.raised[rows]
    addressed = r.addressed[rows]
    late = (r.pct[rows] >= p.late_pct[0]) & (r.pct[rows] <= p.late_pct[1])
    tactics = {
        "asked_fit_question": _diff(y, asked, pop),
        "asked_about_concerns": _diff(y, k[:, 0], pop),
        "asked_about_ideal_candidate": _diff(y, k[:, 1], pop),
        "asked_how_compare": _diff(y, k[:, 2], pop),
        "addressed_concerns": _diff(y, addressed, pop & raised),
    }
    not_adv = pop & np.isin(obs["result"], (O_REJECTED, O_NO_RESPONSE))
    hypotheses = {
        "ask_late": _diff(y, late, pop & asked),
        "rapport_first": _diff(y, r.rapport[rows] >= 4, pop & asked),
        "address_objections": tactics["addressed_concerns"],
        "self_rating_predicts": _diff(y, r.self_rating[rows] >= 4, pop),
        "warm_prospects": _diff(r.referral[rows], k[:, 0], not_adv),
    }
    return {
        "n": int(pop.sum()),
        "advance_rate": _mean(y[pop]),
        "tactics": tactics,
        "hypotheses": hypotheses,
    }


def _counts(w: World, recs: Records, obs: dict) -> dict:
    res = obs["result"]
    decided_in = w.rounds.decided[w.iv] <= WINDOW_END
    firm = w.client_firm[w.iv_client]
    final_only_gap = (reporting_of(firm) == FINAL_ONLY) & ~w.last_of_app
    per_client = np.bincount(w.iv_client, minlength=w.n_clients)
    debriefs = np.bincount(recs.iv[recs.rtype == RT_DEBRIEF], minlength=w.n)
    return {
        "interviews": w.n,
        "clients": w.n_clients,
        "applications": w.n_apps,
        "interviews_per_client_median": float(np.median(per_client)),
        "applications_per_client_mean": _r(w.n_apps / w.n_clients),
        "with_outcome_record": int(w.has_record.sum()),
        "without_outcome_record": int((~w.has_record).sum()),
        "final_only_firm_rounds_without_outcome": int(final_only_gap.sum()),
        "rounds_pending": int((~w.has_record & ~final_only_gap).sum()),
        "rounds_decided_after_window": int((~decided_in).sum()),
        "rounds_withdrawn": int((w.has_record & (res == O_WITHDRAWN)).sum()),
        "analysable": int(obs["analysable"].sum()),
        "analysable_implied_advanced": int((obs["analysable"] & obs["implied"]).sum()),
        "corrected_debriefs": int((debriefs > 1).sum()),
        "corrected_before_outcome": int(w.benign.sum()),
        "corrected_after_outcome": int(w.hindsight.sum()),
        "superseded_outcomes": int(w.has_pre.sum()),
        "next_round_then_offer": int((w.has_pre & (res == O_OFFER)).sum()),
        "no_response_then_rejected": int((w.has_pre & (res == O_REJECTED)).sum()),
        "erased_clients": len(recs.erased_clients),
        "records": {t: int((recs.rtype == k).sum()) for k, t in enumerate(spec.RECORD_TYPES)},
    }


def arrival_counts(w: World, recs: Records, file_rank: np.ndarray, pos: np.ndarray) -> dict:
    """Counts that depend on the file layout (JSONL and CSV differ)."""
    big = np.iinfo(np.int64).max
    out = {}
    for name, key in (("outcome_in_earlier_file", file_rank), ("outcome_arrives_first", pos)):
        first = [np.full(w.n, big), np.full(w.n, big)]
        for j, t in enumerate((RT_DEBRIEF, RT_OUTCOME)):
            sel = recs.rtype == t
            np.minimum.at(first[j], recs.iv[sel], key[sel])
        out[name] = int((first[1] < first[0]).sum())
    return out


def build_truth(
    w: World, recs: Records, seed: int, client_refs: list[str], industry_spellings: dict
) -> dict:
    obs = observed_rounds(w, recs.erased_clients)
    effects, model = _effects(w, obs)
    p = w.params
    erasures = [
        {"firm_id": w.firm_ids[int(w.client_firm[c])], "client_ref": client_refs[int(c)]}
        for c in recs.erased_clients.tolist()
    ]
    return {
        "generator": "pipelines.synthetic.generate",
        "seed": seed,
        "interviews": w.n,
        "format": None,
        "firm_ids": list(w.firm_ids),
        "reporting": {f: REPORTING_NAMES[int(reporting_of(i))] for i, f in enumerate(w.firm_ids)},
        "window": {"start": _iso(WINDOW_START), "end": _iso(WINDOW_END)},
        "definitions": DEFINITIONS,
        "params": p.to_dict(),
        "effects": effects,
        "hypotheses": {
            "ask_late": {"estimand": "advance", "effect": _r(p.late_effect)},
            "rapport_first": {"estimand": "advance", "effect": _r(p.rapport_effect)},
            "address_objections": {"estimand": "advance", "effect": _r(p.addressed_effect)},
            "self_rating_predicts": {"estimand": "advance", "effect": 0.0},
            "warm_prospects": {"estimand": "referral", "effect": _r(p.referral_effect)},
        },
        "true_nulls": {
            "tactics": [t for t, b in zip(TACTICS[1:4], p.kind_effects, strict=True) if b == 0],
            "hypotheses": ["self_rating_predicts"],
        },
        "model": model,
        "crude": _crude(w, obs),
        "observed_confounders": ["round", "stage", "seniority", "industry", "experience_band"],
        "vocabulary": {"industries": [*INDUSTRIES, "other"], "experience_bands": list(BAND_LABELS)},
        "industry_spellings": industry_spellings,
        "counts": _counts(w, recs, obs),
        "erasures": {"count": len(erasures), "client_refs": erasures},
    }


def _iso(t: int) -> str:
    return datetime.fromtimestamp(t, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
