"""Synthetic landing files for the debrief export (docs/spec/debrief-export.md, revision 1.1).

``simulate(interviews, seed, firms, params)`` draws a population of coaching clients and their job
applications and returns the landing records as typed frames plus the truth about them;
``generate(out_dir, interviews, seed, fmt, firms)`` writes those records as landing files (JSONL or
CSV, several firms, batches in arrival order) and ``truth.json``. The same arguments always give
byte-identical files. Modules of ``pipelines.synthetic``: ``model`` (``Params``, the numpy
simulation), ``records`` (records, debrief versions), ``truth`` (truth.json), ``text`` (refs, ids,
industry spellings, notes full of PII).

The population model
--------------------
Additive on the probability scale, so that a linear probability model is correctly specified.

* **Clients** have an unrecorded trait ``u ~ N(0, 1)`` (strength / savvy) and an experience band
  and firm. Each has ``1 + Poisson(applications_per_client)`` **applications** (industry, role
  family, seniority; a planned number of rounds R in 1-5 with stages from fixed templates).
* **Rounds** proceed in order. Per round: the client asks a fit question with
  ``expit(ask_intercept + ask_latent*u + offsets(stage, seniority, band))``; the kinds are
  correlated (``comparison`` comes mostly together with ``concerns``); ``asked_at_pct`` is drawn
  from a fixed mixture (independent of everything), ``rapport_before_ask`` rises with u. The
  interviewer raises concerns (by band and stage); the client addresses them (by seniority and u).
  Self-rating is ``u`` plus noise only. Then::

      p_advance = clip(base(round, stage, seniority, band, industry) + latent_sd_effect*u
                       + kind_effects . (C, I, M) + concerns_raised_effect*R
                       + addressed_effect*R*D
                       + asked*(late_effect*(late - late_share)
                                + rapport_effect*(high_rapport - high_rapport_share)), clip)

  (late = asked 65-85% of the way in, high_rapport = rapport >= 4, the shares are those of all
  asking rounds, so the kinds' effects stay the planted ones on average). The client first
  withdraws with ``withdraw_base + withdraw_latent*max(u, 0)``, else the employer advances them
  with ``p_advance`` (``next_round``, or ``offer`` in round R), else ``rejected`` (or
  ``no_response``, ``no_response_share``). The application ends at offer / not advanced /
  withdrawn. Referral: among rounds that did not advance ``referral_base + referral_latent*u +
  referral_effect*C``; ``referral_if_advanced`` otherwise.
* **Timing**: the debrief is written minutes to days after the interview, the decision comes
  1.5-90 days later, the next round 2-14 days after that. Rounds past the window are never
  held; rounds decided after it are pending. Exactly ``interviews`` interviews are kept (a prefix
  of clients; the last application may be cut short).
* **Reporting**: firms in ``FIRM_NAMES`` order: 0 sends ``application_ref`` and ``round``; 1 only
  ``application_ref``; 2 both, but only each application's final result, against its last
  interview; 3 neither (revision 1.0 files); further firms as 0. Outcome records of other
  rounds go missing at ``ghost_rate``; some are preceded by a superseded record (``no_response``
  then ``rejected``, ``next_round`` then ``offer``). Debriefs are sometimes corrected before the
  outcome (the first version was off) and, at ``hindsight_rate``, after the first outcome record,
  coloured by hindsight (advanced rounds gain ``concerns`` and a higher self-rating, the others
  lose kinds and self-rating). Some debriefs arrive weeks late; a few clients are erased.
  Industries are spelled per firm (case, spacing, hyphens, synonyms; rare one-offs).

truth.json: ``params`` (every ``Params`` field), ``effects`` (``advance``: the planted per-round
effects; ``application_offer``: derived), ``hypotheses``, ``true_nulls``, ``model`` (formula,
centring shares, ``clip_active_share``), ``crude`` (what an analyst sees), ``definitions`` (plain
text of every estimand and of the analysable rounds), ``counts``, ``erasures``, ``reporting``,
``industry_spellings``, and ``generator``, ``seed``, ``interviews``, ``format``, ``firm_ids``,
``window``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl

from pipelines.core import spec
from pipelines.synthetic import text
from pipelines.synthetic.model import (
    DAY,
    FINAL_ONLY,
    FIRM_NAMES,
    FULL,
    O_NEXT,
    O_NO_RESPONSE,
    O_OFFER,
    ROLE_FAMILIES,
    WINDOW_END,
    WINDOW_START,
    Params,
    reporting_of,
)
from pipelines.synthetic.records import (
    RT_DEBRIEF,
    RT_ERASURE,
    RT_OUTCOME,
    V_BEFORE_OUTCOME,
    V_FIRST,
    V_SUPERSEDED,
    Records,
    World,
    build_records,
    debrief_versions,
    simulate_world,
)
from pipelines.synthetic.truth import arrival_counts, build_truth

__all__ = [
    "FIRM_NAMES",
    "TRUTH_FILE",
    "Params",
    "Simulation",
    "generate",
    "simulate",
    "write_messy_example",
]

TRUTH_FILE = "truth.json"
FORMATS = ("jsonl", "csv")
OPTIONAL = spec.REVISION_1_1_FIELDS  # ("application_ref", "round")


@dataclass(frozen=True)
class Simulation:
    """Landing records as typed frames (rows in arrival order) and the truth about them."""

    debriefs: pl.DataFrame
    outcomes: pl.DataFrame
    erasures: pl.DataFrame
    truth: dict


@dataclass(frozen=True)
class _Built:
    sim: Simulation
    world: World
    recs: Records


def simulate(
    interviews: int,
    seed: int,
    firms: int = 3,
    params: Params = Params(),  # noqa: B008 - frozen, so a shared default is safe
    with_notes: bool = True,
) -> Simulation:
    """Simulate ``interviews`` interviews of clients of ``firms`` firms under ``params``.

    The frames hold every landing record ``generate`` would write for the same arguments, with
    the contract's field names and types (pipelines.core.spec.FIELD_KINDS; no record_type or
    schema_version), rows in arrival order; ``truth`` is truth.json without the file-layout
    parts (``format`` is None, no ``files`` / ``outcome_in_earlier_file`` /
    ``outcome_arrives_first`` counts). ``with_notes=False`` leaves ``notes`` null (fast).
    """
    return _build(interviews, seed, firms, params, with_notes).sim


def _check_args(interviews: int, seed: int, firms: int) -> None:
    if not isinstance(interviews, int) or interviews < 1:
        raise ValueError("interviews must be a positive integer")
    if not isinstance(firms, int) or firms < 1:
        raise ValueError("firms must be a positive integer")
    if not isinstance(seed, int) or seed < 0:
        raise ValueError("seed must be a non-negative integer")


def _build(
    interviews: int, seed: int, firms: int, params: Params, with_notes: bool, part: int = 0
) -> _Built:
    _check_args(interviews, seed, firms)
    w = simulate_world(interviews, seed, firms, params, part)
    recs = build_records(w)
    refs = text.client_refs(w)
    spelled, spellings = text.industry_spellings(w)
    ids = text.record_ids(recs.rtype, recs.firm, recs.type_seq, recs.firm_seq, w.firm_ids)
    firm_s, ref_s = pl.Series(w.firm_ids, dtype=pl.String), pl.Series(refs, dtype=pl.String)

    def common(rtype: int) -> tuple[np.ndarray, dict[str, pl.Series]]:
        sel = np.flatnonzero(recs.rtype == rtype)
        return sel, {
            "record_id": ids.gather(sel),
            "firm_id": firm_s.gather(recs.firm[sel]),
            "client_ref": ref_s.gather(recs.client[sel]),
        }

    iv_refs, app_refs = text.interview_refs(w), text.application_refs(w)
    notes = text.notes(w, refs) if with_notes else None
    debriefs = _debriefs(w, recs, *common(RT_DEBRIEF), iv_refs, app_refs, spelled, notes)
    outcomes = _outcomes(w, recs, *common(RT_OUTCOME), iv_refs, app_refs)
    sel, cols = common(RT_ERASURE)
    erasures = pl.DataFrame({**cols, "requested_at": _ts(recs.at[sel])})
    truth = build_truth(w, recs, seed, refs, spellings)
    return _Built(Simulation(debriefs, outcomes, erasures, truth), w, recs)


def _ts(secs: np.ndarray) -> pl.Series:
    return (
        pl.Series(np.asarray(secs, dtype=np.int64) * 1_000_000)
        .cast(pl.Datetime("us"))
        .dt.replace_time_zone("UTC")
    )


def _pick(values, idx: np.ndarray) -> pl.Series:
    return pl.Series(list(values), dtype=pl.String).gather(idx)


def _lists(vocab: tuple[str, ...]) -> pl.Series:
    vals = [[k for b, k in enumerate(vocab) if m >> b & 1] for m in range(1 << len(vocab))]
    return pl.Series(vals, dtype=pl.List(pl.String))


def _by_variant(variant: np.ndarray, ivx: np.ndarray, versions: tuple, field: str) -> np.ndarray:
    first, corrected, hindsight = (v[field][ivx] for v in versions)
    if first.ndim == 2:
        variant = variant[:, None]
    return np.where(
        variant == V_FIRST, first, np.where(variant == V_BEFORE_OUTCOME, corrected, hindsight)
    )


def _debriefs(w, recs, sel, common, iv_refs, app_refs, spelled, notes) -> pl.DataFrame:
    r, ivx, variant = w.rounds, recs.iv[sel], recs.variant[sel]
    rows = w.iv[ivx]
    *versions, drop_notes = debrief_versions(w)
    v = {f: _by_variant(variant, ivx, tuple(versions), f) for f in versions[0]}
    kind_mask = v["kinds"] @ np.array([1, 2, 4])
    reporting = reporting_of(w.client_firm[w.iv_client[ivx]])
    with_round = np.isin(reporting, (FULL, FINAL_ONLY))
    raised = r.raised[rows]
    if notes is None:
        note_s = pl.Series("notes", [None] * len(sel), dtype=pl.String)
    else:
        drop = pl.Series((variant == V_FIRST) & drop_notes[ivx])
        note_s = pl.select(pl.when(~drop).then(notes.gather(ivx))).to_series()
    return (
        pl.DataFrame(
            {
                **common,
                "interview_ref": iv_refs.gather(ivx),
                "application_ref": app_refs.gather(w.iv_app[ivx]),
                "round": pl.Series(np.where(with_round, r.rnd[rows] + 1, 0)).cast(pl.Int64),
                "submitted_at": _ts(recs.at[sel]),
                "interview_date": pl.Series(WINDOW_START // DAY + v["iv_day"]).cast(pl.Date),
                "stage": _pick(spec.STAGES, r.stage[rows]),
                "interviewer_role": _pick(spec.INTERVIEWER_ROLES, r.interviewer_role[rows]),
                "industry": spelled.gather(w.iv_app[ivx]),
                "role_family": _pick(ROLE_FAMILIES, r.role_family[rows]),
                "seniority": _pick(spec.SENIORITIES, r.seniority[rows]),
                "experience_years": pl.Series(w.client_years[w.iv_client[ivx]], dtype=pl.Int64),
                "duration_min": pl.Series(v["duration"], dtype=pl.Int64),
                "asked_fit_question": pl.Series(v["asked"], dtype=pl.Boolean),
                "fit_question_kinds": _lists(spec.FIT_QUESTION_KINDS).gather(kind_mask),
                "asked_at_pct": pl.Series(v["pct"], dtype=pl.Int64),
                "rapport_before_ask": pl.Series(v["rapport"], dtype=pl.Int64),
                "concerns_raised": _lists(spec.CONCERNS).gather(r.concern_mask[rows]),
                "concerns_addressed": pl.Series(v["addressed"], dtype=pl.Boolean),
                "self_rating": pl.Series(v["self_rating"], dtype=pl.Int64),
                "notes": note_s,
                "_raised": pl.Series(raised),
                "_with_round": pl.Series(with_round),
            }
        )
        .with_columns(
            pl.when("_with_round").then(pl.col("round")).alias("round"),
            pl.when("asked_fit_question").then(pl.col("asked_at_pct")).alias("asked_at_pct"),
            pl.when("asked_fit_question")
            .then(pl.col("rapport_before_ask"))
            .alias("rapport_before_ask"),
            pl.when("_raised").then(pl.col("concerns_addressed")).alias("concerns_addressed"),
        )
        .drop("_raised", "_with_round")
    )


def _outcomes(w, recs, sel, common, iv_refs, app_refs) -> pl.DataFrame:
    ivx, superseded = recs.iv[sel], recs.variant[sel] == V_SUPERSEDED
    result = w.rounds.result[w.iv[ivx]]
    earlier = np.where(result == O_OFFER, O_NEXT, O_NO_RESPONSE)
    code = np.where(superseded, earlier, result)
    return pl.DataFrame(
        {
            **common,
            "interview_ref": iv_refs.gather(ivx),
            "application_ref": app_refs.gather(w.iv_app[ivx]),
            "decided_at": _ts(recs.at[sel]),
            "outcome": _pick(spec.OUTCOMES, code),
            "referral": pl.Series(w.rounds.referral[w.iv[ivx]] & ~superseded, dtype=pl.Boolean),
        }
    )


# ============================================================================================
# Files
# ============================================================================================
PART_INTERVIEWS = 1_000_000  # 10M in parts peaked at 3.5 GiB; at once, it ran out of 24 GiB


def part_sizes(interviews: int) -> list[int]:
    """Interviews per part: as few parts of at most ``PART_INTERVIEWS`` as will do, even sizes."""
    parts = -(-interviews // PART_INTERVIEWS)
    return [interviews // parts + (k < interviews % parts) for k in range(parts)]


def generate(out_dir: Path, interviews: int, seed: int, fmt: str = "jsonl", firms: int = 3) -> dict:
    """Write landing files + truth.json into out_dir; return a summary dict (files written,
    record counts by type).

    ``out_dir`` is created if needed and must not already hold landing files (``*.jsonl``,
    ``*.csv``) or a ``truth.json`` (a FileExistsError is raised rather than mixing two runs).
    Landing files lie in their firm's zone, ``<firm_id>/``, and are named
    ``<batch end date>_<firm_id>_b<NN>.jsonl`` (JSONL: one file per firm and batch, record types
    mixed, lines in arrival order) or ``<batch end date>_<firm_id>_b<NN>_<k>-<record_type>.csv``
    (CSV: one record type per file, k = 1 debrief, 2 outcome, 3 erasure), so sorted file names
    are a realistic arrival order. Up to ``PART_INTERVIEWS`` interviews, the records are exactly
    those of ``simulate(interviews, seed, firms)``.

    More than ``PART_INTERVIEWS`` interviews are simulated and written in parts
    (``part_sizes``), so that memory stays that of one part: part 0 is
    ``simulate(<its size>, seed, firms)``; each later part is a population of its own, with its
    own random streams and ``firms`` firms of its own (``<firm>-p<k>``) in the same window, so
    that no two parts share a firm, client or record. truth.json then holds what the parts
    share once and each part's own truth under ``parts`` (``_truth_of_parts``).

    Returns ``{"out_dir", "format", "seed", "interviews", "firm_ids", "files", "records",
    "truth_file"}`` where ``files`` lists the landing files' paths below out_dir in arrival
    order and ``records`` the number of records written by record type.
    """
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {FORMATS}, got {fmt!r}")
    _check_args(interviews, seed, firms)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    clash = sorted(
        p.name for p in out_dir.rglob("*") if p.suffix in (".jsonl", ".csv") or p.name == TRUTH_FILE
    )
    if clash:
        raise FileExistsError(f"{out_dir} already holds landing files, e.g. {clash[0]}")

    truths, names = [], []
    for part, size in enumerate(part_sizes(interviews)):
        truth, part_names = _write_part(out_dir, size, seed, fmt, firms, part)
        truths.append(truth)
        names += part_names
    truth = truths[0] if len(truths) == 1 else _truth_of_parts(truths)
    (out_dir / TRUTH_FILE).write_text(
        json.dumps(truth, indent=2, ensure_ascii=False, allow_nan=False) + "\n", encoding="utf-8"
    )
    return {
        "out_dir": str(out_dir),
        "format": fmt,
        "seed": seed,
        "interviews": interviews,
        "firm_ids": truth["firm_ids"],
        "files": [zoned_name(name) for name in sorted(names)],
        "records": truth["counts"]["records"],
        "truth_file": TRUTH_FILE,
    }


def _write_part(
    out_dir: Path, interviews: int, seed: int, fmt: str, firms: int, part: int
) -> tuple[dict, list[str]]:
    """One part's landing files; its truth and file names (the simulation is let go)."""
    built = _build(interviews, seed, firms, Params(), with_notes=True, part=part)
    layout = _layout(built.recs, built.world.firm_ids, fmt)
    if fmt == "jsonl":
        _write_jsonl(out_dir, built, layout)
    else:
        _write_csv(out_dir, built, layout)
    truth = dict(built.sim.truth)
    truth["format"] = fmt
    truth["counts"] = {
        **truth["counts"],
        "files": len(layout.names),
        **arrival_counts(built.world, built.recs, layout.rank, layout.pos),
    }
    return truth, layout.names


