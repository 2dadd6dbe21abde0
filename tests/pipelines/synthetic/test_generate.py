"""Tests for the synthetic population and landing-file generator (pipelines.synthetic.generate).

The validator below is written from docs/spec/debrief-export.md (revision 1.1) on purpose, NOT
from pipelines.core.spec, so that a mistake in the shared constants cannot hide a generator bug;
the repo's own parser and Great Expectations validator run on the files as well.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import time
from collections import Counter, defaultdict
from datetime import date, datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from pipelines.core import spec
from pipelines.synthetic.generate import Params, Simulation, generate, simulate

# ---------------------------------------------------------------------------------------------
# The spec, restated
# ---------------------------------------------------------------------------------------------
SPEC_CSV_HEADER_TEXT = (
    "record_type,schema_version,record_id,firm_id,client_ref,interview_ref,submitted_at,"
    "interview_date,stage,interviewer_role,industry,role_family,seniority,experience_years,"
    "duration_min,asked_fit_question,fit_question_kinds,asked_at_pct,rapport_before_ask,"
    "concerns_raised,concerns_addressed,self_rating,notes,decided_at,outcome,referral,requested_at"
)  # verbatim from the spec's "CSV columns" section
SPEC_CSV_HEADER = SPEC_CSV_HEADER_TEXT.split(",")
OPTIONAL = ("application_ref", "round")  # revision 1.1: anywhere in the header, when used
COMMON = {"record_type", "schema_version", "record_id", "firm_id", "client_ref"}
TYPE_FIELDS = {
    "debrief": {
        "interview_ref",
        "application_ref",
        "round",
        "submitted_at",
        "interview_date",
        "stage",
        "interviewer_role",
        "industry",
        "role_family",
        "seniority",
        "experience_years",
        "duration_min",
        "asked_fit_question",
        "fit_question_kinds",
        "asked_at_pct",
        "rapport_before_ask",
        "concerns_raised",
        "concerns_addressed",
        "self_rating",
        "notes",
    },
    "outcome": {"interview_ref", "application_ref", "decided_at", "outcome", "referral"},
    "erasure": {"requested_at"},
}
OPTIONAL_BY_TYPE = {
    "debrief": {"application_ref", "round", "notes"},
    "outcome": {"application_ref"},
}
STAGES = {"phone_screen", "recruiter", "hiring_manager", "panel", "final", "other"}
ROLES = {"recruiter", "hiring_manager", "peer", "executive", "panel", "other"}
SENIORITIES = {"entry", "mid", "senior", "lead", "executive"}
KINDS = {"concerns", "ideal_candidate", "comparison"}
CONCERNS = {
    "experience_gap",
    "industry_gap",
    "skills_gap",
    "culture_fit",
    "compensation",
    "location",
    "overqualified",
    "employment_gap",
    "other",
}
OUTCOMES = {"offer", "next_round", "rejected", "withdrawn", "no_response"}
ADVANCED = {"offer", "next_round"}
FIRM_RE = re.compile(r"[a-z0-9-]{2,64}")
TS_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")
DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
CSV_TRUE, CSV_FALSE = {"true", "yes", "1"}, {"false", "no", "0"}
INT_FIELDS = {
    "schema_version",
    "experience_years",
    "duration_min",
    "asked_at_pct",
    "rapport_before_ask",
    "self_rating",
    "round",
}
BOOL_FIELDS = {"asked_fit_question", "concerns_addressed", "referral"}
LIST_FIELDS = {"fit_question_kinds", "concerns_raised"}

EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
PHONE_RE = re.compile(
    r"(\+\d[\d ]{6,}\d|\(\d{3}\) \d{3}-\d{4}|\d{3}[. ]\d{3}[. ]\d{4}|0\d{2} \d{4} \d{4})"
)
URL_RE = re.compile(r"(https?://\S+|www\.\S+)")
NAME_RE = re.compile(r"^[^\W\d_][\w'.-]*( [\w'.-]+)+$")
KIND_EFFECTS = (0.08, 0.04, 0.0)


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _parse_ts(v: str) -> datetime:
    assert isinstance(v, str) and TS_RE.fullmatch(v), f"bad timestamp {v!r}"
    return datetime.fromisoformat(v.replace("Z", "+00:00"))


def validate_record(r: dict) -> None:
    """Every rule of the debrief export (docs/spec/debrief-export.md, revision 1.1) for one typed
    record (from JSON or CSV)."""
    rt = r.get("record_type")
    assert rt in TYPE_FIELDS, f"bad record_type {rt!r}"
    extra = set(r) - COMMON - TYPE_FIELDS[rt]
    assert not extra, f"{rt} has fields of another type: {extra}"
    sv = r.get("schema_version")
    assert sv is None or (_is_int(sv) and sv == 1), f"bad schema_version {sv!r}"
    rid = r.get("record_id")
    assert isinstance(rid, str) and 1 <= len(rid) <= 128, f"bad record_id {rid!r}"
    assert isinstance(r.get("firm_id"), str) and FIRM_RE.fullmatch(r["firm_id"])
    assert isinstance(r.get("client_ref"), str) and r["client_ref"].strip()
    if rt == "erasure":
        _parse_ts(r["requested_at"])
        return
    assert isinstance(r.get("interview_ref"), str) and r["interview_ref"]
    app = r.get("application_ref")
    assert app is None or (isinstance(app, str) and app.strip()), f"bad application_ref {app!r}"
    if rt == "outcome":
        _parse_ts(r["decided_at"])
        assert r["outcome"] in OUTCOMES
        assert isinstance(r["referral"], bool)
        return
    rnd = r.get("round")
    assert rnd is None or (_is_int(rnd) and 1 <= rnd <= 20), f"bad round {rnd!r}"
    submitted = _parse_ts(r["submitted_at"])
    assert DATE_RE.fullmatch(r["interview_date"])
    assert date.fromisoformat(r["interview_date"]) <= submitted.date()
    assert r["stage"] in STAGES
    assert r["interviewer_role"] in ROLES
    assert r["seniority"] in SENIORITIES
    for f in ("industry", "role_family"):
        assert isinstance(r[f], str) and r[f].strip()
    assert _is_int(r["experience_years"]) and 0 <= r["experience_years"] <= 60
    assert _is_int(r["duration_min"]) and 5 <= r["duration_min"] <= 600
    assert _is_int(r["self_rating"]) and 1 <= r["self_rating"] <= 5
    asked = r["asked_fit_question"]
    assert isinstance(asked, bool)
    kinds = r["fit_question_kinds"]
    assert isinstance(kinds, list) and set(kinds) <= KINDS and len(set(kinds)) == len(kinds)
    assert bool(kinds) == asked, "fit_question_kinds must be empty iff not asked"
    for f, lo, hi in (("asked_at_pct", 0, 100), ("rapport_before_ask", 1, 5)):
        v = r.get(f)
        if asked:
            assert _is_int(v) and lo <= v <= hi, f"{f}={v!r} out of range"
        else:
            assert v is None, f"{f} must be null when not asked"
    raised = r["concerns_raised"]
    assert isinstance(raised, list) and set(raised) <= CONCERNS
    assert len(set(raised)) == len(raised)
    addressed = r.get("concerns_addressed")
    if raised:
        assert isinstance(addressed, bool)
    else:
        assert addressed is None, "concerns_addressed must be null when none were raised"
    assert r.get("notes") is None or isinstance(r["notes"], str)


def csv_row_to_record(row: dict) -> dict:
    """Type one CSV row per the spec (empty cell = null, ;-lists, true/false/yes/no/1/0)."""
    rt = row["record_type"]
    out = {}
    for k, v in row.items():
        if v == "":
            if k in TYPE_FIELDS.get(rt, ()) | COMMON:
                out[k] = [] if k in LIST_FIELDS else None
            continue
        assert k in TYPE_FIELDS.get(rt, set()) | COMMON, f"{rt} row has a value in column {k}"
        if k in INT_FIELDS:
            assert re.fullmatch(r"-?\d+", v), f"{k}={v!r} not an int"
            out[k] = int(v)
        elif k in BOOL_FIELDS:
            assert v.lower() in CSV_TRUE | CSV_FALSE, f"{k}={v!r} not a boolean"
            out[k] = v.lower() in CSV_TRUE
        elif k in LIST_FIELDS:
            out[k] = v.split(";")
        else:
            out[k] = v
    optional = {"schema_version", *OPTIONAL_BY_TYPE.get(rt, ())}
    return {k: v for k, v in out.items() if not (v is None and k in optional)}


def landing_paths(out_dir: Path) -> list[str]:
    """The landing files below out_dir, as paths relative to it, in arrival order (by file
    name, whatever firm's zone they lie in)."""
    found = (p.relative_to(out_dir) for p in out_dir.rglob("*") if p.suffix in (".jsonl", ".csv"))
    return [p.as_posix() for p in sorted(found, key=lambda p: (p.name, p.as_posix()))]


def read_landing(out_dir: Path) -> tuple[list[tuple[str, dict]], list[str]]:
    """All records as (file path below out_dir, typed record) in arrival order (sorted names,
    file order)."""
    names = landing_paths(out_dir)
    recs = []
    for name in names:
        path = out_dir / name
        if name.endswith(".jsonl"):
            raw = path.read_bytes()
            assert raw.endswith(b"\n")
            for line in raw.decode("utf-8").splitlines():
                assert line.strip(), "blank line in JSONL"
                r = json.loads(line)
                assert isinstance(r, dict)
                recs.append((name, r))
        else:
            with open(path, encoding="utf-8-sig", newline="") as fh:
                reader = csv.DictReader(fh)
                header = list(reader.fieldnames or [])
                assert [c for c in header if c not in OPTIONAL] == SPEC_CSV_HEADER
                types = set()
                for row in reader:
                    assert None not in row, "row longer than header"
                    types.add(row["record_type"])
                    recs.append((name, csv_row_to_record(row)))
                assert len(types) <= 1, f"{name} mixes record types {types}"
    return recs, names


def _digest(out: Path) -> dict[str, str]:
    return {
        p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.rglob("*"))
        if p.is_file()
    }


