"""The debrief export contract (docs/spec/debrief-export.md) as GX expectations, one per rule.

:func:`build_rules` writes the contract down once, as the expectations of the suite that
pipelines.ingest.validate runs. Every expectation carries a ``meta.rule`` key and a coach-facing
``description`` (Data Docs show that sentence); its :class:`Rule` also says which value of the
record to show after the sentence when it fails. The per-record verdicts come from these same
expectations compiled to Polars (pipelines.ingest.verdicts), which refuses any expectation type,
kwarg or row_condition it cannot evaluate exactly as GX does: a new kind of rule is compiled
there first, with its equivalence test. GX itself is imported only when the rules are built.

How the contract is expressed in GX:

* whole-record rules (record_type, schema_version, record_id, firm_id, client_ref) are plain
  column expectations: ``ExpectColumnValuesToNotBeNull``, ``ExpectColumnValuesToBeInSet``,
  ``ExpectColumnValuesToMatchRegex``, ``ExpectColumnValueLengthsToBeBetween``;
* per-record-type rules (required fields, enums, integer ranges, list members) are conditional
  expectations whose ``row_condition`` is a GX 1.x Condition object,
  ``Column("record_type") == "debrief"`` (GX 1.9+ deprecates string conditions with
  ``condition_parser``);
* each "null iff" rule is two conditional expectations: not-null under one condition (asked /
  concerns raised), null under the other;
* interview_date <= submitted_at's date is a column-pair expectation
  (``ExpectColumnPairValuesAToBeGreaterThanB`` with ``or_equal=True``);
* GX has no list-element expectation, so the pandas view carries list fields as ``;``-joined
  strings (empty list -> null) matched against an enum-only regex. A ``;`` inside an element is
  escaped first so ``["concerns;comparison"]`` cannot pass as two valid members.

Choices where the spec is silent:

* Fields that belong to another record type are present-but-ignored: an outcome that carries a
  ``stage`` is not failed for it (cells of a mixed export are often carried along).
* ``parse_errors`` (values the parser could not convert, now null) are failures too: the spec
  types every field, so a record with an unreadable value is invalid even where the field is
  optional (asked_at_pct "abc" on a record that did not ask would otherwise pass as null).
* Required strings (client_ref, interview_ref, industry, role_family) must not be blank: an empty
  interview_ref would merge unrelated interviews.
* Regexes are anchored with ``\\Z``: pandas matches with ``re.search``, where ``$`` also matches
  before a trailing newline, so ``"north-star\\n"`` would pass ``^[a-z0-9-]{2,64}$`` (the
  compiler translates ``\\Z`` to Rust's ``\\z`` and refuses ``$``).
* submitted_at is UTC after parsing and its original offset is gone, so "interview_date not after
  submitted_at's date" compares with the latest calendar date any time zone (UTC+14) had at that
  instant. A debrief written at 09:00 in Sydney is 23:00 UTC the day before; a plain UTC date
  comparison would reject it.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import polars as pl

from pipelines.core import spec

if TYPE_CHECKING:
    import great_expectations.expectations as gxe

# Derived column of the pandas view: the latest calendar date submitted_at has anywhere on Earth.
SUBMITTED_LATEST_DATE = "submitted_at_latest_local_date"
LATEST_UTC_OFFSET = dt.timedelta(hours=14)
LIST_FIELDS = {"fit_question_kinds": spec.FIT_QUESTION_KINDS, "concerns_raised": spec.CONCERNS}
ENUM_FIELDS = {
    "stage": spec.STAGES,
    "interviewer_role": spec.INTERVIEWER_ROLES,
    "seniority": spec.SENIORITIES,
    "outcome": spec.OUTCOMES,
}
# A value is repeated in a message ("got 'lunch'") only when it cannot be personal data: a short
# word or identifier starting with a letter, or a short number. Anything else (an e-mail or a
# name + phone in the stage column of a misaligned CSV) is replaced by NOT_SHOWN.
SAFE_TO_SHOW = r"^(?:[A-Za-z_][A-Za-z0-9_-]{0,39}|[A-Za-z_ -]{1,32}|-?[0-9.,]{1,8})$"
NOT_SHOWN = "a value not repeated here in case it is personal data"


@dataclass(frozen=True)
class Rule:
    """A GX expectation and how to explain its failure for one record.

    ``message`` is a full sentence; when ``shown`` is set, " (got X)" is appended, X rendered
    from the typed record by that Polars expression.
    """

    key: str
    expectation: gxe.Expectation
    message: str
    shown: pl.Expr | None = None


def _rule(
    key: str, expectation: gxe.Expectation, message: str, shown: pl.Expr | None = None
) -> Rule:
    """A Rule whose expectation names it (meta.rule) and explains itself in Data Docs."""
    expectation.meta = {"rule": key}
    expectation.description = message
    return Rule(key, expectation, message, shown)


def _gxe() -> Any:
    """GX's expectations, imported when the rules are built: importing GX takes seconds, which
    a process that never validates (or validates later, see validate.py) need not wait for."""
    # Before GX is imported: no usage statistics.
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations.expectations as gxe

    return gxe


def _eq(column: str, value: str | bool) -> Any:
    from great_expectations.expectations.row_conditions import (
        Column,
        ComparisonCondition,
        Operator,
    )

    return ComparisonCondition(column=Column(column), operator=Operator.EQUAL, parameter=value)


def _and(*conditions: Any) -> Any:
    from great_expectations.expectations.row_conditions import AndCondition

    return AndCondition(conditions=list(conditions))


def _nullity(column: str, *, is_null: bool) -> Any:
    from great_expectations.expectations.row_conditions import Column, NullityCondition

    return NullityCondition(column=Column(column), is_null=is_null)


def _one_of(values: tuple[str, ...]) -> str:
    return ", ".join(values)


def _a(word: str) -> str:
    return f"an {word}" if word[0] in "aeiou" else f"a {word}"


def _whole_string(pattern: str) -> str:
    """Anchor at the true end: under re.search, '$' also matches before a final newline."""
    return pattern.removesuffix("$") + r"\Z"


def _list_pattern(allowed: tuple[str, ...]) -> str:
    member = "(?:" + "|".join(re.escape(v) for v in allowed) + ")"
    return rf"^{member}(?:;{member})*\Z"


def _quoted(value: pl.Expr) -> pl.Expr:
    """A string value as shown to a coach: quoted, or NOT_SHOWN unless it looks harmless."""
    return (
        pl.when(value.str.contains(SAFE_TO_SHOW))
        .then(pl.lit("'") + value + pl.lit("'"))
        .otherwise(pl.lit(NOT_SHOWN))
    )


def _plain(column: str) -> pl.Expr:
    """A typed (int, bool) value as shown to a coach."""
    return pl.col(column).cast(pl.String).str.to_lowercase()


def _list_items(column: str, allowed: tuple[str, ...] | None = None) -> pl.Expr:
    """The list's elements as shown; only those outside ``allowed`` when given."""
    element = pl.element().fill_null("")
    shown = _quoted(element)
    if allowed is not None:
        shown = shown.filter(~element.is_in(list(allowed)))
    return pl.col(column).list.eval(shown).list.join(", ")


