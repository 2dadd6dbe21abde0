"""Tests for the synthetic landing-file generator (pipelines.generate).

The validator below is written from shared/spec/debrief-export-v1.md on purpose, NOT from
pipelines.spec, so that a mistake in the shared constants cannot hide a generator bug.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections import Counter, defaultdict
from datetime import date, datetime
from pathlib import Path

import pytest

from pipelines import spec
from pipelines.generate import generate

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
COMMON = {"record_type", "schema_version", "record_id", "firm_id", "client_ref"}
TYPE_FIELDS = {
    "debrief": {
        "interview_ref",
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
    "outcome": {"interview_ref", "decided_at", "outcome", "referral"},
    "erasure": {"requested_at"},
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
FIRM_RE = re.compile(r"[a-z0-9-]{2,64}")
TS_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")
DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
CSV_TRUE, CSV_FALSE = {"true", "yes", "1"}, {"false", "no", "0"}
INT_FIELDS = {"schema_version", "experience_years", "duration_min", "asked_at_pct",
              "rapport_before_ask", "self_rating"}  # fmt: skip
BOOL_FIELDS = {"asked_fit_question", "concerns_addressed", "referral"}
LIST_FIELDS = {"fit_question_kinds", "concerns_raised"}

EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
PHONE_RE = re.compile(
    r"(\+\d[\d ]{6,}\d|\(\d{3}\) \d{3}-\d{4}|\d{3}[. ]\d{3}[. ]\d{4}|0\d{2} \d{4} \d{4})"
)
URL_RE = re.compile(r"(https?://\S+|www\.\S+)")
NAME_RE = re.compile(r"^[^\W\d_][\w'.-]*( [\w'.-]+)+$")

STRATA = ("stage", "seniority", "industry", "band")


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _parse_ts(v: str) -> datetime:
    assert isinstance(v, str) and TS_RE.fullmatch(v), f"bad timestamp {v!r}"
    return datetime.fromisoformat(v.replace("Z", "+00:00"))


def validate_record(r: dict) -> None:
    """Every rule of debrief-export-v1 for one typed record (as parsed from JSON or CSV)."""
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
    if rt == "outcome":
        _parse_ts(r["decided_at"])
        assert r["outcome"] in OUTCOMES
        assert isinstance(r["referral"], bool)
        return
    submitted = _parse_ts(r["submitted_at"])
    assert DATE_RE.fullmatch(r["interview_date"])
    assert date.fromisoformat(r["interview_date"]) <= submitted.date()
    assert r["stage"] in STAGES
    assert r["interviewer_role"] in ROLES
    assert r["seniority"] in SENIORITIES
    for f in ("industry", "role_family"):
        assert isinstance(r[f], str) and r[f]
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
    out = {k: v for k, v in out.items() if not (v is None and k in {"schema_version", "notes"})}
    return out


def read_landing(out_dir: Path) -> tuple[list[tuple[str, dict]], list[str]]:
    """All records as (file name, typed record) in arrival order (sorted names, file order)."""
    names = sorted(p.name for p in out_dir.iterdir() if p.suffix in (".jsonl", ".csv"))
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
                assert reader.fieldnames == SPEC_CSV_HEADER
                types = set()
                for row in reader:
                    assert None not in row, "row longer than header"
                    types.add(row["record_type"])
                    recs.append((name, csv_row_to_record(row)))
                assert len(types) <= 1, f"{name} mixes record types {types}"
    return recs, names


def band(years: int) -> str:
    for lo, hi, label in ((0, 2, "0-2"), (3, 5, "3-5"), (6, 10, "6-10"), (11, 20, "11-20")):
        if lo <= years <= hi:
            return label
    return "21+"


def analysis_rows(recs: list[tuple[str, dict]]) -> list[dict]:
    """The analyst's table: latest debrief + final outcome per interview, erased clients out."""
    deb, out, erased = {}, {}, set()
    for _, r in recs:
        if r["record_type"] == "erasure":
            erased.add((r["firm_id"], r["client_ref"]))
            continue
        key = (r["firm_id"], r["interview_ref"])
        if r["record_type"] == "debrief":
            if key not in deb or deb[key]["submitted_at"] < r["submitted_at"]:
                deb[key] = r
        elif key not in out or out[key]["decided_at"] < r["decided_at"]:
            out[key] = r
    rows = []
    for key, o in out.items():
        d = deb[key]
        if (d["firm_id"], d["client_ref"]) in erased:
            continue
        row = dict(d)
        row["band"] = band(d["experience_years"])
        row["offer"] = o["outcome"] == "offer"
        row["referral"] = o["referral"]
        rows.append(row)
    return rows