# ---------------------------------------------------------------------------------------------
# The analyst's view of the frames, following truth.json's definitions
# ---------------------------------------------------------------------------------------------
def analysable(sim: Simulation) -> pl.DataFrame:
    """One row per analysable round: the debrief version that counts, advance, referral."""
    key = ["firm_id", "interview_ref"]
    outs = (
        sim.outcomes.sort("decided_at")
        .group_by(key)
        .agg(
            first_out=pl.col("decided_at").first(),
            outcome=pl.col("outcome").last(),
            referral=pl.col("referral").last(),
        )
    )
    deb = (
        sim.debriefs.join(outs, on=key, how="left")
        .filter(pl.col("first_out").is_null() | (pl.col("submitted_at") <= pl.col("first_out")))
        .sort("submitted_at")
        .group_by(key)
        .last()
    )
    last = (
        sim.debriefs.filter(pl.col("application_ref").is_not_null())
        .group_by("firm_id", "application_ref")
        .agg(last_date=pl.col("interview_date").max())
    )
    implied = pl.col("outcome").is_null() & (pl.col("interview_date") < pl.col("last_date"))
    return (
        deb.join(last, on=["firm_id", "application_ref"], how="left")
        .with_columns(implied=implied.fill_null(False))
        .filter((pl.col("outcome").is_not_null() & (pl.col("outcome") != "withdrawn")) | "implied")
        .join(
            sim.erasures.select("firm_id", "client_ref"), on=["firm_id", "client_ref"], how="anti"
        )
        .with_columns(
            advance=pl.col("outcome").is_in(list(ADVANCED)) | pl.col("implied"),
            C=pl.col("fit_question_kinds").list.contains("concerns"),
            I=pl.col("fit_question_kinds").list.contains("ideal_candidate"),
            M=pl.col("fit_question_kinds").list.contains("comparison"),
        )
    )


def rate_diff(df: pl.DataFrame, treated: pl.Expr, y: str = "advance") -> float:
    rates = df.group_by(treated.alias("t")).agg(pl.col(y).mean()).sort("t")[y].to_list()
    return rates[1] - rates[0]


