"""The compiled rules (pipelines.ingest.verdicts) against GX's own verdicts, row for row.

GX runs here with result_format COMPLETE over every row of batches full of faults of every rule,
on the very view RecordValidator hands it; the compiled expressions must fail exactly the same
rows for every rule.
"""

from __future__ import annotations

import datetime as dt
import random
import re
import sys

import polars as pl
import pytest

from pipelines.core import spec
from pipelines.ingest import gx_runtime
from pipelines.ingest import validate as validate_module
from pipelines.ingest.rules import ENUM_FIELDS, LIST_FIELDS
from pipelines.ingest.validate import EXPECTED_COLUMNS, ID_COLUMN, build_rules
from pipelines.ingest.verdicts import (
    PYTHON_SPACE,
    UnsupportedRule,
    compile_expectation,
    compile_rule,
    rust_regex,
)
from pipelines.landing.records import iter_raw_chunks, typed_records
from pipelines.synthetic.generate import generate
from tests.pipelines.ingest.test_validate import CASES, VALID, frame

UTC = dt.UTC
TRICKY_STRINGS = [
    "", " ", "\n", "\t", "\x1c", "\x1f", "\x85", "\u00a0", "\u2028", "\u3000", "\u200b",
    "north-star", "north-star\n", "north-star\r", "\nnorth-star", "North-Star", "n", "x" * 64,
    "x" * 65, "√∂漢字🙂", "ß", "İ", "ｎorth", "a;b", "lunch", "debrief\n", "Debrief", "null",
    "concerns", "concerns;comparison", "concerns\\;comparison", "concerns;", ";concerns",
    "concerns;;comparison", "concerns;ideal_candidate\n", "comparison;comparison",
]  # fmt: skip
TRICKY_INTS = [None, -(2**63), -1, 0, 1, 2, 3, 5, 6, 9, 10, 11, 99, 100, 101, 2**53 + 1, 2**63 - 1]
TRICKY_LISTS = [
    None, [], [None], [""], ["concerns"], ["concerns", "comparison"], ["concerns;comparison"],
    ["concerns", None], ["Concerns"], ["concerns\n"], ["salary"], ["experience_gap"],
    ["experience_gap", "salary"], ["√∂漢字"], ["concerns", "concerns"],
]  # fmt: skip
PARSE_ERRORS = [[], [], [], ["asked_at_pct must be a whole number (got 'abc')"]]


def tricky_value(field: str, rng: random.Random):
    kind = spec.FIELD_KINDS[field]
    if kind == "str":
        pool = [None, *TRICKY_STRINGS, *ENUM_FIELDS.get(field, ()), *spec.RECORD_TYPES]
        return rng.choice(pool)
    if kind == "int":
        return rng.choice(TRICKY_INTS)
    if kind == "bool":
        return rng.choice([None, True, False])
    if kind == "list":
        allowed = list(LIST_FIELDS.get(field, ()))
        return rng.choice([*TRICKY_LISTS, allowed[:1], allowed[-2:]])
    return rng.choice([None, *edge_times(kind)])


def edge_times(kind: str) -> list:
    """Around the hour at which UTC+14 crosses midnight, the submitted-date rule's edge."""
    day = dt.datetime(2026, 3, 2, tzinfo=UTC)
    times = [day + dt.timedelta(hours=h, seconds=s) for h in (-14, 0, 9, 10) for s in (-1, 0)]
    if kind == "timestamp":
        return times
    return [t.date() for t in times] + [dt.date(2026, 3, 3), dt.date(2026, 3, 4)]


def damaged(records: list[dict], seed: int, share: float = 0.7) -> pl.DataFrame:
    """Records with 1-4 fields replaced by tricky values (record_type often kept, so the
    conditional rules are exercised), numbered afresh."""
    rng = random.Random(seed)
    fields = list(spec.FIELD_KINDS)
    out = []
    for record in records:
        record = dict(record)
        if rng.random() < share:
            for _ in range(rng.randint(1, 4)):
                field = rng.choice(fields)
                record[field] = tricky_value(field, rng)
            if rng.random() < 0.3:
                record["submitted_at"], record["interview_date"] = (
                    rng.choice(edge_times("timestamp")),
                    rng.choice(edge_times("date")),
                )
            record["parse_errors"] = rng.choice(PARSE_ERRORS)
        out.append(record)
    return frame(*out)


def generated_records(tmp_path, seed: int) -> list[dict]:
    """Typed records of the project's generator, as the landing parser delivers them."""
    generated = generate(tmp_path / f"gen{seed}", interviews=400, seed=seed, firms=1)
    typed = pl.concat(
        typed_records(raw.lazy()).collect()
        for f in generated["files"]
        for raw in iter_raw_chunks(tmp_path / f"gen{seed}" / f)
    )
    return typed.select(list(EXPECTED_COLUMNS)).drop(ID_COLUMN).to_dicts()


def gx_verdicts(typed: pl.DataFrame) -> dict[str, set[int]]:
    """rule key -> source lines GX lists as unexpected, with COMPLETE over every row."""
    runtime = gx_runtime.runtime(None).result()
    key, result = runtime.run(validate_module._pandas(validate_module._view(typed)), "verdicts")
    try:
        failing = validate_module._failing_lines(result)
    finally:
        runtime.keep(key, result)
    return {r.key: set(failing.get(r.key, [])) for r in runtime.rules}


