"""The pandas baseline of `sealdeal bench`: what a coaching firm's analyst would write instead.

Straightforward pandas, the way the docs teach it: whole frames, vectorised where pandas makes
that easy, a Python function per value where it does not (HMAC, the name lexicon).

`ingest(paths, database, master_key)` does the same work as the pipeline's ingest:

- parse: `pd.read_json(lines=True)` per landing file, one concatenated frame;
- validate with pandas ops: record type, record_id, firm_id pattern, client_ref; per record type
  the required fields, enums, integer ranges, list members, RFC 3339 timestamps with a zone, the
  "given iff asked / iff concerns raised" rules and interview_date not after submitted_at;
  invalid records go to a quarantine table with their first failed rule;
- pseudonymise: per-firm HMAC keys, then HMAC-SHA256 of every client_ref and interview_ref value
  (hmac/hashlib per row); band experience_years with `pd.cut`;
- scrub notes: the pipeline's own e-mail, URL and phone regexes, honorific + name, and given
  names from the pipeline's lexicon (a Python set looked up per capitalised word);
- dedupe on (firm_id, record_id), keep the first; write both tables into a DuckDB file.

It does NOT: read CSV, stream in chunks, hold a whole file on a bad share, echo values in
messages, track files already ingested, detect conflicting re-deliveries, keep an event log
(positions, streams, content hashes) or write GX results and Data Docs; its name scrubbing has
none of the pipeline's context rules (verbs, roles, neighbours, stop lists). All of that is
work the pipeline does and this baseline is spared.

`analyse(database)` does the core of the analysis the build does, in pandas groupby: per
interview the latest debrief written before its first outcome and the latest outcome, erased
clients left out; each round's verdict (offer or next round = advanced, rejected or no response
= not; a round without an outcome that a later round of its application follows advanced);
then per tactic the advance rates with and without and their difference (the crude estimate),
for the segments all / stage / seniority / firm. It does NOT fit the adjusted or within-client
models, compute standard errors, intervals, p- and q-values, application offer chances, the
hypotheses or the other marts, or anything incremental: again less than the build does.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from pipelines.core import spec
from pipelines.privacy.scrub import _EMAIL, _PHONE, _URL, DATA_DIR

TIMESTAMPS = ("submitted_at", "decided_at", "requested_at")
ENUMS = {
    "stage": spec.STAGES,
    "interviewer_role": spec.INTERVIEWER_ROLES,
    "seniority": spec.SENIORITIES,
    "outcome": spec.OUTCOMES,
}
LISTS = {"fit_question_kinds": spec.FIT_QUESTION_KINDS, "concerns_raised": spec.CONCERNS}
SEGMENTS = {"all": None, "stage": "stage", "seniority": "seniority", "firm": "firm_id"}
KINDS = {
    "asked_about_concerns": "concerns",
    "asked_about_ideal_candidate": "ideal_candidate",
    "asked_how_compare": "comparison",
}
HONORIFIC = re.compile(r"\b(Mr|Mrs|Ms|Mx|Dr|Prof)\.?\s+[A-Z][a-z]+(?:\s+[A-Z][a-z'-]+)?")
# A run of capitalised words ("Recruiter Diego Mensah"), checked word by word.
CAPITALISED_RUN = re.compile(r"\b[A-Z][^\W\d_]+(?:[ ]+[A-Z][^\W\d_'-]*[^\W\d_]+)*")


# -------------------------------------------------------------------------------- ingest


def _first_names() -> set[str]:
    text = (DATA_DIR / "first_names.txt").read_text(encoding="utf-8")
    return {w.strip() for w in text.splitlines() if w.strip() and not w.startswith("#")}


def _rules(df: pd.DataFrame) -> list[tuple[str, pd.Series]]:
    """(rule, True where the record breaks it), in the order a coach would read them."""
    kind = df["record_type"]
    rules = [
        ("record_type", ~kind.isin(spec.RECORD_TYPES)),
        ("schema_version", ~df["schema_version"].isin([spec.CURRENT_SCHEMA_VERSION])),
        ("record_id", ~df["record_id"].astype(str).str.len().between(1, spec.RECORD_ID_MAX_LEN)),
        ("firm_id", ~df["firm_id"].astype(str).str.fullmatch(spec.FIRM_ID_PATTERN[1:-1])),
        ("client_ref", df["client_ref"].isna() | (df["client_ref"].astype(str).str.strip() == "")),
    ]
    for record_type, required in spec.REQUIRED_BY_TYPE.items():
        is_type = kind == record_type
        for field in required:
            rules.append((f"{record_type}.{field}.required", is_type & df[field].isna()))
    for field, allowed in ENUMS.items():
        rules.append((f"{field}.enum", df[field].notna() & ~df[field].isin(allowed)))
    for field, (low, high) in spec.INT_RANGES.items():
        value = pd.to_numeric(df[field], errors="coerce")
        bad_number = df[field].notna() & (value.isna() | (value % 1 != 0))
        rules.append((f"{field}.range", bad_number | (value.notna() & ~value.between(low, high))))
    for field, allowed in LISTS.items():
        members = set(allowed)
        bad = df[field].map(lambda v, ok=members: isinstance(v, list) and not set(v) <= ok)
        rules.append((f"{field}.members", bad))
    for field in TIMESTAMPS:
        zoned = df[field].astype("string").str.contains(r"(?:Z|[+-]\d\d:?\d\d)$", case=False)
        unreadable = df[f"_{field}"].isna() | ~zoned.fillna(False).astype(bool)
        rules.append((f"{field}.timestamp", df[field].notna() & unreadable))
    interview_date = pd.to_datetime(df["interview_date"], format="%Y-%m-%d", errors="coerce")
    rules.append(("interview_date.date", df["interview_date"].notna() & interview_date.isna()))
    debrief = kind == "debrief"
    asked = debrief & (df["asked_fit_question"] == True)  # noqa: E712 (object column)
    not_asked = debrief & (df["asked_fit_question"] == False)  # noqa: E712
    kinds = df["fit_question_kinds"].map(lambda v: isinstance(v, list) and len(v) > 0)
    raised = df["concerns_raised"].map(lambda v: isinstance(v, list) and len(v) > 0)
    for field in ("asked_at_pct", "rapport_before_ask"):
        rules.append((f"{field}.given_when_asked", asked & df[field].isna()))
        rules.append((f"{field}.empty_when_not_asked", not_asked & df[field].notna()))
    rules.append(("fit_question_kinds.given_when_asked", asked & ~kinds))
    rules.append(("fit_question_kinds.empty_when_not_asked", not_asked & kinds))
    addressed = df["concerns_addressed"].notna()
    rules.append(("concerns_addressed.given_when_raised", debrief & raised & ~addressed))
    rules.append(("concerns_addressed.empty_when_none", debrief & ~raised & addressed))
    latest_day = (df["_submitted_at"] + pd.Timedelta(hours=14)).dt.tz_localize(None).dt.normalize()
    rules.append(("interview_date.after_submitted", debrief & (interview_date > latest_day)))
    return rules


def _pseudonyms(firms: pd.Series, values: pd.Series, master_key: bytes, kind: str) -> list:
    firm_keys = {
        f: hmac.new(master_key, b"firm\x1f" + f.encode(), hashlib.sha256).digest()
        for f in firms.unique()
    }
    out = []
    for firm, value in zip(firms, values, strict=True):
        if not isinstance(value, str):
            out.append(None)
            continue
        value = value.strip()
        value = value.casefold() if "@" in value else value
        material = kind.encode() + b"\x1f" + value.encode()
        out.append(hmac.new(firm_keys[firm], material, hashlib.sha256).hexdigest()[:32])
    return out


def _scrub(notes: pd.Series, first_names: set[str]) -> pd.Series:
    def names(match: re.Match) -> str:
        # A lexicon given name and the capitalised word after it (its surname) become [NAME].
        words, out, skip = match.group(0).split(" "), [], False
        for word in words:
            if skip:
                skip = False
            elif word in first_names:
                out.append("[NAME]")
                skip = True
            else:
                out.append(word)
        return " ".join(out)

    present = notes.notna()
    scrubbed = (
        notes[present]
        .str.replace(_EMAIL, "[EMAIL]", regex=True)
        .str.replace(_URL, "[URL]", regex=True)
        .str.replace(_PHONE, "[PHONE]", regex=True)
        .str.replace(HONORIFIC, r"\1 [NAME]", regex=True)
        .str.replace(CAPITALISED_RUN, names, regex=True)
    )
    return notes.where(~present, scrubbed)


def ingest(paths: list[Path], database: Path, master_key: bytes) -> dict:
    """Landing files -> `records` and `quarantine` tables in a new DuckDB file (see module doc)."""
    frames = [pd.read_json(p, lines=True, dtype=False) for p in paths]
    df = pd.concat(frames, ignore_index=True)
    for column in spec.CSV_COLUMNS:
        if column not in df:
            df[column] = None
    df["schema_version"] = df["schema_version"].fillna(spec.CURRENT_SCHEMA_VERSION)
    for field in TIMESTAMPS:
        df[f"_{field}"] = pd.to_datetime(df[field], utc=True, errors="coerce", format="ISO8601")

    failed = pd.Series(None, index=df.index, dtype=object)
    for rule, broken in _rules(df):
        failed = failed.mask(failed.isna() & broken.fillna(True).astype(bool), rule)
    quarantine = df.loc[failed.notna(), ["firm_id", "record_id", "record_type"]].assign(
        reason=failed[failed.notna()]
    )
    df = df[failed.isna()].drop_duplicates(["firm_id", "record_id"], keep="first")

    df["client_key"] = _pseudonyms(df["firm_id"], df["client_ref"], master_key, "client")
    df["interview_key"] = _pseudonyms(df["firm_id"], df["interview_ref"], master_key, "interview")
    df["application_key"] = _pseudonyms(
        df["firm_id"], df["application_ref"], master_key, "application"
    )
    labels = [label for _, _, label in spec.EXPERIENCE_BANDS]
    edges = [-1] + [high for _, high, _ in spec.EXPERIENCE_BANDS]
    df["experience_band"] = pd.cut(df["experience_years"], bins=edges, labels=labels).astype(str)
    df.loc[df["experience_years"].isna(), "experience_band"] = None
    df["notes"] = _scrub(df["notes"], _first_names())
    for field, _ in LISTS.items():
        df[field] = df[field].map(lambda v: ";".join(v) if isinstance(v, list) else None)
    for field in TIMESTAMPS:
        df[field] = df.pop(f"_{field}")
    df["interview_date"] = pd.to_datetime(df["interview_date"], format="%Y-%m-%d").dt.date
    for field in ("asked_fit_question", "concerns_addressed", "referral"):
        df[field] = df[field].astype("boolean")
    records = df.drop(
        columns=["client_ref", "interview_ref", "application_ref", "experience_years"]
    )

    con = duckdb.connect(str(database))
    try:
        con.register("records_df", records)
        con.register("quarantine_df", quarantine)
        con.execute("CREATE TABLE records AS SELECT * FROM records_df")
        con.execute("CREATE TABLE quarantine AS SELECT * FROM quarantine_df")
    finally:
        con.close()
    return {"records": sum(len(f) for f in frames), "valid": len(records)}


# -------------------------------------------------------------------------------- analysis


def _tactic_flags(fct: pd.DataFrame) -> dict[str, pd.Series]:
    kinds = fct["fit_question_kinds"].fillna("").str.split(";")
    flags = {"asked_fit_question": fct["asked_fit_question"].astype("boolean")}
    for tactic, kind in KINDS.items():
        flags[tactic] = kinds.map(lambda ks, k=kind: k in ks).astype("boolean")
    raised = fct["concerns_raised"].fillna("") != ""
    flags["addressed_concerns"] = fct["concerns_addressed"].astype("boolean").where(raised)
    return flags


def _interviews(records: pd.DataFrame) -> pd.DataFrame:
    """Per interview: the debrief written last before the first outcome (else the earliest,
    flagged), the latest outcome; erased clients dropped."""
    keys = ["firm_id", "interview_key"]
    outcomes = records[records["record_type"] == "outcome"].sort_values("decided_at", kind="stable")
    first = outcomes.groupby(keys, as_index=False)["decided_at"].min()
    first = first.rename(columns={"decided_at": "first_decided_at"})
    latest = outcomes.drop_duplicates(keys, keep="last")[[*keys, "outcome"]]
    debriefs = records[records["record_type"] == "debrief"].merge(first, on=keys, how="left")
    before = debriefs["first_decided_at"].isna() | (
        debriefs["submitted_at"] <= debriefs["first_decided_at"]
    )
    stamp = debriefs["submitted_at"].astype("int64")
    debriefs = debriefs.assign(_before=before, _order=stamp.where(before, -stamp))
    chosen = debriefs.sort_values(["_before", "_order"], kind="stable").drop_duplicates(
        keys, keep="last"
    )
    fct = chosen.drop(columns=["outcome"]).merge(latest, on=keys, how="left")
    erased = records.loc[records["record_type"] == "erasure", ["firm_id", "client_key"]]
    fct = fct.merge(erased.drop_duplicates(), how="left", indicator=True)
    return fct[fct["_merge"] == "left_only"].drop(columns="_merge")


def _advanced(fct: pd.DataFrame) -> pd.Series:
    """1.0 / 0.0 per round, NaN where not analysable."""
    has_app = fct["application_key"].notna()
    app = fct["application_key"].where(has_app, fct["interview_key"])
    order = fct.assign(_app=app).sort_values(["interview_date", "interview_key"])
    by_date = order.groupby(["firm_id", "_app"]).cumcount() + 1
    number = fct["round"].astype("Float64").fillna(by_date.reindex(fct.index).astype("Float64"))
    last = number.groupby([fct["firm_id"], app]).transform("max")
    outcome = fct["outcome"]
    verdict = pd.Series(np.nan, index=fct.index)
    verdict[outcome.isin(["offer", "next_round"])] = 1.0
    verdict[outcome.isin(["rejected", "no_response"])] = 0.0
    inferred = outcome.isna() & has_app & (number < last)
    verdict[inferred.fillna(False).astype(bool)] = 1.0
    verdict[fct["_before"].eq(False).to_numpy()] = np.nan
    return verdict


def analyse(database: Path) -> pd.DataFrame:
    """Per tactic and segment: advance rates with and without, and their difference."""
    con = duckdb.connect(str(database))
    try:
        fct = _interviews(con.execute("SELECT * FROM records").df())
        fct["advanced"] = _advanced(fct)
        rounds = fct[fct["advanced"].notna()]
        rows = []
        for tactic, flag in _tactic_flags(rounds).items():
            arm = rounds.assign(treated=flag).dropna(subset=["treated"])
            for segment, column in SEGMENTS.items():
                groups = arm.groupby(column) if column else [("all", arm)]
                for value, part in groups:
                    rates = part.groupby("treated")["advanced"].agg(["mean", "size"])
                    with_, without = (
                        rates.loc[v] if v in rates.index else None for v in (True, False)
                    )
                    rows.append(
                        {
                            "tactic": tactic,
                            "segment": "all" if segment == "all" else f"{segment}={value}",
                            "n_with": 0 if with_ is None else int(with_["size"]),
                            "n_without": 0 if without is None else int(without["size"]),
                            "crude_diff": None
                            if with_ is None or without is None
                            else with_["mean"] - without["mean"],
                        }
                    )
        effects = pd.DataFrame(rows)
        con.register("effects_df", effects)
        con.execute("CREATE OR REPLACE TABLE tactic_effects AS SELECT * FROM effects_df")
        return effects
    finally:
        con.close()