def within_client_ols(df: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """advance on C, I, M + stage, round and seniority dummies, client fixed effects (demeaned);
    client-clustered standard errors. Returns (coefficients, SEs) of C, I, M."""
    cols = [df[c].to_numpy().astype(float) for c in ("C", "I", "M")]
    for c in ("stage", "round", "seniority"):
        for v in sorted(df[c].drop_nulls().unique().to_list())[1:]:
            cols.append((df[c] == v).fill_null(False).to_numpy().astype(float))
    x = np.column_stack(cols)
    y = df["advance"].to_numpy().astype(float)
    g = df.select(pl.struct("firm_id", "client_ref").rank("dense")).to_series().to_numpy() - 1
    n_g = np.bincount(g)

    def demean(a: np.ndarray) -> np.ndarray:
        return a - (np.bincount(g, a) / n_g)[g]

    xd = np.column_stack([demean(x[:, j]) for j in range(x.shape[1])])
    yd = demean(y)
    inv = np.linalg.inv(xd.T @ xd)
    beta = inv @ xd.T @ yd
    scores = np.zeros((len(n_g), x.shape[1]))
    np.add.at(scores, g, xd * (yd - xd @ beta)[:, None])
    cov = inv @ (scores.T @ scores) @ inv
    return beta[:3], np.sqrt(np.diag(cov))[:3]


# ---------------------------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------------------------
N_SMALL, SEED_SMALL, FIRMS_SMALL = 2000, 11, 4


def _run(tmp_path_factory, fmt: str):
    out = tmp_path_factory.mktemp(fmt)
    summary = generate(out, N_SMALL, SEED_SMALL, fmt, FIRMS_SMALL)
    recs, names = read_landing(out)
    truth = json.loads((out / "truth.json").read_text(encoding="utf-8"))
    return out, summary, recs, names, truth


@pytest.fixture(scope="module")
def small_jsonl(tmp_path_factory):
    return _run(tmp_path_factory, "jsonl")


@pytest.fixture(scope="module")
def small_csv(tmp_path_factory):
    return _run(tmp_path_factory, "csv")


@pytest.fixture(params=["small_jsonl", "small_csv"])
def any_format(request):
    return request.getfixturevalue(request.param)


@pytest.fixture(scope="module")
def small_sim() -> Simulation:
    return simulate(N_SMALL, SEED_SMALL, FIRMS_SMALL)


@pytest.fixture(scope="module")
def medium_sim() -> Simulation:
    """Enough rounds for shares and rates; four firms, no notes."""
    return simulate(30_000, 3, firms=4, with_notes=False)


@pytest.fixture(scope="module")
def big_sim() -> Simulation:
    """One firm that reports application and round on every record: the within-client fit."""
    return simulate(100_000, 1, firms=1, with_notes=False)


# ---------------------------------------------------------------------------------------------
# API, determinism
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_deterministic_per_seed(tmp_path, fmt):
    a = generate(tmp_path / "a", 1500, 3, fmt)
    b = generate(tmp_path / "b", 1500, 3, fmt)
    c = generate(tmp_path / "c", 1500, 4, fmt)
    da, db, dc = _digest(tmp_path / "a"), _digest(tmp_path / "b"), _digest(tmp_path / "c")
    assert da == db
    assert len(da) > 3
    assert a["files"] == b["files"]
    assert a["records"] == b["records"]
    # a different seed changes the content (file names may coincide, bytes must not)
    common = set(da) & set(dc)
    assert common and all(da[n] != dc[n] for n in common)
    assert c["records"] != a["records"] or da != dc


def test_simulate_is_deterministic_and_matches_generate_truth(small_sim, small_jsonl):
    again = simulate(N_SMALL, SEED_SMALL, FIRMS_SMALL)
    for name in ("debriefs", "outcomes", "erasures"):
        assert getattr(again, name).equals(getattr(small_sim, name))
    file_truth = small_jsonl[4]
    assert file_truth["format"] == "jsonl" and small_sim.truth["format"] is None
    layout_only = {"files", "outcome_in_earlier_file", "outcome_arrives_first"}
    assert set(file_truth["counts"]) - set(small_sim.truth["counts"]) == layout_only
    strip = {"format", "counts"}
    assert {k: v for k, v in file_truth.items() if k not in strip} == json.loads(
        json.dumps({k: v for k, v in small_sim.truth.items() if k not in strip})
    )


def test_summary_matches_files(any_format):
    out, summary, recs, names, _ = any_format
    assert summary["files"] == names
    # Each firm's files lie in its own landing zone, <firm_id>/, and only there.
    assert {name.split("/")[0] for name in names} == set(summary["firm_ids"])
    for name, r in recs:
        zone, file_name = name.split("/")
        assert zone == r["firm_id"] == file_name.split("_")[1], name
    assert sorted(p.name for p in out.iterdir() if p.is_file()) == ["truth.json"]
    assert summary["truth_file"] == "truth.json" and (out / "truth.json").is_file()
    got = Counter(r["record_type"] for _, r in recs)
    assert summary["records"] == {t: got[t] for t in ("debrief", "outcome", "erasure")}
    assert summary["records"]["debrief"] >= N_SMALL  # one per interview plus corrections
    assert set(summary["firm_ids"]) == {r["firm_id"] for _, r in recs}
    assert summary["firm_ids"] == ["north-star", "bright-path", "summit-coaching", "career-forge"]


def test_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError):
        generate(tmp_path / "x", 10, 1, "parquet")
    with pytest.raises(ValueError):
        generate(tmp_path / "y", 0, 1)
    with pytest.raises(ValueError):
        simulate(10, -1)
    with pytest.raises(ValueError):
        Params(kind_effects=(0.1, 0.1))
    with pytest.raises(ValueError):
        Params(planned_rounds_p=(0.5, 0.5, 0.5, 0.0, 0.0))
    generate(tmp_path / "z", 20, 1)
    with pytest.raises(FileExistsError):  # never mixes two runs in one landing directory
        generate(tmp_path / "z", 20, 1)


def test_exact_number_of_interviews():
    for n in (1, 7, 333, 4000):
        sim = simulate(n, n, firms=2, with_notes=False)
        assert sim.debriefs.select("firm_id", "interview_ref").n_unique() == n
        assert sim.truth["interviews"] == sim.truth["counts"]["interviews"] == n


def test_simulate_without_notes_is_fast():
    simulate(5000, 0, with_notes=False)  # warm up imports and caches
    best = min(_timed(lambda s=s: simulate(5000, s, with_notes=False)) for s in range(3))
    assert best < 0.5, f"simulate(5000, with_notes=False) took {best:.2f} s"
    notes = simulate(300, 1, with_notes=False).debriefs["notes"]
    assert notes.null_count() == notes.len() > 300


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def test_formats_encode_the_same_population(small_jsonl, small_csv):
    def norm(recs):
        out = []
        for _, r in recs:
            r = dict(r)
            for f in LIST_FIELDS:
                if f in r and r[f] is None:
                    r[f] = []
            out.append(json.dumps({k: v for k, v in r.items() if v is not None}, sort_keys=True))
        return sorted(out)

    # The CSV run drops the same population (same seed): only the encoding differs.
    assert norm(small_jsonl[2]) == norm(small_csv[2])