def crude_rd(rows: list[dict], treated) -> float:
    t = [r["offer"] for r in rows if treated(r)]
    c = [r["offer"] for r in rows if not treated(r)]
    return sum(t) / len(t) - sum(c) / len(c)


def mh_rd(rows: list[dict], treated, outcome=lambda r: r["offer"]) -> float:
    """Mantel-Haenszel risk difference stratified by stage, seniority, industry, band."""
    cells = defaultdict(lambda: [0, 0, 0, 0])
    for r in rows:
        c = cells[tuple(r[s] for s in STRATA)]
        if treated(r):
            c[0] += outcome(r)
            c[1] += 1
        else:
            c[2] += outcome(r)
            c[3] += 1
    num = den = 0.0
    for a1, n1, a0, n0 in cells.values():
        n = n1 + n0
        if n1 and n0:
            num += (a1 * n0 - a0 * n1) / n
            den += n1 * n0 / n
    return num / den


# ---------------------------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_jsonl(tmp_path_factory):
    out = tmp_path_factory.mktemp("jsonl")
    summary = generate(out, 2000, 11, "jsonl")
    recs, names = read_landing(out)
    truth = json.loads((out / "truth.json").read_text(encoding="utf-8"))
    return out, summary, recs, names, truth


@pytest.fixture(scope="module")
def small_csv(tmp_path_factory):
    out = tmp_path_factory.mktemp("csv")
    summary = generate(out, 2000, 11, "csv")
    recs, names = read_landing(out)
    truth = json.loads((out / "truth.json").read_text(encoding="utf-8"))
    return out, summary, recs, names, truth


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    out = tmp_path_factory.mktemp("big")
    generate(out, 50_000, 5, "jsonl")
    recs, _ = read_landing(out)
    truth = json.loads((out / "truth.json").read_text(encoding="utf-8"))
    return analysis_rows(recs), truth


@pytest.fixture(params=["small_jsonl", "small_csv"])
def any_format(request):
    return request.getfixturevalue(request.param)


def _digest(out: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out.iterdir())}


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


def test_summary_matches_files(any_format):
    out, summary, recs, names, _ = any_format
    assert summary["files"] == names
    assert summary["truth_file"] == "truth.json" and (out / "truth.json").is_file()
    got = Counter(r["record_type"] for _, r in recs)
    assert summary["records"] == {t: got[t] for t in ("debrief", "outcome", "erasure")}
    assert summary["records"]["debrief"] >= 2000  # one per interview plus corrections
    assert set(summary["firm_ids"]) == {r["firm_id"] for _, r in recs}
    assert len(summary["firm_ids"]) == 3


def test_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError):
        generate(tmp_path / "x", 10, 1, "parquet")
    with pytest.raises(ValueError):
        generate(tmp_path / "y", 0, 1)
    generate(tmp_path / "z", 20, 1)
    with pytest.raises(FileExistsError):  # never mixes two runs in one landing directory
        generate(tmp_path / "z", 20, 1)


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
# Spec conformance
# ---------------------------------------------------------------------------------------------
def test_every_record_follows_the_spec(any_format):
    _, _, recs, _, _ = any_format
    assert len(recs) > 4000
    for name, r in recs:
        try:
            validate_record(r)
        except AssertionError as e:  # pragma: no cover - diagnostic only
            raise AssertionError(f"{name}: {r}: {e}") from e