def compiled_verdicts(typed: pl.DataFrame) -> dict[str, set[int]]:
    rules = build_rules()
    view = validate_module._view(typed)
    fails = view.select(ID_COLUMN, **{r.key: compile_expectation(r.expectation) for r in rules})
    lines = fails[ID_COLUMN]
    return {r.key: set(lines.filter(fails[r.key]).to_list()) for r in rules}


@pytest.fixture(scope="module")
def faulty_batch(tmp_path_factory) -> pl.DataFrame:
    tmp = tmp_path_factory.mktemp("verdicts")
    records = generated_records(tmp, 3) + [case[1] for case in CASES] + VALID * 5
    records = [{k: v for k, v in r.items() if k != ID_COLUMN} for r in records]
    return pl.concat([damaged(records, seed) for seed in range(3)]).with_columns(
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias(ID_COLUMN)
    )


def test_compiled_verdicts_equal_gx_complete_row_for_row(faulty_batch):
    by_gx, compiled = gx_verdicts(faulty_batch), compiled_verdicts(faulty_batch)
    assert compiled.keys() == by_gx.keys()
    for rule in by_gx:
        assert compiled[rule] == by_gx[rule], rule
    # The batch is a real test: every rule both fails and passes somewhere.
    rows = set(faulty_batch[ID_COLUMN].to_list())
    for rule, lines in by_gx.items():
        assert lines and lines != rows, rule
    assert sum(len(v) for v in by_gx.values()) > 2_000


def test_validator_flags_exactly_gx_rows(faulty_batch):
    """RecordValidator's failed_rules (compiled) name the rules GX fails, in suite order."""
    by_gx = gx_verdicts(faulty_batch)
    failed = validate_module.RecordValidator().validate(faulty_batch, "faulty")
    rules = build_rules()
    messages = {r.key: r.message for r in rules}
    unreadable = faulty_batch["parse_errors"].list.len()
    for line, got, n in zip(failed[ID_COLUMN], failed["failed_rules"], unreadable, strict=True):
        expected = [r.key for r in rules if line in by_gx[r.key] and r.key != "parse_errors"]
        plain = got[n:]  # the parser's own messages come first
        assert len(plain) == len(expected)
        for message, key in zip(plain, expected, strict=True):
            assert message.startswith(messages[key]), (line, key, message)


def test_python_space_is_python_re_whitespace_on_every_code_point():
    chars = [chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF]
    series = pl.Series(chars, dtype=pl.String)
    for pattern in (r"\s", r"\S", r"[\s]", r"^[a\s]\Z"):
        want = [re.search(pattern, c) is not None for c in chars]
        got = series.str.contains(rust_regex(pattern)).to_list()
        diff = [hex(ord(c)) for c, w, g in zip(chars, want, got, strict=True) if w != g]
        assert diff == [], pattern
    assert {c for a, b in PYTHON_SPACE for c in range(a, b + 1)} == {
        ord(c) for c in chars if c.isspace()
    }


def suite_regexes() -> list[str]:
    return [
        r.expectation.configuration.kwargs["regex"]
        for r in build_rules()
        if "regex" in r.expectation.configuration.kwargs
    ]


@pytest.mark.parametrize("pattern", sorted(set(suite_regexes())))
def test_every_suite_regex_matches_as_python_re_does(pattern):
    values = TRICKY_STRINGS + [s + t for s in TRICKY_STRINGS for t in ("\n", " ", ";concerns")]
    want = [re.search(pattern, v) is not None for v in values]
    got = pl.Series(values, dtype=pl.String).str.contains(rust_regex(pattern)).to_list()
    assert [v for v, w, g in zip(values, want, got, strict=True) if w != g] == []


@pytest.mark.parametrize(
    "pattern",
    [r"^a$", r"\d", r"\w+", r"\bx", r"(?i)abc", r"(?=a)", r"[[a]", r"[a&&b]", r"\<a", r"a{"],
)
def test_regex_constructs_that_differ_are_refused(pattern):
    with pytest.raises(UnsupportedRule):
        rust_regex(pattern)


def test_an_unknown_expectation_type_is_refused_at_compile():
    import great_expectations.expectations as gxe

    with pytest.raises(UnsupportedRule, match="expect_column_values_to_be_unique"):
        compile_expectation(gxe.ExpectColumnValuesToBeUnique(column="record_id"))
    with pytest.raises(UnsupportedRule, match="mostly"):
        compile_expectation(gxe.ExpectColumnValuesToNotBeNull(column="record_id", mostly=0.9))
    with pytest.raises(UnsupportedRule, match="row_condition"):
        compile_rule(
            "expect_column_values_to_not_be_null",
            {
                "column": "stage",
                "row_condition": {
                    "type": "comparison",
                    "column": {"name": "record_type"},
                    "operator": "!=",
                    "parameter": "debrief",
                },
            },
        )
    with pytest.raises(UnsupportedRule, match="ignore_row_if"):
        compile_rule(
            "expect_column_pair_values_a_to_be_greater_than_b",
            {"column_A": "a", "column_B": "b", "ignore_row_if": "both_values_are_missing"},
        )
