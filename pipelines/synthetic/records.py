"""The realised synthetic population (``World``) and its landing records: which interviews are
kept, what each firm reports about them and when, in which batch each record arrives, and what
each debrief version says. Built on the planned rounds of ``pipelines.synthetic.model``.

Debrief versions (``variant``): 0 = the first debrief, written soon after the interview; 1 = a
benign correction written before the outcome (the first version was off, the correction is
right); 2 = a correction written after the first outcome record, coloured by hindsight (the first
version is right). Outcome records: variant 0 = the latest (the round's result), 1 = an earlier
record it supersedes (``no_response`` before ``rejected``, ``next_round`` before ``offer``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipelines.synthetic.model import (
    DAY,
    FINAL_ONLY,
    FIRM_NAMES,
    O_NEXT,
    O_NO_RESPONSE,
    O_OFFER,
    O_REJECTED,
    WINDOW_END,
    WINDOW_START,
    Params,
    Population,
    Rounds,
    reporting_of,
    simulate_rounds,
)

RT_DEBRIEF, RT_OUTCOME, RT_ERASURE = 0, 1, 2
V_FIRST, V_BEFORE_OUTCOME, V_HINDSIGHT = 0, 1, 2
V_FINAL, V_SUPERSEDED = 0, 1


@dataclass(frozen=True)
class World:
    """The realised population: ``rounds`` + the interview rows (``iv`` indexes rounds)."""

    params: Params
    n: int
    firm_ids: list[str]
    rounds: Rounds
    iv: np.ndarray  # planned-round row of each interview (length n)
    n_clients: int
    iv_client: np.ndarray  # 0..n_clients-1
    client_firm: np.ndarray
    client_years: np.ndarray
    client_ref_style: np.ndarray
    n_apps: int
    iv_app: np.ndarray  # 0..n_apps-1 (started applications)
    app_rows: np.ndarray  # first planned-round row of each started application
    app_industry: np.ndarray
    app_switched: np.ndarray
    last_of_app: np.ndarray  # the interview is its application's last realised one
    has_record: np.ndarray  # at least one outcome record
    has_pre: np.ndarray  # an earlier, superseded outcome record
    pre_at: np.ndarray
    first_out: np.ndarray  # decided_at of the first outcome record (where has_record)
    benign: np.ndarray  # corrected before the outcome (the original is off)
    benign_at: np.ndarray
    hindsight: np.ndarray  # corrected after the outcome (the correction is coloured)
    hindsight_at: np.ndarray
    seeds: tuple  # SeedSequences: records, before-outcome, hindsight, ids, notes, spellings


def _streams(seed: int, k: int, part: int = 0) -> list[np.random.SeedSequence]:
    # Part 0 keeps the seed's own streams: a population's first part is the population of
    # that size, and one written whole is unchanged.
    return np.random.SeedSequence(seed if part == 0 else (seed, part)).spawn(k)


# ============================================================================================
# The realised population and what the firms report
# ============================================================================================
def simulate_world(n: int, seed: int, n_firms: int, params: Params, part: int = 0) -> World:
    """Exactly n interviews: simulate enough applications, keep the first n realised rounds.
    ``part`` > 0: another part of a population written in parts (its own streams and firms)."""
    seqs = _streams(seed, 16, part)
    guess = int(n / 1.35) + 16  # about 1.5 realised rounds per application
    for _ in range(20):
        pop = simulate_rounds(seqs, guess, n_firms, params)
        realised = int(pop.rounds.reached.sum())
        if realised >= n:
            break
        guess = int(guess * max(1.2, 1.1 * n / max(realised, 1))) + 16
    else:  # pragma: no cover - 20 rounds of growth always suffice
        raise RuntimeError("could not simulate enough interviews")
    return _realise(seqs, params, n, n_firms, pop, part)


def _firm_ids(k: int, part: int = 0) -> list[str]:
    """Firm ids in ``FIRM_NAMES`` order; a later part's firms are firms of their own
    (``<name>-p<part + 1>``), so no part's ids, refs or records meet another's."""
    out = list(FIRM_NAMES[:k])
    i = 0
    while len(out) < k:
        out.append(f"{FIRM_NAMES[i % len(FIRM_NAMES)]}-{i // len(FIRM_NAMES) + 2}")
        i += 1
    return out if part == 0 else [f"{firm}-p{part + 1}" for firm in out]


def _realise(seqs, p: Params, n: int, n_firms: int, pop: Population, part: int = 0) -> World:
    """Keep the first n realised rounds, index them, draw what the firms report and when."""
    rounds = pop.rounds
    iv = np.flatnonzero(rounds.reached)[:n]
    clients, iv_client = np.unique(rounds.client[iv], return_inverse=True)
    apps, iv_app = np.unique(rounds.app[iv], return_inverse=True)
    app_rows = np.searchsorted(rounds.app, apps)  # rounds are grouped by application
    last_of_app = np.r_[iv_app[1:] != iv_app[:-1], True]
    client_firm = pop.client_firm[clients]
    firm = client_firm[iv_client]
    rep = _reporting(seqs[7], p, rounds, iv, firm, last_of_app)
    return World(
        params=p,
        n=n,
        firm_ids=_firm_ids(n_firms, part),
        rounds=rounds,
        iv=iv,
        n_clients=len(clients),
        iv_client=iv_client,
        client_firm=client_firm,
        client_years=pop.client_years[clients],
        client_ref_style=pop.client_ref_style[clients],
        n_apps=len(apps),
        iv_app=iv_app,
        app_rows=app_rows,
        app_industry=pop.app_industry[apps],
        app_switched=pop.app_switched[apps],
        last_of_app=last_of_app,
        **rep,
        seeds=tuple(seqs[8:]),
    )


def _reporting(seq, p: Params, rounds: Rounds, iv, firm, last_of_app) -> dict:
    """Outcome records (ghosting, final-only firms, superseded records) and debrief versions."""
    rng = np.random.default_rng(seq)
    n = len(iv)
    result, decided, submitted = rounds.result[iv], rounds.decided[iv], rounds.submitted[iv]
    final_only = reporting_of(firm) == FINAL_ONLY
    ghost = rng.random(n) < p.ghost_rate
    has_record = (decided <= WINDOW_END) & ~ghost & (~final_only | last_of_app)
    pre_p = np.select(
        [result == O_REJECTED, result == O_OFFER],
        [p.no_response_before_rejected, p.next_round_before_offer],
        0.0,
    )
    has_pre = has_record & (rng.random(n) < pre_p)
    pre_at = submitted + ((decided - submitted) * rng.uniform(0.25, 0.6, n)).astype(np.int64)
    first_out = np.where(has_pre, pre_at, decided)

    judged = np.isin(result, (O_OFFER, O_NEXT, O_REJECTED, O_NO_RESPONSE))
    hindsight_at = first_out + rng.integers(DAY, 20 * DAY, n)
    hindsight = (
        has_record & judged & (rng.random(n) < p.hindsight_rate) & (hindsight_at <= WINDOW_END)
    )
    horizon = np.where(has_record, first_out, np.minimum(decided, WINDOW_END + 1))
    room = horizon - submitted - 7_200
    benign_at = submitted + 3_600 + (np.maximum(room, 0) * rng.random(n)).astype(np.int64)
    benign = ~hindsight & (room > 0) & (rng.random(n) < p.correction_before_outcome_rate)
    return {
        "has_record": has_record,
        "has_pre": has_pre,
        "pre_at": pre_at,
        "first_out": first_out,
        "benign": benign,
        "benign_at": benign_at,
        "hindsight": hindsight,
        "hindsight_at": hindsight_at,
    }


@dataclass(frozen=True)
class Records:
    """One entry per landing record, in arrival order (firm, batch, export time)."""

    rtype: np.ndarray
    iv: np.ndarray  # interview (-1 for erasures)
    variant: np.ndarray
    at: np.ndarray  # submitted_at / decided_at / requested_at (epoch seconds)
    export: np.ndarray
    client: np.ndarray
    firm: np.ndarray
    batch: np.ndarray
    n_batches: np.ndarray  # per firm
    type_seq: np.ndarray  # 1-based position among the firm's records of that type
    firm_seq: np.ndarray  # 1-based position among the firm's records
    erased_clients: np.ndarray


def build_records(w: World) -> Records:
    rng = np.random.default_rng(w.seeds[0])
    n, r = w.n, w.rounds
    iv = np.arange(n)
    submitted, decided = r.submitted[w.iv], r.decided[w.iv]
    late = rng.random(n) < w.params.late_debrief_rate
    first_export = np.where(
        late,
        submitted + rng.integers(20 * DAY, 90 * DAY, n),
        submitted + rng.integers(600, 36 * 3600, n),
    )
    ben, hs = np.flatnonzero(w.benign), np.flatnonzero(w.hindsight)
    dec, pre = np.flatnonzero(w.has_record), np.flatnonzero(w.has_pre)
    parts = [
        (RT_DEBRIEF, iv, V_FIRST, submitted, first_export),
        (RT_DEBRIEF, ben, V_BEFORE_OUTCOME, w.benign_at[ben], None),
        (RT_DEBRIEF, hs, V_HINDSIGHT, w.hindsight_at[hs], None),
        (RT_OUTCOME, dec, V_FINAL, decided[dec], None),
        (RT_OUTCOME, pre, V_SUPERSEDED, w.pre_at[pre], None),
    ]
    cols = {"rtype": [], "iv": [], "variant": [], "at": [], "export": []}
    for rtype, idx, variant, at, export in parts:
        if export is None:
            hi = 36 * 3600 if rtype == RT_DEBRIEF else 72 * 3600
            export = at + rng.integers(600, hi, len(idx))
        cols["rtype"].append(np.full(len(idx), rtype))
        cols["iv"].append(idx)
        cols["variant"].append(np.full(len(idx), variant))
        cols["at"].append(at)
        cols["export"].append(export)
    c = {k: np.concatenate(v) for k, v in cols.items()}
    client = w.iv_client[c["iv"]]
    erased, requested = _erasures(w, rng, client, c["export"])
    for k, v in (
        ("rtype", np.full(len(erased), RT_ERASURE)),
        ("iv", np.full(len(erased), -1)),
        ("variant", np.zeros(len(erased), np.int64)),
        ("at", requested),
        ("export", requested),
    ):
        c[k] = np.concatenate([c[k], v])
    client = np.concatenate([client, erased])
    firm = w.client_firm[client]

    # Batches: equal time windows per firm; more data -> more (smaller-window) files.
    n_firms = len(w.firm_ids)
    iv_per_firm = np.bincount(w.client_firm[w.iv_client], minlength=n_firms)
    n_batches = np.clip(np.ceil(iv_per_firm / 20_000), 4, 36).astype(np.int64)
    span = WINDOW_END + 1 - WINDOW_START
    batch = np.floor((c["export"] - WINDOW_START) * n_batches[firm] / span).astype(np.int64)
    batch = np.clip(batch, 0, n_batches[firm] - 1)
    order = np.lexsort((np.arange(len(firm)), c["rtype"], c["export"], batch, firm))
    firm_o, rtype_o = firm[order], c["rtype"][order]
    return Records(
        rtype=rtype_o,
        iv=c["iv"][order],
        variant=c["variant"][order],
        at=c["at"][order],
        export=c["export"][order],
        client=client[order],
        firm=firm_o,
        batch=batch[order],
        n_batches=n_batches,
        type_seq=_rank_within(firm_o * 3 + rtype_o),
        firm_seq=_rank_within(firm_o),
        erased_clients=erased,
    )


def _erasures(w: World, rng, client: np.ndarray, export: np.ndarray):
    """A handful of clients per firm whose records are all out well before the end."""
    last_export = np.full(w.n_clients, np.iinfo(np.int64).min)
    np.maximum.at(last_export, client, export)
    eligible = last_export <= WINDOW_END - 20 * DAY
    chosen = []
    for f in range(len(w.firm_ids)):
        cand = np.flatnonzero(eligible & (w.client_firm == f))
        n_f = int((w.client_firm == f).sum())
        k = min(len(cand), max(1, min(12, round(n_f * 0.002)))) if n_f >= 10 else 0
        if k:
            chosen.append(np.sort(rng.choice(cand, k, replace=False)))
    erased = np.concatenate(chosen) if chosen else np.zeros(0, dtype=np.int64)
    return erased, last_export[erased] + rng.integers(2 * DAY, 14 * DAY, len(erased))


def _rank_within(group: np.ndarray) -> np.ndarray:
    """1-based position of each element within its group, in array order."""
    order = np.argsort(group, kind="stable")
    g = group[order]
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    sizes = np.diff(np.r_[starts, len(g)])
    out = np.empty(len(g), dtype=np.int64)
    out[order] = np.arange(len(g)) - np.repeat(starts, sizes) + 1
    return out


# ============================================================================================
# What each debrief version says
# ============================================================================================
FIELDS = ("iv_day", "asked", "kinds", "pct", "rapport", "addressed", "duration", "self_rating")


def _nudge(x: np.ndarray, delta: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """x + delta, or x - delta where that would leave [lo, hi] (so a non-zero delta changes x)."""
    up = x + delta
    return np.where((up < lo) | (up > hi), x - delta, up)


def true_values(w: World) -> dict[str, np.ndarray]:
    """What happened in each interview (per interview; kinds (n, 3))."""
    r, iv = w.rounds, w.iv
    return {
        "iv_day": r.iv_day[iv],
        "asked": r.asked[iv],
        "kinds": r.kinds[iv],
        "pct": r.pct[iv],
        "rapport": r.rapport[iv],
        "addressed": r.addressed[iv],
        "duration": r.duration[iv],
        "self_rating": r.self_rating[iv],
    }


def debrief_versions(w: World) -> tuple[dict, dict, dict, np.ndarray]:
    """(first, before-outcome correction, hindsight correction) values per interview, and which
    first versions drop their notes. Only rows with such a version are read by callers."""
    truth = true_values(w)
    first, drop_notes = _benign_originals(w, truth)
    return first, truth, _hindsight(w, truth), drop_notes


def _benign_originals(w: World, t: dict) -> tuple[dict, np.ndarray]:
    """The first version of an interview corrected before its outcome: something was off."""
    rng = np.random.default_rng(w.seeds[1])
    n, ben = w.n, w.benign
    asked, raised = t["asked"], w.rounds.raised[w.iv]
    pert = {
        "duration": ben & (rng.random(n) < 0.3),
        "self_rating": ben & (rng.random(n) < 0.4),
        "notes": ben & (rng.random(n) < 0.3),
        "pct": ben & asked & (rng.random(n) < 0.4),
        "rapport": ben & asked & (rng.random(n) < 0.3),
        "addressed": ben & raised & (rng.random(n) < 0.5),
        "drop_kind": ben & (t["kinds"].sum(axis=1) >= 2) & (rng.random(n) < 0.5),
        "unasked": ben & asked & (rng.random(n) < 0.15),
        "date": ben & (rng.random(n) < 0.1),
    }
    o = {k: v.copy() for k, v in t.items()}
    o["iv_day"] = t["iv_day"] - pert["date"]
    o["asked"] = asked & ~pert["unasked"]
    kinds = t["kinds"] & o["asked"][:, None]
    last_set = 2 - np.argmax(kinds[:, ::-1], axis=1)
    drop = pert["drop_kind"] & o["asked"]
    kinds[drop, last_set[drop]] = False
    o["kinds"] = kinds
    o["pct"] = _nudge(t["pct"], pert["pct"] * rng.choice([-20, -10, 10, 15], n), 0, 100)
    o["rapport"] = _nudge(t["rapport"], pert["rapport"] * rng.choice([-1, 1], n), 1, 5)
    o["addressed"] = t["addressed"] ^ pert["addressed"]
    o["duration"] = _nudge(t["duration"], pert["duration"] * 15, 5, 600)
    changed = (
        pert["date"]
        | pert["unasked"]
        | drop
        | pert["pct"]
        | pert["rapport"]
        | pert["addressed"]
        | pert["duration"]
    )
    flip = pert["self_rating"] | (ben & ~changed)
    sr = t["self_rating"]
    o["self_rating"] = np.where(flip, np.where(sr <= 3, sr + 1, 2), sr)
    return o, pert["notes"]


def _hindsight(w: World, t: dict) -> dict:
    """The correction written after the outcome: clients remember asking about concerns in the
    rounds that went well, forget questions and feel worse about the ones that did not."""
    rng = np.random.default_rng(w.seeds[2])
    p, n = w.params, w.n
    res = w.rounds.result[w.iv]
    good = w.hindsight & np.isin(res, (O_OFFER, O_NEXT))
    bad = w.hindsight & ~good
    kinds, sr, asked = t["kinds"].copy(), t["self_rating"].copy(), t["asked"]
    has_c = kinds[:, 0]
    add = good & ~has_c & (rng.random(n) < p.hindsight_add_concerns)
    up = good & (sr < 5) & (rng.random(n) < 0.5)
    drop = bad & asked & (rng.random(n) < p.hindsight_drop_kind)
    down = bad & (sr > 1) & (rng.random(n) < 0.5)
    # Every correction changes something, always in the hindsight direction if it can.
    idle = ~(add | up | drop | down)
    up |= good & idle & (sr < 5)
    add |= good & idle & (sr == 5) & ~has_c
    down |= bad & idle & (sr > 1)
    drop |= bad & idle & (sr == 1) & asked
    still_idle = w.hindsight & ~(add | up | drop | down)
    kinds[add, 0] = True
    last_set = 2 - np.argmax(kinds[:, ::-1], axis=1)
    which = np.where(kinds[:, 0], 0, last_set)
    kinds[drop, which[drop]] = False
    h = dict(t)
    h["kinds"] = kinds
    h["asked"] = kinds.any(axis=1)
    newly = h["asked"] & ~asked
    h["rapport"] = np.where(newly, np.minimum(t["rapport"] + 1, 5), t["rapport"])
    h["self_rating"] = sr + up - down
    h["duration"] = _nudge(t["duration"], still_idle * 15, 5, 600)
    return h