# ---------------------------------------------------------------------------------------------
# Spec conformance; the frames are the files
# ---------------------------------------------------------------------------------------------
def test_every_record_follows_the_spec(any_format):
    _, _, recs, _, _ = any_format
    assert len(recs) > 4000
    for name, r in recs:
        try:
            validate_record(r)
        except AssertionError as e:  # pragma: no cover - diagnostic only
            raise AssertionError(f"{name}: {r}: {e}") from e


def _typed_files(out: Path) -> pl.DataFrame:
    from pipelines.landing.records import iter_raw_chunks, typed_records

    paths = [out / name for name in landing_paths(out)]
    return pl.concat([typed_records(c.lazy()).collect() for p in paths for c in iter_raw_chunks(p)])


def test_simulate_frames_are_the_files(any_format, small_sim):
    """The repo's own parser reads back exactly simulate()'s rows (strings stripped, as the
    parser strips them)."""
    typed = _typed_files(any_format[0])
    assert typed["parse_errors"].list.len().sum() == 0
    frames = {
        "debrief": small_sim.debriefs,
        "outcome": small_sim.outcomes,
        "erasure": small_sim.erasures,
    }
    for rtype, frame in frames.items():
        got = typed.filter(pl.col("record_type") == rtype).select(frame.columns)
        want = frame.with_columns(pl.col(pl.String).str.strip_chars())
        assert got.sort("firm_id", "record_id").equals(want.sort("firm_id", "record_id")), rtype


def test_simulate_frames_have_the_contract_types(small_sim):
    kinds = {
        "str": pl.String,
        "int": pl.Int64,
        "bool": pl.Boolean,
        "list": pl.List(pl.String),
        "timestamp": pl.Datetime("us", "UTC"),
        "date": pl.Date,
    }
    expected = {
        "debriefs": ["record_id", "firm_id", "client_ref", *spec.DEBRIEF_FIELDS],
        "outcomes": ["record_id", "firm_id", "client_ref", *spec.OUTCOME_FIELDS],
        "erasures": ["record_id", "firm_id", "client_ref", *spec.ERASURE_FIELDS],
    }
    for name, columns in expected.items():
        frame = getattr(small_sim, name)
        assert frame.columns == columns
        assert {c: frame.schema[c] for c in columns} == {
            c: kinds[spec.FIELD_KINDS[c]] for c in columns
        }
    assert small_sim.debriefs.filter(
        pl.col("fit_question_kinds").is_null() | pl.col("concerns_raised").is_null()
    ).is_empty()


def test_repo_validator_accepts_every_record(small_jsonl):
    from pipelines.ingest.validate import RecordValidator

    typed = _typed_files(small_jsonl[0]).with_columns(
        source_line=pl.int_range(pl.len(), dtype=pl.Int64)
    )
    failed = RecordValidator().validate(typed, "generated")
    bad = failed.filter(pl.col("failed_rules").list.len() > 0)
    assert bad.is_empty(), bad.head(5).to_dicts()


def test_jsonl_encoding_details(small_jsonl):
    out, _, recs, names, _ = small_jsonl
    assert all(n.endswith(".jsonl") for n in names)
    types_per_file = defaultdict(set)
    for name, r in recs:
        types_per_file[name].add(r["record_type"])
        for k in ("submitted_at", "decided_at", "requested_at"):
            if k in r:
                assert r[k].endswith("Z")
        rt = r["record_type"]
        required = TYPE_FIELDS[rt] - OPTIONAL_BY_TYPE.get(rt, set())
        assert required <= set(r) <= TYPE_FIELDS[rt] | COMMON  # non-applicable fields omitted
        for k in OPTIONAL:
            assert r.get(k, "absent") is not None, "a 1.1 field is either set or absent"
    assert any(len(t) >= 2 for t in types_per_file.values()), "JSONL files should mix types"
    with_sv = sum("schema_version" in r for _, r in recs)
    assert 0 < with_sv < len(recs), "schema_version should be sometimes present, sometimes not"
    raw = b"".join((out / n).read_bytes() for n in names)
    assert not raw.startswith(b"\xef\xbb\xbf")
    raw.decode("utf-8")


def test_csv_encoding_details(small_csv):
    out, _, recs, names, _ = small_csv
    assert all(n.endswith(".csv") for n in names)
    assert [c for c in spec.CSV_COLUMNS if c not in OPTIONAL] == SPEC_CSV_HEADER
    bools, lists, boms, headers = set(), 0, 0, Counter()
    for name in names:
        raw = (out / name).read_bytes()
        boms += raw.startswith(b"\xef\xbb\xbf")
        rows = list(csv.reader(raw.decode("utf-8-sig").splitlines()))
        header, body = rows[0], rows[1:]
        assert [c for c in header if c not in OPTIONAL] == SPEC_CSV_HEADER
        assert body, f"{name} is empty"
        rtype = {r[0] for r in body}
        assert len(rtype) == 1 and name.endswith(f"-{rtype.pop()}.csv")
        for c in OPTIONAL:  # a 1.1 column only in a file that uses it
            if c in header:
                assert any(row[header.index(c)] for row in body), f"{name}: empty column {c}"
        headers[tuple(c for c in header if c in OPTIONAL), header.index("submitted_at")] += 1
        for row in body:
            assert len(row) == len(header)
            cells = dict(zip(header, row, strict=True))
            for b in BOOL_FIELDS:
                if cells[b]:
                    bools.add(cells[b])
            lists += ";" in cells["fit_question_kinds"] + cells["concerns_raised"]
    # 1.0 headers, 1.1 headers with one or both columns, at the end or next to interview_ref
    assert {h for h, _ in headers} == {(), ("application_ref",), ("application_ref", "round")}
    assert len({pos for (h, pos) in headers if h == ("application_ref", "round")}) == 2
    assert bools == {"true", "false"}
    assert lists > 0, "multi-valued lists should be ;-joined"
    assert 0 < boms < len(names), "some (not all) CSV files carry a BOM (the spec allows it)"
    assert any("," in (r.get("notes") or "") for _, r in recs), "quoting of commas exercised"
    assert any('"' in (r.get("notes") or "") for _, r in recs), "quoting of quotes exercised"


# ---------------------------------------------------------------------------------------------
# Realism
# ---------------------------------------------------------------------------------------------
def test_ids_unique_within_firm(any_format):
    _, _, recs, _, _ = any_format
    seen = Counter((r["firm_id"], r["record_id"]) for _, r in recs)
    assert max(seen.values()) == 1
    # interview_ref identifies one interview of one client; application_ref one client's process
    by_ref, by_app = defaultdict(set), defaultdict(set)
    for _, r in recs:
        if r["record_type"] != "erasure":
            by_ref[(r["firm_id"], r["interview_ref"])].add(r["client_ref"])
            if r.get("application_ref"):
                by_app[(r["firm_id"], r["application_ref"])].add(r["client_ref"])
    assert all(len(c) == 1 for c in by_ref.values())
    assert all(len(c) == 1 for c in by_app.values())
    assert len(by_ref) == N_SMALL