def _truth_of_parts(truths: list[dict]) -> dict:
    """truth.json of a population in parts: what every part has alike once (parameters, planted
    effects, definitions); firms, reporting, spellings and erasures of all parts; counts summed
    (medians and means only per part); and under ``parts`` each part's truth where it differs
    (its realised shares and crude comparisons, which vary by sampling, included)."""
    shared = {k: v for k, v in truths[0].items() if all(t[k] == v for t in truths[1:])}
    merged = {
        "interviews": sum(t["interviews"] for t in truths),
        "firm_ids": [f for t in truths for f in t["firm_ids"]],
        "reporting": {f: r for t in truths for f, r in t["reporting"].items()},
        "industry_spellings": {k: v for t in truths for k, v in t["industry_spellings"].items()},
        "erasures": {
            "count": sum(t["erasures"]["count"] for t in truths),
            "client_refs": [r for t in truths for r in t["erasures"]["client_refs"]],
        },
        "counts": _summed([t["counts"] for t in truths]),
    }
    parts = [
        {"part": k, **{key: v for key, v in t.items() if key not in shared}}
        for k, t in enumerate(truths)
    ]
    return {**shared, **merged, "parts": parts}


def _summed(counts: list[dict]) -> dict:
    """The integer counts of several parts added up, nested dicts alike; other values left out."""
    out = {}
    for key, value in counts[0].items():
        values = [c[key] for c in counts]
        if isinstance(value, dict):
            out[key] = _summed(values)
        elif all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            out[key] = sum(values)
    return out