def build_rules() -> list[Rule]:
    """The debrief export v1 contract as GX expectations, in the order messages are listed."""
    gxe = _gxe()
    rules = [
        # Parse errors first: they explain the nulls that later rules may complain about.
        _rule(
            "parse_errors",
            gxe.ExpectColumnValuesToBeNull(column="parse_errors"),
            "Every value must be readable as its type in the export format",
        ),
        *_whole_record_rules(),
    ]
    for record_type in spec.RECORD_TYPES:
        rules += _required_rules(record_type)
        rules += _field_value_rules(record_type)
    rules += _debrief_dependent_rules()
    keys = [r.key for r in rules]
    if len(keys) != len(set(keys)):
        raise AssertionError("rule keys must be unique")
    return rules


def _whole_record_rules() -> list[Rule]:
    """Rules of every record, whatever its type: what it is, which version, whose it is."""
    return [*_record_kind_rules(), *_record_identity_rules()]


def _record_kind_rules() -> list[Rule]:
    gxe = _gxe()
    types = _one_of(spec.RECORD_TYPES)
    return [
        _rule(
            "record_type.required",
            gxe.ExpectColumnValuesToNotBeNull(column="record_type"),
            f"record_type is missing; it must be one of {types}",
        ),
        _rule(
            "record_type.enum",
            gxe.ExpectColumnValuesToBeInSet(
                column="record_type", value_set=list(spec.RECORD_TYPES)
            ),
            f"record_type must be one of {types}",
            _quoted(pl.col("record_type")),
        ),
        _rule(
            "schema_version.supported",
            gxe.ExpectColumnValuesToBeInSet(
                column="schema_version", value_set=[spec.CURRENT_SCHEMA_VERSION]
            ),
            f"schema_version must be {spec.CURRENT_SCHEMA_VERSION} or left out "
            "(no other version of the export is supported)",
            _plain("schema_version"),
        ),
    ]