def test_jsonl_encoding_details(small_jsonl):
    out, _, recs, names, _ = small_jsonl
    assert all(n.endswith(".jsonl") for n in names)
    types_per_file = defaultdict(set)
    for name, r in recs:
        types_per_file[name].add(r["record_type"])
        for k in ("submitted_at", "decided_at", "requested_at"):
            if k in r:
                assert r[k].endswith("Z")
        if r["record_type"] != "debrief":
            assert set(r) - COMMON == TYPE_FIELDS[r["record_type"]]  # non-applicable omitted
        else:
            assert TYPE_FIELDS["debrief"] - {"notes"} <= set(r)
    assert any(len(t) >= 2 for t in types_per_file.values()), "JSONL files should mix types"
    with_sv = sum("schema_version" in r for _, r in recs)
    assert 0 < with_sv < len(recs), "schema_version should be sometimes present, sometimes not"
    raw = b"".join((out / n).read_bytes() for n in names)
    assert not raw.startswith(b"\xef\xbb\xbf")
    raw.decode("utf-8")


def test_csv_encoding_details(small_csv):
    out, _, recs, names, _ = small_csv
    assert all(n.endswith(".csv") for n in names)
    assert list(spec.CSV_COLUMNS) == SPEC_CSV_HEADER
    bools, lists, boms = set(), 0, 0
    for name in names:
        raw = (out / name).read_bytes()
        boms += raw.startswith(b"\xef\xbb\xbf")
        rows = list(csv.reader(raw.decode("utf-8-sig").splitlines()))
        header, body = rows[0], rows[1:]
        assert header == SPEC_CSV_HEADER
        assert body, f"{name} is empty"
        rtype = {r[0] for r in body}
        assert len(rtype) == 1 and name.endswith(f"-{rtype.pop()}.csv")
        for row in body:
            assert len(row) == len(header)
            cells = dict(zip(header, row, strict=True))
            for b in BOOL_FIELDS:
                if cells[b]:
                    bools.add(cells[b])
            lists += ";" in cells["fit_question_kinds"] + cells["concerns_raised"]
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
    # interview_ref identifies one interview: one client, one interview_date per ref
    by_ref = defaultdict(set)
    for _, r in recs:
        if r["record_type"] != "erasure":
            by_ref[(r["firm_id"], r["interview_ref"])].add(r["client_ref"])
    assert all(len(c) == 1 for c in by_ref.values())
    assert len(by_ref) == 2000


def test_population_shape(small_jsonl):
    _, _, recs, names, _ = small_jsonl
    debs = [r for _, r in recs if r["record_type"] == "debrief"]
    per_client = defaultdict(set)
    stages = defaultdict(set)
    for r in debs:
        per_client[(r["firm_id"], r["client_ref"])].add(r["interview_ref"])
        stages[(r["firm_id"], r["client_ref"])].add(r["stage"])
    sizes = [len(v) for v in per_client.values()]
    assert sum(sizes) / len(sizes) >= 2.5
    assert sum(len(s) >= 3 for s in stages.values()) >= 0.2 * len(stages)
    assert {r["stage"] for r in debs} == STAGES
    assert {r["seniority"] for r in debs} == SENIORITIES
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


def test_corrected_debriefs(any_format):
    _, _, recs, _, truth = any_format
    by_ref = defaultdict(list)
    for _, r in recs:
        if r["record_type"] == "debrief":
            by_ref[(r["firm_id"], r["interview_ref"])].append(r)
    corrected = [v for v in by_ref.values() if len(v) > 1]
    assert len(corrected) == truth["counts"]["corrected_debriefs"]
    assert 0.01 * 2000 <= len(corrected) <= 0.04 * 2000
    ignore = {"record_id", "submitted_at", "schema_version"}
    for versions in corrected:
        assert len(versions) == 2
        a, b = sorted(versions, key=lambda r: r["submitted_at"])
        assert a["record_id"] != b["record_id"] and a["submitted_at"] < b["submitted_at"]
        changed = {k for k in set(a) | set(b) if k not in ignore and a.get(k) != b.get(k)}
        assert changed, "a correction must change something"