def test_population_shape(small_jsonl, medium_sim):
    _, _, recs, names, _ = small_jsonl
    debs = [r for _, r in recs if r["record_type"] == "debrief"]
    assert {r["stage"] for r in debs} == STAGES
    assert {r["seniority"] for r in debs} == SENIORITIES
    d = medium_sim.debriefs.unique(["firm_id", "interview_ref"])
    per_client = d.group_by("firm_id", "client_ref").agg(
        n=pl.len(), apps=pl.col("application_ref").n_unique(), stages=pl.col("stage").n_unique()
    )
    assert 6 <= per_client["n"].median() <= 10
    assert per_client["stages"].ge(3).mean() >= 0.5
    with_apps = per_client.join(
        d.filter(pl.col("firm_id") == "north-star").select("client_ref").unique(), on="client_ref"
    )
    assert with_apps["apps"].mean() >= 3, "clients run several applications"
    # rounds progress: a client's first final round comes after their first phone screen
    first = defaultdict(dict)
    for r in debs:
        k = (r["firm_id"], r["client_ref"])
        first[k][r["stage"]] = min(first[k].get(r["stage"], "9999"), r["interview_date"])
    both = [f for f in first.values() if "phone_screen" in f and "final" in f]
    assert both and sum(f["phone_screen"] < f["final"] for f in both) >= 0.8 * len(both)
    # several files per firm, arrival order by name = chronological
    per_firm = defaultdict(list)
    for n in names:
        per_firm[n.split("_")[1]].append(n)
    assert all(len(v) >= 3 for v in per_firm.values())
    for firm, files in per_firm.items():
        med = []
        for n in files:
            ts = sorted(r["submitted_at"] for fn, r in recs if fn == n and "submitted_at" in r)
            med.append(ts[len(ts) // 2])
        assert med == sorted(med), f"{firm} files are not in chronological name order"


def test_client_refs_mix_emails_names_and_ids(any_format):
    _, _, recs, _, _ = any_format
    refs = {r["client_ref"] for _, r in recs}
    emails = {c for c in refs if EMAIL_RE.fullmatch(c)}
    names = {c for c in refs if NAME_RE.fullmatch(c) and "@" not in c}
    opaque = refs - emails - names
    assert len(emails) >= 0.2 * len(refs)
    assert len(names) >= 0.15 * len(refs)
    assert len(opaque) >= 0.15 * len(refs)
    assert any(not c.isascii() for c in names), "names should include non-ASCII letters"


def test_notes_carry_pii(small_jsonl):
    _, _, recs, _, _ = small_jsonl
    notes = [r.get("notes") for _, r in recs if r["record_type"] == "debrief"]
    texts = [n for n in notes if n]
    assert 0.05 * len(notes) < notes.count(None) < 0.4 * len(notes)
    assert sum(bool(EMAIL_RE.search(t)) for t in texts) >= 0.15 * len(texts)
    assert sum(bool(PHONE_RE.search(t)) for t in texts) >= 0.1 * len(texts)
    assert sum(bool(URL_RE.search(t)) for t in texts) >= 0.05 * len(texts)
    assert sum(bool(re.search(r"\b[A-Z][a-z]+ [A-Z][\w'-]+", t)) for t in texts) >= 0.3 * len(texts)
    formats = {
        "+1 ddd-ddd-dddd": r"\+1 \d{3}-\d{3}-\d{4}",
        "(ddd) ddd-dddd": r"\(\d{3}\) \d{3}-\d{4}",
        "ddd.ddd.dddd": r"\b\d{3}\.\d{3}\.\d{4}\b",
        "+44": r"\+44 \d",
    }
    for label, pat in formats.items():
        assert any(re.search(pat, t) for t in texts), f"no phone number like {label}"


def _versions(recs) -> tuple[dict, dict]:
    debs, outs = defaultdict(list), defaultdict(list)
    for _, r in recs:
        key = (r["firm_id"], r.get("interview_ref"))
        if r["record_type"] == "debrief":
            debs[key].append(r)
        elif r["record_type"] == "outcome":
            outs[key].append(r)
    for d in (debs, outs):
        for v in d.values():
            v.sort(key=lambda r: r.get("submitted_at") or r.get("decided_at"))
    return debs, outs


def test_corrected_debriefs(any_format):
    _, _, recs, _, truth = any_format
    debs, outs = _versions(recs)
    counts = truth["counts"]
    corrected = {k: v for k, v in debs.items() if len(v) > 1}
    assert len(corrected) == counts["corrected_debriefs"]
    assert 0.05 * N_SMALL <= len(corrected) <= 0.2 * N_SMALL
    before = after = 0
    ignore = {"record_id", "submitted_at", "schema_version"}
    for key, versions in corrected.items():
        assert len(versions) == 2
        a, b = versions
        assert a["record_id"] != b["record_id"] and a["submitted_at"] < b["submitted_at"]
        changed = {k for k in set(a) | set(b) if k not in ignore and a.get(k) != b.get(k)}
        assert changed, "a correction must change something"
        first_out = min((o["decided_at"] for o in outs.get(key, [])), default=None)
        if first_out is not None and _parse_ts(b["submitted_at"]) > _parse_ts(first_out):
            after += 1
        else:
            before += 1
    assert after == counts["corrected_after_outcome"] > before == counts["corrected_before_outcome"]
    assert before > 0


def test_corrections_after_the_outcome_are_coloured_by_hindsight(medium_sim):
    d, o = medium_sim.debriefs, medium_sim.outcomes
    key = ["firm_id", "interview_ref"]
    outs = (
        o.sort("decided_at")
        .group_by(key)
        .agg(first_out=pl.col("decided_at").first(), outcome=pl.col("outcome").last())
    )
    v = (
        d.sort("submitted_at")
        .group_by(key)
        .agg(
            n=pl.len(),
            first_c=pl.col("fit_question_kinds").first().list.contains("concerns"),
            last_c=pl.col("fit_question_kinds").last().list.contains("concerns"),
            first_k=pl.col("fit_question_kinds").first().list.len(),
            last_k=pl.col("fit_question_kinds").last().list.len(),
            first_s=pl.col("self_rating").first(),
            last_s=pl.col("self_rating").last(),
            last_at=pl.col("submitted_at").last(),
            last_asked=pl.col("asked_fit_question").last(),
            last_pct=pl.col("asked_at_pct").last(),
        )
    )
    hs = v.join(outs, on=key).filter((pl.col("n") > 1) & (pl.col("last_at") > pl.col("first_out")))
    assert hs.height == medium_sim.truth["counts"]["corrected_after_outcome"] > 1000
    good = hs.filter(pl.col("outcome").is_in(list(ADVANCED)))
    bad = hs.filter(pl.col("outcome").is_in(["rejected", "no_response"]))
    assert good.height > 300 and bad.height > 300
    assert good.filter(pl.col("last_asked") & pl.col("last_pct").is_null()).is_empty()
    # advanced: concerns "remembered", self-rating up; never the other way
    assert good.filter(pl.col("first_c") & ~pl.col("last_c")).is_empty()
    assert good.filter(~pl.col("first_c") & pl.col("last_c")).height > 0.3 * good.height
    assert (good["last_s"] >= good["first_s"]).all() and (good["last_s"] > good["first_s"]).any()
    # not advanced: kinds forgotten, self-rating down; never the other way
    assert (bad["last_k"] <= bad["first_k"]).all() and (bad["last_k"] < bad["first_k"]).any()
    assert (bad["last_s"] <= bad["first_s"]).all() and (bad["last_s"] < bad["first_s"]).any()
    # crude on the latest versions, concerns look better than on the versions that count
    latest = d.sort("submitted_at").group_by(key).last().join(outs, on=key)
    latest = latest.filter(pl.col("outcome").is_in(list(ADVANCED | {"rejected", "no_response"})))
    counted = analysable(medium_sim).filter(pl.col("outcome").is_not_null())
    concerns = pl.col("fit_question_kinds").list.contains("concerns")
    y = pl.col("outcome").is_in(list(ADVANCED))
    hindsight_crude = rate_diff(latest.with_columns(advance=y), concerns)
    assert hindsight_crude > rate_diff(counted, concerns) + 0.02


def test_outcomes_arrive_later_supersede_and_are_sometimes_pending(any_format):
    _, _, recs, names, truth = any_format
    rank = {n: i for i, n in enumerate(names)}
    first_deb, first_out = {}, {}
    for pos, (name, r) in enumerate(recs):
        if r["record_type"] == "erasure":
            continue
        key = (r["firm_id"], r["interview_ref"])
        target = first_deb if r["record_type"] == "debrief" else first_out
        target.setdefault(key, (rank[name], pos))
    debs, outs = _versions(recs)
    assert set(outs) <= set(debs), "every outcome belongs to a known interview"
    for key, os_ in outs.items():
        first_sub = _parse_ts(debs[key][0]["submitted_at"])
        for o in os_:
            lag = _parse_ts(o["decided_at"]) - first_sub
            assert lag.total_seconds() > 3600, "decisions come after the debrief"
    lags = sorted(
        (_parse_ts(v[-1]["decided_at"]) - _parse_ts(debs[k][0]["submitted_at"])).days
        for k, v in outs.items()
    )
    assert 5 <= lags[len(lags) // 2] <= 40, "median decision lag should be days to weeks"
    counts = truth["counts"]
    without = set(debs) - set(outs)
    assert len(without) == counts["without_outcome_record"]
    assert counts["rounds_pending"] + counts["final_only_firm_rounds_without_outcome"] == len(
        without
    )
    assert 0.02 * len(debs) <= counts["rounds_pending"] <= 0.2 * len(debs)
    earlier_file = sum(first_out[k][0] < first_deb[k][0] for k in outs)
    assert earlier_file == counts["outcome_in_earlier_file"] >= 1
    arrives_first = sum(first_out[k][1] < first_deb[k][1] for k in outs)
    assert arrives_first == counts["outcome_arrives_first"] >= 1
    multi = {k: v for k, v in outs.items() if len(v) > 1}
    assert len(multi) == counts["superseded_outcomes"] > 0
    pairs = Counter((v[0]["outcome"], v[1]["outcome"]) for v in multi.values())
    assert set(pairs) == {("next_round", "offer"), ("no_response", "rejected")}
    assert pairs["next_round", "offer"] == counts["next_round_then_offer"] > 0
    assert pairs["no_response", "rejected"] == counts["no_response_then_rejected"] > 0
    assert all(len(v) == 2 and not v[0]["referral"] for v in multi.values())
    finals = Counter(v[-1]["outcome"] for v in outs.values())
    assert set(finals) == OUTCOMES
    assert finals["withdrawn"] == counts["rounds_withdrawn"]


def test_erasures(any_format):
    _, _, recs, _, truth = any_format
    erasure_pos = {}
    last_pos = {}
    for pos, (_, r) in enumerate(recs):
        key = (r["firm_id"], r["client_ref"])
        if r["record_type"] == "erasure":
            assert key not in erasure_pos
            erasure_pos[key] = pos
        else:
            assert key not in erasure_pos, "a record arrived after its client's erasure"
            last_pos[key] = pos
    assert FIRMS_SMALL <= len(erasure_pos) <= 12 * FIRMS_SMALL
    assert truth["erasures"]["count"] == len(erasure_pos) == truth["counts"]["erased_clients"]
    listed = {(e["firm_id"], e["client_ref"]) for e in truth["erasures"]["client_refs"]}
    assert listed == set(erasure_pos)
    for key, pos in erasure_pos.items():
        assert key in last_pos and last_pos[key] < pos, "erased clients have earlier records"


# ---------------------------------------------------------------------------------------------
# How each firm reports
# ---------------------------------------------------------------------------------------------
def test_each_firm_reports_in_its_own_convention(small_jsonl, medium_sim):
    _, _, recs, _, truth = small_jsonl
    assert truth["reporting"] == {
        "north-star": "per_round",
        "bright-path": "no_round",
        "summit-coaching": "final_only",
        "career-forge": "revision_1_0",
    }
    keys = defaultdict(Counter)
    for _, r in recs:
        if r["record_type"] != "erasure":
            keys[r["firm_id"], r["record_type"]].update(k for k in OPTIONAL if k in r)
    n = Counter((r["firm_id"], r["record_type"]) for _, r in recs)
    for firm in ("north-star", "summit-coaching"):
        assert keys[firm, "debrief"] == {
            "application_ref": n[firm, "debrief"],
            "round": n[firm, "debrief"],
        }
    for firm in ("north-star", "bright-path", "summit-coaching"):
        assert keys[firm, "outcome"] == {"application_ref": n[firm, "outcome"]}
    assert keys["bright-path", "debrief"] == {"application_ref": n["bright-path", "debrief"]}
    assert not keys["career-forge", "debrief"] and not keys["career-forge", "outcome"]

    d = medium_sim.debriefs.unique(["firm_id", "interview_ref"], keep="first")
    o = medium_sim.outcomes.select("firm_id", "interview_ref").unique()
    rounds = d.filter(pl.col("round").is_not_null())
    # rounds count 1, 2, ... within an application, in interview-date order
    per_app = rounds.sort("interview_date").group_by("firm_id", "application_ref").agg("round")
    assert all(r == list(range(1, len(r) + 1)) for r in per_app["round"].to_list())
    # final-only firm: one interview per application carries outcomes, its last one
    f2 = d.filter(pl.col("firm_id") == "summit-coaching").join(
        o.with_columns(has=pl.lit(True)), on=["firm_id", "interview_ref"], how="left"
    )
    apps = f2.group_by("application_ref").agg(
        n=pl.len(),
        with_out=pl.col("has").sum(),
        last=pl.col("round").max(),
        out_round=pl.col("round").filter(pl.col("has")).max(),
    )
    assert apps["with_out"].max() == 1
    assert (
        apps.filter(pl.col("with_out") == 1)
        .select(pl.col("out_round") == pl.col("last"))["out_round"]
        .all()
    )
    assert (
        (apps["n"] - 1).sum()
        == medium_sim.truth["counts"]["final_only_firm_rounds_without_outcome"]
        > 0
    )
    # per-round firms: most interviews, early rounds included, have their own outcome
    f0 = d.filter(pl.col("firm_id") == "north-star").join(o, on=["firm_id", "interview_ref"])
    assert (
        f0.filter(pl.col("round") == 1).height
        > 0.8 * d.filter((pl.col("firm_id") == "north-star") & (pl.col("round") == 1)).height
    )


def test_fit_question_kinds_are_correlated(medium_sim):
    d = medium_sim.debriefs.unique(["firm_id", "interview_ref"], keep="first")
    k = d.select(
        C=pl.col("fit_question_kinds").list.contains("concerns"),
        M=pl.col("fit_question_kinds").list.contains("comparison"),
        asked="asked_fit_question",
    )
    m_given_c = k.filter("C")["M"].mean()
    m_given_not_c = k.filter(~pl.col("C"))["M"].mean()
    assert 0.5 < m_given_c < 0.7 and 0.05 < m_given_not_c < 0.15
    assert 0.35 < k["asked"].mean() < 0.65


INDUSTRY_SYNONYMS = {  # the brief's list of allowed synonyms
    "software": ("tech", "technology", "IT", "software engineering"),
    "healthcare": ("health care", "medical", "hospital"),
    "finance": ("financial services", "banking", "fintech"),
    "retail": ("e-commerce", "ecommerce"),
    "education": ("higher education", "edtech"),
    "manufacturing": ("industrial",),
    "consulting": ("professional services",),
    "government": ("public sector",),
}


def _normal(s: str) -> str:
    return " ".join(s.strip().lower().replace("-", " ").split())


def test_industries_are_spelled_per_firm(medium_sim):
    truth = medium_sim.truth
    canon = dict(truth["industry_spellings"])
    industries = set(truth["vocabulary"]["industries"]) - {"other"}
    apps = medium_sim.debriefs.unique(["firm_id", "client_ref", "interview_ref"]).select(
        "firm_id", "industry"
    )
    by_firm = apps.group_by("firm_id").agg(pl.col("industry").unique())
    spellings = {r["firm_id"]: set(r["industry"]) for r in by_firm.to_dicts()}
    assert set().union(*spellings.values()) == set(canon)
    assert spellings["north-star"] <= industries | {s for s, c in canon.items() if c is None}
    assert {"Software", "Healthcare"} <= spellings["bright-path"]
    assert {" software ", "Tech"} <= spellings["summit-coaching"]
    assert {
        "Health Care",
        "health-care",
        "Financial Services",
        "banking",
        "Public Sector",
        "Higher Education",
    } <= spellings["career-forge"]
    assert {c for c in canon.values() if c is not None} <= industries
    for spelling, c in canon.items():  # only case, spacing, hyphens and the listed synonyms
        if c is not None:
            assert _normal(spelling) in {c} | {_normal(x) for x in INDUSTRY_SYNONYMS[c]}
    normal = {s.strip().lower().replace("-", " "): c for s, c in canon.items() if c}
    assert normal["health care"] == "healthcare" and normal["tech"] == "software"
    rare = apps.filter(pl.col("industry").replace_strict(canon, default=None).is_null())
    assert 0 < rare.height < 0.01 * apps.height


# ---------------------------------------------------------------------------------------------
# truth.json
# ---------------------------------------------------------------------------------------------
def test_truth_structure_and_params_round_trip(small_jsonl):
    truth = small_jsonl[4]
    for key in (
        "generator",
        "seed",
        "interviews",
        "format",
        "firm_ids",
        "window",
        "params",
        "effects",
        "hypotheses",
        "true_nulls",
        "crude",
        "model",
        "counts",
        "definitions",
        "erasures",
        "reporting",
        "industry_spellings",
    ):
        assert key in truth, key
    assert truth["seed"] == SEED_SMALL and truth["interviews"] == N_SMALL
    assert Params.from_dict(truth["params"]) == Params()
    assert json.loads(json.dumps(Params().to_dict())) == truth["params"]
    with pytest.raises(ValueError):
        Params.from_dict({**truth["params"], "no_such_param": 1})
    adv = truth["effects"]["advance"]
    assert [
        adv[t] for t in ("asked_about_concerns", "asked_about_ideal_candidate", "asked_how_compare")
    ] == list(KIND_EFFECTS)
    assert adv["addressed_concerns"] == 0.06 and 0.04 < adv["asked_fit_question"] < 0.1
    offer = truth["effects"]["application_offer"]
    assert set(offer) == set(adv)
    assert offer["asked_about_concerns"] > offer["asked_about_ideal_candidate"] > 0.01
    assert abs(offer["asked_how_compare"]) < 0.005
    assert offer["asked_fit_question"] > 0.02 and offer["addressed_concerns"] > 0.005
    assert truth["hypotheses"] == {
        "ask_late": {"estimand": "advance", "effect": 0.03},
        "rapport_first": {"estimand": "advance", "effect": 0.03},
        "address_objections": {"estimand": "advance", "effect": 0.06},
        "self_rating_predicts": {"estimand": "advance", "effect": 0.0},
        "warm_prospects": {"estimand": "referral", "effect": 0.05},
    }
    assert truth["true_nulls"] == {
        "tactics": ["asked_how_compare"],
        "hypotheses": ["self_rating_predicts"],
    }
    assert truth["model"]["clip_active_share"] <= 0.01
    for key in (
        "advance",
        "round_result",
        "debrief_version",
        "analysable_rounds",
        "effects.application_offer",
    ):
        assert key in truth["definitions"]
    c = truth["counts"]
    for key in (
        "applications",
        "rounds_withdrawn",
        "rounds_pending",
        "corrected_after_outcome",
        "final_only_firm_rounds_without_outcome",
        "analysable",
        "files",
    ):
        assert c[key] > 0, key


def test_params_drive_the_population():
    nothing = Params(
        kind_effects=(0.0, 0.0, 0.0), addressed_effect=0.0, late_effect=0.0, rapport_effect=0.0
    )
    t = simulate(3000, 5, params=nothing, with_notes=False).truth
    assert t["params"]["kind_effects"] == [0.0, 0.0, 0.0]
    assert set(t["effects"]["application_offer"].values()) == {0.0}
    assert t["effects"]["advance"]["asked_fit_question"] == 0.0
    assert t["true_nulls"]["tactics"] == [
        "asked_about_concerns",
        "asked_about_ideal_candidate",
        "asked_how_compare",
    ]
    shy = simulate(3000, 5, params=Params(ask_intercept=-3.0), with_notes=False)
    default = simulate(3000, 5, with_notes=False)
    assert shy.debriefs["asked_fit_question"].mean() < default.debriefs["asked_fit_question"].mean()


def test_crude_numbers_in_truth_are_what_an_analyst_computes(small_sim):
    truth, rows = small_sim.truth, analysable(small_sim)
    crude = truth["crude"]
    assert rows.height == crude["n"] == truth["counts"]["analysable"]
    assert rows["implied"].sum() == truth["counts"]["analysable_implied_advanced"] > 0
    assert rows["advance"].mean() == pytest.approx(crude["advance_rate"], abs=2e-6)
    kinds = pl.col("fit_question_kinds").list
    tactics = {
        "asked_fit_question": (rows, pl.col("asked_fit_question")),
        "asked_about_concerns": (rows, kinds.contains("concerns")),
        "asked_about_ideal_candidate": (rows, kinds.contains("ideal_candidate")),
        "asked_how_compare": (rows, kinds.contains("comparison")),
        "addressed_concerns": (
            rows.filter(pl.col("concerns_raised").list.len() > 0),
            pl.col("concerns_addressed"),
        ),
    }
    for name, (df, treated) in tactics.items():
        assert rate_diff(df, treated) == pytest.approx(crude["tactics"][name]["rd"], abs=2e-6)
        assert df.filter(treated).height == crude["tactics"][name]["n_treated"]
    askers = rows.filter("asked_fit_question")
    hyp = crude["hypotheses"]
    late = pl.col("asked_at_pct").is_between(65, 85)
    assert rate_diff(askers, late) == pytest.approx(hyp["ask_late"]["rd"], abs=2e-6)
    high = pl.col("rapport_before_ask") >= 4
    assert rate_diff(askers, high) == pytest.approx(hyp["rapport_first"]["rd"], abs=2e-6)
    self_high = pl.col("self_rating") >= 4
    assert rate_diff(rows, self_high) == pytest.approx(hyp["self_rating_predicts"]["rd"], abs=2e-6)
    not_adv = rows.filter(pl.col("outcome").is_in(["rejected", "no_response"]))
    warm = rate_diff(not_adv, kinds.contains("concerns"), y="referral")
    assert warm == pytest.approx(hyp["warm_prospects"]["rd"], abs=2e-6)


# ---------------------------------------------------------------------------------------------
# The planted effects: confounded crude, recovered within clients
# ---------------------------------------------------------------------------------------------
def test_crude_is_confounded_and_within_client_recovers_the_kinds(big_sim):
    rows = analysable(big_sim)
    assert rows.height > 80_000
    crude = big_sim.truth["crude"]["tactics"]
    # the useless question looks useful crude (asked with concerns, by stronger clients)
    assert crude["asked_how_compare"]["rd"] > 0.03
    assert (
        crude["asked_fit_question"]["rd"]
        > big_sim.truth["effects"]["advance"]["asked_fit_question"] + 0.02
    )
    # self-rating predicts crude, not within a client
    assert big_sim.truth["crude"]["hypotheses"]["self_rating_predicts"]["rd"] > 0.04
    beta, se = within_client_ols(rows)
    for b, s, truth in zip(beta, se, KIND_EFFECTS, strict=True):
        assert abs(b - truth) < 3 * s, (beta, se)
    assert se.max() < 0.006


def test_a_large_population_is_written_in_parts_of_their_own_firms(tmp_path, monkeypatch):
    from pipelines.synthetic import generate as gen

    monkeypatch.setattr(gen, "PART_INTERVIEWS", 400)
    assert gen.part_sizes(1000) == [334, 333, 333] and gen.part_sizes(400) == [400]
    summary = generate(tmp_path / "whole", 1000, 5)
    first = generate(tmp_path / "first", 334, 5)  # one part: the population of that size
    out = tmp_path / "whole"
    # Part 0 is byte for byte the population of its size; later parts have firms of their own.
    assert summary["firm_ids"] == [
        *first["firm_ids"],
        *(f"{f}-p{k}" for k in (2, 3) for f in first["firm_ids"]),
    ]
    for name in first["files"]:
        assert (out / name).read_bytes() == (tmp_path / "first" / name).read_bytes()
    assert summary["files"] == sorted(summary["files"], key=lambda n: n.split("/")[1])
    assert {n.split("/")[0] for n in summary["files"]} == set(summary["firm_ids"])
    recs = [json.loads(line) for n in summary["files"] for line in (out / n).open()]
    assert summary["records"] == dict(Counter(r["record_type"] for r in recs))
    debriefs = {(r["firm_id"], r["interview_ref"]) for r in recs if r["record_type"] == "debrief"}
    assert len(debriefs) == 1000
    truth = json.loads((out / "truth.json").read_text())
    assert truth["interviews"] == 1000 and [p["part"] for p in truth["parts"]] == [0, 1, 2]
    assert truth["params"] == json.loads((tmp_path / "first/truth.json").read_text())["params"]
    assert truth["counts"]["clients"] == sum(p["counts"]["clients"] for p in truth["parts"])
    assert "interviews_per_client_median" not in truth["counts"]  # only per part
    assert truth["erasures"]["count"] == summary["records"].get("erasure", 0)