def _record_identity_rules() -> list[Rule]:
    gxe = _gxe()
    firm_id_rule = "2-64 lowercase letters, digits or hyphens"
    return [
        _rule(
            "record_id.required",
            gxe.ExpectColumnValuesToNotBeNull(column="record_id"),
            "record_id is missing; every record needs the firm's own unique id for it "
            f"(1-{spec.RECORD_ID_MAX_LEN} characters)",
        ),
        _rule(
            "record_id.length",
            gxe.ExpectColumnValueLengthsToBeBetween(
                column="record_id", min_value=1, max_value=spec.RECORD_ID_MAX_LEN
            ),
            f"record_id must be 1-{spec.RECORD_ID_MAX_LEN} characters long",
            pl.col("record_id").str.len_chars().cast(pl.String) + pl.lit(" characters"),
        ),
        _rule(
            "firm_id.required",
            gxe.ExpectColumnValuesToNotBeNull(column="firm_id"),
            f"firm_id is missing; it must be the firm's id: {firm_id_rule}",
        ),
        _rule(
            "firm_id.pattern",
            gxe.ExpectColumnValuesToMatchRegex(
                column="firm_id", regex=_whole_string(spec.FIRM_ID_PATTERN)
            ),
            f"firm_id must be {firm_id_rule} (pattern {spec.FIRM_ID_PATTERN})",
            _quoted(pl.col("firm_id")),
        ),
        _rule(
            "client_ref.required",
            gxe.ExpectColumnValuesToNotBeNull(column="client_ref"),
            "client_ref is missing; every record needs the firm's own id for its client",
        ),
        _rule(
            "client_ref.not_blank",
            gxe.ExpectColumnValuesToMatchRegex(column="client_ref", regex=r"\S"),
            "client_ref is blank; every record needs the firm's own id for its client",
        ),
    ]


def _required_rules(record_type: str) -> list[Rule]:
    """The fields a record of this type must have, and must not leave blank."""
    gxe = _gxe()
    is_type = _eq("record_type", record_type)
    rules: list[Rule] = []
    for field in spec.REQUIRED_BY_TYPE[record_type]:
        hint = f" (one of {_one_of(ENUM_FIELDS[field])})" if field in ENUM_FIELDS else ""
        rules.append(
            _rule(
                f"{record_type}.{field}.required",
                gxe.ExpectColumnValuesToNotBeNull(column=field, row_condition=is_type),
                f"{field} is required for {_a(record_type)} record{hint} "
                "but is missing or could not be read",
            )
        )
        if spec.FIELD_KINDS[field] == "str" and field not in ENUM_FIELDS:
            rules.append(
                _rule(
                    f"{record_type}.{field}.not_blank",
                    gxe.ExpectColumnValuesToMatchRegex(
                        column=field, regex=r"\S", row_condition=is_type
                    ),
                    f"{field} must not be blank for {_a(record_type)} record",
                )
            )
    return rules


def _field_value_rules(record_type: str) -> list[Rule]:
    """The values the fields of this record type may take: enums, ranges, list members."""
    gxe = _gxe()
    is_type = _eq("record_type", record_type)
    rules: list[Rule] = []
    for field in spec.FIELDS_BY_TYPE[record_type]:
        if field in ENUM_FIELDS:
            allowed = ENUM_FIELDS[field]
            rules.append(
                _rule(
                    f"{record_type}.{field}.enum",
                    gxe.ExpectColumnValuesToBeInSet(
                        column=field, value_set=list(allowed), row_condition=is_type
                    ),
                    f"{field} must be one of {_one_of(allowed)}",
                    _quoted(pl.col(field)),
                )
            )
        if field in spec.INT_RANGES:
            low, high = spec.INT_RANGES[field]
            rules.append(
                _rule(
                    f"{record_type}.{field}.range",
                    gxe.ExpectColumnValuesToBeBetween(
                        column=field, min_value=low, max_value=high, row_condition=is_type
                    ),
                    f"{field} must be a whole number from {low} to {high}",
                    _plain(field),
                )
            )
        if field in spec.REVISION_1_1_FIELDS and spec.FIELD_KINDS[field] == "str":
            rules.append(
                _rule(
                    f"{record_type}.{field}.not_blank",
                    gxe.ExpectColumnValuesToMatchRegex(
                        column=field, regex=r"\S", row_condition=is_type
                    ),
                    f"{field} may be left out but not blank",
                )
            )
        if field in LIST_FIELDS:
            allowed = LIST_FIELDS[field]
            rules.append(
                _rule(
                    f"{record_type}.{field}.members",
                    gxe.ExpectColumnValuesToMatchRegex(
                        column=field, regex=_list_pattern(allowed), row_condition=is_type
                    ),
                    f"{field} may only list {_one_of(allowed)}",
                    _list_items(field, allowed),
                )
            )
    return rules