def test_outcomes_arrive_later_supersede_and_are_sometimes_pending(any_format):
    _, _, recs, names, truth = any_format
    rank = {n: i for i, n in enumerate(names)}
    first_deb, first_out = {}, {}
    debs, outs = defaultdict(list), defaultdict(list)
    for pos, (name, r) in enumerate(recs):
        if r["record_type"] == "erasure":
            continue
        key = (r["firm_id"], r["interview_ref"])
        if r["record_type"] == "debrief":
            debs[key].append(r)
            first_deb.setdefault(key, (rank[name], pos))
        else:
            outs[key].append(r)
            first_out.setdefault(key, (rank[name], pos))
    assert set(outs) <= set(debs), "every outcome belongs to a known interview"
    for key, os_ in outs.items():
        first_sub = min(_parse_ts(d["submitted_at"]) for d in debs[key])
        for o in os_:
            lag = _parse_ts(o["decided_at"]) - first_sub
            assert lag.total_seconds() > 3600, "decisions come after the debrief"
    lags = sorted(
        (_parse_ts(max(o["decided_at"] for o in os_)) - _parse_ts(debs[k][0]["submitted_at"])).days
        for k, os_ in outs.items()
    )
    assert 5 <= lags[len(lags) // 2] <= 40, "median decision lag should be days to weeks"
    pending = set(debs) - set(outs)
    assert len(pending) == truth["counts"]["pending"]
    assert 0.02 * len(debs) <= len(pending) <= 0.3 * len(debs)
    earlier_file = sum(first_out[k][0] < first_deb[k][0] for k in outs)
    assert earlier_file >= 1
    assert earlier_file == truth["counts"]["outcome_in_earlier_file"]
    multi = {k: sorted(v, key=lambda o: o["decided_at"]) for k, v in outs.items() if len(v) > 1}
    assert len(multi) == truth["counts"]["superseded_outcomes"] > 0
    for seq in multi.values():
        assert all(o["outcome"] == "next_round" for o in seq[:-1])
        assert all(not o["referral"] for o in seq[:-1])
    nr_offer = sum(seq[-1]["outcome"] == "offer" for seq in multi.values())
    assert nr_offer == truth["counts"]["next_round_then_offer"] > 0
    assert any(seq[-1]["outcome"] == "rejected" for seq in multi.values())
    finals = Counter(max(v, key=lambda o: o["decided_at"])["outcome"] for v in outs.values())
    assert set(finals) == OUTCOMES


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
    assert 1 <= len(erasure_pos) <= 12 * 3
    assert truth["erasures"]["count"] == len(erasure_pos) == truth["counts"]["erased_clients"]
    listed = {(e["firm_id"], e["client_ref"]) for e in truth["erasures"]["client_refs"]}
    assert listed == set(erasure_pos)
    for key, pos in erasure_pos.items():
        assert key in last_pos and last_pos[key] < pos, "erased clients have earlier records"


# ---------------------------------------------------------------------------------------------
# truth.json
# ---------------------------------------------------------------------------------------------
def test_truth_structure_and_consistency(small_jsonl):
    out, _, recs, _, truth = small_jsonl
    assert not list(out.glob("truth*.jsonl")) and not list(out.glob("truth*.csv"))
    assert truth["confounders"] == ["stage", "seniority", "industry", "experience_band"]
    for key in ("definitions", "model", "tactics", "timing", "rapport", "referral",
                "self_rating", "base_rates", "counts", "erasures"):  # fmt: skip
        assert key in truth
    tac = truth["tactics"]
    assert set(tac) == {
        "asked_fit_question",
        "asked_about_concerns",
        "asked_about_ideal_candidate",
        "asked_how_compare",
        "addressed_concerns",
    }
    assert tac["asked_how_compare"]["ate_rd"] == 0.0 and tac["asked_how_compare"]["true_null"]
    assert truth["model"]["kind_effects"]["comparison"] == 0.0
    for t in ("asked_fit_question", "asked_about_concerns", "asked_about_ideal_candidate"):
        assert 0.02 < tac[t]["ate_rd"] < 0.2 and not tac[t]["true_null"]
    assert tac["addressed_concerns"]["ate_rd"] == pytest.approx(truth["model"]["addressed_effect"])
    assert truth["self_rating"]["effect_rd"] == 0.0
    assert truth["model"]["clip_active_share"] <= 0.01

    # The crude numbers in truth.json are exactly what an analyst computes from the files.
    rows = analysis_rows(recs)
    assert len(rows) == truth["counts"]["population"] == tac["asked_fit_question"]["n"]
    treat = {
        "asked_fit_question": lambda r: r["asked_fit_question"],
        "asked_about_concerns": lambda r: "concerns" in r["fit_question_kinds"],
        "asked_about_ideal_candidate": lambda r: "ideal_candidate" in r["fit_question_kinds"],
        "asked_how_compare": lambda r: "comparison" in r["fit_question_kinds"],
    }
    for name, fn in treat.items():
        assert crude_rd(rows, fn) == pytest.approx(tac[name]["crude_rd"], abs=2e-6)
        assert sum(map(fn, rows)) == tac[name]["n_treated"]
    raised = [r for r in rows if r["concerns_raised"]]
    assert len(raised) == tac["addressed_concerns"]["n"]
    assert crude_rd(raised, lambda r: r["concerns_addressed"]) == pytest.approx(
        tac["addressed_concerns"]["crude_rd"], abs=2e-6
    )
    offer_rate = sum(r["offer"] for r in rows) / len(rows)
    assert offer_rate == pytest.approx(truth["base_rates"]["offer_rate"], abs=2e-6)
    non_offer = [r for r in rows if not r["offer"]]
    ref = truth["referral"]
    t = [r["referral"] for r in non_offer if "concerns" in r["fit_question_kinds"]]
    c = [r["referral"] for r in non_offer if "concerns" not in r["fit_question_kinds"]]
    assert sum(t) / len(t) - sum(c) / len(c) == pytest.approx(ref["crude_rd"], abs=2e-6)
    assert ref["tactic"] == "asked_about_concerns" and ref["effect_rd"] > 0.03


def test_truth_timing_and_rapport_curves(big):
    truth = big[1]
    curve = truth["timing"]["multiplier_by_pct"]
    assert len(curve) == 101
    assert 70 <= max(range(101), key=curve.__getitem__) <= 80
    assert max(curve[:40]) < 0.3 * max(curve)
    bins = {(b["lo"], b["hi"]): b for b in truth["timing"]["bins"]}
    assert bins[(70, 80)]["effect_rd"] > 3 * bins[(0, 39)]["effect_rd"]
    assert bins[(70, 80)]["effect_rd"] == max(b["effect_rd"] for b in bins.values())
    levels = [lv["effect_rd"] for lv in truth["rapport"]["levels"]]
    assert levels == sorted(levels) and levels[-1] > 2 * levels[0]


# ---------------------------------------------------------------------------------------------
# Planted effects are recoverable (and confounded)
# ---------------------------------------------------------------------------------------------
def test_confounding_biases_crude_and_stratification_recovers_truth(big):
    rows, truth = big
    tac = truth["tactics"]["asked_fit_question"]
    asked = lambda r: r["asked_fit_question"]  # noqa: E731
    crude = crude_rd(rows, asked)
    mh = mh_rd(rows, asked)
    assert crude == pytest.approx(tac["crude_rd"], abs=2e-6)
    assert crude - tac["ate_rd"] > 0.025, "the crude comparison should be visibly biased"
    assert abs(mh - tac["ate_rd"]) < 0.015
    assert abs(mh - tac["ate_rd"]) < 0.5 * abs(crude - tac["ate_rd"])


def test_true_null_and_self_rating_vanish_after_stratification(big):
    rows, truth = big
    compare = lambda r: "comparison" in r["fit_question_kinds"]  # noqa: E731
    assert truth["tactics"]["asked_how_compare"]["crude_rd"] > 0.015  # spurious crude effect
    assert abs(mh_rd(rows, compare)) < 0.015
    high_self = lambda r: r["self_rating"] >= 4  # noqa: E731
    assert crude_rd(rows, high_self) > 0.015  # self-rating looks predictive, crudely
    assert abs(mh_rd(rows, high_self)) < 0.015
    concerns = lambda r: "concerns" in r["fit_question_kinds"]  # noqa: E731
    assert abs(mh_rd(rows, concerns) - truth["tactics"]["asked_about_concerns"]["ate_rd"]) < 0.015
    raised = [r for r in rows if r["concerns_raised"]]
    addressed = lambda r: r["concerns_addressed"]  # noqa: E731
    assert abs(mh_rd(raised, addressed) - truth["tactics"]["addressed_concerns"]["ate_rd"]) < 0.02


def test_referral_effect_among_non_offers(big):
    rows, truth = big
    non_offer = [r for r in rows if not r["offer"]]
    concerns = lambda r: "concerns" in r["fit_question_kinds"]  # noqa: E731
    est = mh_rd(non_offer, concerns, outcome=lambda r: r["referral"])
    assert abs(est - truth["referral"]["effect_rd"]) < 0.015