@dataclass(frozen=True)
class _Layout:
    names: list[str]  # sorted landing file names
    rank: np.ndarray  # per record: index of its file in names
    pos: np.ndarray  # per record: arrival position (file, then line)
    bom: set[str]  # CSV files written with a byte-order mark
    schema_version: np.ndarray  # per record: writes schema_version


def _layout(recs: Records, firm_ids: list[str], fmt: str) -> _Layout:
    pair = recs.firm * 1000 + recs.batch
    uniq_pairs, pair_idx = np.unique(pair, return_inverse=True)
    ends = {f: _batch_end_dates(int(nb)) for f, nb in enumerate(recs.n_batches)}
    stems = [
        f"{ends[p // 1000][p % 1000]}_{firm_ids[p // 1000]}_b{p % 1000 + 1:02d}"
        for p in uniq_pairs.tolist()
    ]
    if fmt == "jsonl":
        code, suffixes = pair_idx, [".jsonl"]
    else:
        code = pair_idx * 3 + recs.rtype
        suffixes = [f"_{t + 1}-{rt}.csv" for t, rt in enumerate(spec.RECORD_TYPES)]
    used = np.unique(code)
    used_names = np.array(
        [stems[c // len(suffixes)] + suffixes[c % len(suffixes)] for c in used.tolist()]
    )
    name_order = np.argsort(used_names, kind="stable")
    rank_of_code = np.empty(int(used.max()) + 1, dtype=np.int64)
    rank_of_code[used[name_order]] = np.arange(len(used))
    rank = rank_of_code[code]
    n = len(rank)
    arrival = np.lexsort((np.arange(n), rank))
    pos = np.empty(n, dtype=np.int64)
    pos[arrival] = np.arange(n)
    names = [str(x) for x in used_names[name_order]]
    half = recs.n_batches[recs.firm] // 2
    # Firm 0 always writes schema_version, firm 1 never, others from their 2nd half of batches.
    with_sv = np.where(recs.firm == 0, True, np.where(recs.firm == 1, False, recs.batch >= half))
    bom = {names[k] for k in np.unique(rank[recs.firm == 1]).tolist()}
    return _Layout(names, rank, pos, bom, with_sv)


def _batch_end_dates(n_batches: int) -> list[str]:
    span = WINDOW_END + 1 - WINDOW_START
    ends = [WINDOW_START + (b + 1) * span // n_batches - 1 for b in range(n_batches)]
    return [datetime.fromtimestamp(e, tz=UTC).strftime("%Y-%m-%d") for e in ends]


def _frames_by_type(sim: Simulation) -> Iterator[tuple[int, pl.DataFrame]]:
    """The frames with timestamps and dates as the contract spells them, one at a time."""
    for t, frame in ((RT_DEBRIEF, sim.debriefs), (RT_OUTCOME, sim.outcomes)):
        yield (
            t,
            frame.with_columns(
                pl.col(pl.Datetime).dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
                pl.col(pl.Date).dt.strftime("%Y-%m-%d"),
            ),
        )
    yield (
        RT_ERASURE,
        sim.erasures.with_columns(pl.col(pl.Datetime).dt.strftime("%Y-%m-%dT%H:%M:%SZ")),
    )


def _json_lines(frame: pl.DataFrame, rtype: int, with_sv: np.ndarray) -> pl.Series:
    """One JSON object per row: fields of the record type, optional 1.1 fields only when set."""
    head = [
        c for c in ("record_id", "firm_id", "client_ref", "interview_ref") if c in frame.columns
    ]
    optional = [c for c in OPTIONAL if c in frame.columns]
    rest = [c for c in frame.columns if c not in head and c not in optional]
    rt = spec.RECORD_TYPES[rtype]
    sv = f'"schema_version":{spec.CURRENT_SCHEMA_VERSION},'
    prefix = pl.Series(
        np.where(with_sv, f'{{"record_type":"{rt}",{sv}', f'{{"record_type":"{rt}",')
    )
    parts = [pl.struct(head).struct.json_encode().str.strip_prefix("{").str.strip_suffix("}") + ","]
    for c in optional:  # generated refs are [A-Za-z0-9-]: nothing to escape
        value = pl.format('"{}",', c) if frame.schema[c] == pl.String else pl.format("{},", c)
        parts.append(pl.when(pl.col(c).is_not_null()).then(f'"{c}":' + value).otherwise(pl.lit("")))
    parts.append(pl.struct(rest).struct.json_encode().str.strip_prefix("{"))
    return prefix + frame.select(pl.concat_str(parts).alias("line")).to_series()


def _write_jsonl(out_dir: Path, built: _Built, layout: _Layout) -> None:
    recs, parts = built.recs, []
    for t, frame in _frames_by_type(built.sim):
        sel = np.flatnonzero(recs.rtype == t)
        if len(sel):
            lines = _json_lines(frame, t, layout.schema_version[sel])
            parts.append(pl.DataFrame({"pos": layout.pos[sel], "line": lines}))
    lines = pl.concat(parts).sort("pos").select("line")
    ranks = np.sort(layout.rank)  # arrival order is file order
    _write_partitioned(out_dir, layout.names, ranks, lines, header=False)


def _write_csv(out_dir: Path, built: _Built, layout: _Layout) -> None:
    recs = built.recs
    spec_cols = [c for c in spec.CSV_COLUMNS if c not in OPTIONAL]
    after_ref = f"_{built.world.firm_ids[2]}_b" if len(built.world.firm_ids) > 2 else None
    for t, frame in _frames_by_type(built.sim):
        sel = np.flatnonzero(recs.rtype == t)
        if not len(sel):
            continue
        sv = pl.Series(layout.schema_version[sel])
        frame = frame.with_columns(
            schema_version=pl.when(sv).then(pl.lit(spec.CURRENT_SCHEMA_VERSION, dtype=pl.Int64)),
            record_type=pl.lit(spec.RECORD_TYPES[t]),
        )
        cols = []
        for c in [*spec_cols, *OPTIONAL]:
            if c not in frame.columns:
                cols.append(pl.lit(None, dtype=pl.String).alias(c))
            elif frame.schema[c] == pl.List(pl.String):
                j = pl.col(c).list.join(spec.LIST_SEPARATOR)
                cols.append(pl.when(j == "").then(None).otherwise(j).alias(c))
            else:
                cols.append(pl.col(c))
        order = np.argsort(layout.pos[sel], kind="stable")
        table = frame.select(cols)[order]

        def columns(name: str, part: pl.DataFrame) -> list[str]:
            # 1.1 columns only in files that carry a value; one firm puts them next to
            # interview_ref (the spec allows them anywhere).
            opt = [c for c in OPTIONAL if part[c].null_count() < part.height]
            if after_ref and after_ref in name:
                i = spec_cols.index("interview_ref") + 1
                return [*spec_cols[:i], *opt, *spec_cols[i:]]
            return [*spec_cols, *opt]

        _write_partitioned(
            out_dir,
            layout.names,
            layout.rank[sel][order],
            table,
            header=True,
            bom=layout.bom,
            columns=columns,
        )


def _write_partitioned(
    out_dir: Path,
    names: list[str],
    ranks: np.ndarray,
    frame: pl.DataFrame,
    header: bool,
    bom: set[str] | None = None,
    columns=None,
) -> None:
    """Write consecutive row ranges of frame (sorted by file rank) to their files."""
    starts = np.flatnonzero(np.r_[True, ranks[1:] != ranks[:-1]]) if len(ranks) else []
    for i, s in enumerate(starts):
        e = starts[i + 1] if i + 1 < len(starts) else len(ranks)
        name = names[ranks[s]]
        part = frame.slice(int(s), int(e - s))
        if columns is not None:
            part = part.select(columns(name, part))
        path = out_dir / zoned_name(name)
        path.parent.mkdir(exist_ok=True)
        with open(path, "wb") as fh:
            if bom and name in bom:
                fh.write(b"\xef\xbb\xbf")
            if header:
                part.write_csv(fh, include_header=True)
            else:
                part.write_csv(fh, include_header=False, quote_style="never")


def zoned_name(name: str) -> str:
    """A landing file's path in its firm's zone: `<firm_id>/<date>_<firm_id>_b<NN>…`."""
    return f"{name.split('_')[1]}/{name}"


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
        {
            **good,
            "record_id": f"m-{i}",
            "client_ref": f"client{i}@example.com",
            "interview_ref": f"mi-{i}",
        }
        for i in range(12)
    ]
    records[3]["stage"] = "lunch"
    records[5].update(asked_fit_question=False)  # still says when and how it asked
    records[7]["interview_date"] = "2026-03-05"  # after the debrief was written
    records[9]["experience_years"] = "nine"
    lines = [json.dumps(r) for r in records] + ['{"record_type": "debrief", "record_id": ']
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