def _debrief_dependent_rules() -> list[Rule]:
    """Debrief fields given exactly when another says so, and the interview before its debrief."""
    gxe = _gxe()
    return [
        *_fit_question_rules(),
        *_concerns_rules(),
        _rule(
            "debrief.interview_date.not_after_submitted_at",
            gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A=SUBMITTED_LATEST_DATE,
                column_B="interview_date",
                or_equal=True,
                ignore_row_if="either_value_is_missing",
                row_condition=_eq("record_type", "debrief"),
            ),
            "interview_date must not be after the day of submitted_at "
            "(a debrief is written after the interview)",
            pl.lit("interview_date ")
            + pl.col("interview_date").dt.strftime("%Y-%m-%d")
            + pl.lit(", submitted_at ")
            + pl.col("submitted_at").dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
        ),
    ]


def _fit_question_rules() -> list[Rule]:
    """The fit-question details are given if and only if the question was asked."""
    gxe = _gxe()
    debrief = _eq("record_type", "debrief")
    asked = _and(debrief, _eq("asked_fit_question", True))
    not_asked = _and(debrief, _eq("asked_fit_question", False))
    rules: list[Rule] = []
    for field in ("asked_at_pct", "rapport_before_ask"):
        low, high = spec.INT_RANGES[field]
        rules += [
            _rule(
                f"debrief.{field}.given_when_asked",
                gxe.ExpectColumnValuesToNotBeNull(column=field, row_condition=asked),
                f"{field} ({low}-{high}) is required when asked_fit_question is true",
            ),
            _rule(
                f"debrief.{field}.empty_when_not_asked",
                gxe.ExpectColumnValuesToBeNull(column=field, row_condition=not_asked),
                f"{field} must be empty when asked_fit_question is false",
                _plain(field),
            ),
        ]
    return [
        *rules,
        _rule(
            "debrief.fit_question_kinds.given_when_asked",
            gxe.ExpectColumnValuesToNotBeNull(column="fit_question_kinds", row_condition=asked),
            "fit_question_kinds must list at least one of "
            f"{_one_of(spec.FIT_QUESTION_KINDS)} when asked_fit_question is true",
        ),
        _rule(
            "debrief.fit_question_kinds.empty_when_not_asked",
            gxe.ExpectColumnValuesToBeNull(column="fit_question_kinds", row_condition=not_asked),
            "fit_question_kinds must be empty when asked_fit_question is false",
            _list_items("fit_question_kinds"),
        ),
    ]


def _concerns_rules() -> list[Rule]:
    """concerns_addressed is given if and only if concerns_raised lists a concern."""
    gxe = _gxe()
    debrief = _eq("record_type", "debrief")
    return [
        _rule(
            "debrief.concerns_addressed.given_when_raised",
            gxe.ExpectColumnValuesToNotBeNull(
                column="concerns_addressed",
                row_condition=_and(debrief, _nullity("concerns_raised", is_null=False)),
            ),
            "concerns_addressed must be true or false when concerns_raised lists a concern",
        ),
        _rule(
            "debrief.concerns_addressed.empty_when_none_raised",
            gxe.ExpectColumnValuesToBeNull(
                column="concerns_addressed",
                row_condition=_and(debrief, _nullity("concerns_raised", is_null=True)),
            ),
            "concerns_addressed must be empty when no concerns were raised",
            _plain("concerns_addressed"),
        ),
    ]
