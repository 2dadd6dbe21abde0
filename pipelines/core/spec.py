"""The debrief export contract (docs/spec/debrief-export.md, revision 1.1) as data.

One home for field names, enums and literals so that the parser, the validator, the generator and
the tests all agree with the spec and with each other.
"""

from __future__ import annotations

CURRENT_SCHEMA_VERSION = 1

RECORD_TYPES = ("debrief", "outcome", "erasure")

STAGES = ("phone_screen", "recruiter", "hiring_manager", "panel", "final", "other")
INTERVIEWER_ROLES = ("recruiter", "hiring_manager", "peer", "executive", "panel", "other")
SENIORITIES = ("entry", "mid", "senior", "lead", "executive")
FIT_QUESTION_KINDS = ("concerns", "ideal_candidate", "comparison")
CONCERNS = (
    "experience_gap",
    "industry_gap",
    "skills_gap",
    "culture_fit",
    "compensation",
    "location",
    "overqualified",
    "employment_gap",
    "other",
)
OUTCOMES = ("offer", "next_round", "rejected", "withdrawn", "no_response")

FIRM_ID_PATTERN = r"^[a-z0-9-]{2,64}$"
RECORD_ID_MAX_LEN = 128

# Column order of the CSV flavour; also the full set of fields a record may carry.
CSV_COLUMNS = (
    "record_type",
    "schema_version",
    "record_id",
    "firm_id",
    "client_ref",
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
    "decided_at",
    "outcome",
    "referral",
    "requested_at",
    "application_ref",
    "round",
)

COMMON_FIELDS = ("record_type", "schema_version", "record_id", "firm_id", "client_ref")
DEBRIEF_FIELDS = (
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
)
OUTCOME_FIELDS = ("interview_ref", "application_ref", "decided_at", "outcome", "referral")
# Optional fields added by revision 1.1 of the contract; a record without them means what it
# meant under 1.0 (the interview is an application of its own, its round unknown).
REVISION_1_1_FIELDS = ("application_ref", "round")
ERASURE_FIELDS = ("requested_at",)

FIELDS_BY_TYPE = {
    "debrief": DEBRIEF_FIELDS,
    "outcome": OUTCOME_FIELDS,
    "erasure": ERASURE_FIELDS,
}

# Fields that must be present (non-null) for a record of each type. Nullable-by-design fields
# (asked_at_pct, rapport_before_ask, concerns_addressed, notes, list fields) are checked by the
# cross-field rules instead.
REQUIRED_BY_TYPE = {
    "debrief": (
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
        "self_rating",
    ),
    "outcome": ("interview_ref", "decided_at", "outcome", "referral"),
    "erasure": ("requested_at",),
}

# Typed columns after parsing (kind names, mapped to Polars dtypes in pipelines.landing.records).
FIELD_KINDS = {
    "record_type": "str",
    "schema_version": "int",
    "record_id": "str",
    "firm_id": "str",
    "client_ref": "str",
    "interview_ref": "str",
    "application_ref": "str",
    "round": "int",
    "submitted_at": "timestamp",
    "interview_date": "date",
    "stage": "str",
    "interviewer_role": "str",
    "industry": "str",
    "role_family": "str",
    "seniority": "str",
    "experience_years": "int",
    "duration_min": "int",
    "asked_fit_question": "bool",
    "fit_question_kinds": "list",
    "asked_at_pct": "int",
    "rapport_before_ask": "int",
    "concerns_raised": "list",
    "concerns_addressed": "bool",
    "self_rating": "int",
    "notes": "str",
    "decided_at": "timestamp",
    "outcome": "str",
    "referral": "bool",
    "requested_at": "timestamp",
}

TRUE_LITERALS = ("true", "yes", "1")
FALSE_LITERALS = ("false", "no", "0")
LIST_SEPARATOR = ";"

# Integer ranges (inclusive) from the spec.
INT_RANGES = {
    "experience_years": (0, 60),
    "duration_min": (5, 600),
    "asked_at_pct": (0, 100),
    "rapport_before_ask": (1, 5),
    "self_rating": (1, 5),
    "round": (1, 20),
}

# experience_years is a quasi-identifier: it is stored only as one of these bands.
EXPERIENCE_BANDS = (
    (0, 2, "0-2"),
    (3, 5, "3-5"),
    (6, 10, "6-10"),
    (11, 20, "11-20"),
    (21, 60, "21+"),
)

# The spec's own JSON Lines example, record for record: the canonical valid records.
EXAMPLE_DEBRIEF = {
    "record_type": "debrief",
    "record_id": "d-1",
    "firm_id": "north-star",
    "client_ref": "jane.doe@example.com",
    "interview_ref": "int-77",
    "submitted_at": "2026-03-02T18:04:00Z",
    "interview_date": "2026-03-02",
    "stage": "hiring_manager",
    "interviewer_role": "hiring_manager",
    "industry": "software",
    "role_family": "engineering",
    "seniority": "senior",
    "experience_years": 9,
    "duration_min": 60,
    "asked_fit_question": True,
    "fit_question_kinds": ["concerns", "ideal_candidate"],
    "asked_at_pct": 75,
    "rapport_before_ask": 4,
    "concerns_raised": ["industry_gap"],
    "concerns_addressed": True,
    "self_rating": 3,
    "notes": "Asked Tom (tom@acme.io) if he had concerns; he said fintech experience.",
}
EXAMPLE_OUTCOME = {
    "record_type": "outcome",
    "record_id": "o-1",
    "firm_id": "north-star",
    "client_ref": "jane.doe@example.com",
    "interview_ref": "int-77",
    "decided_at": "2026-03-20T09:00:00Z",
    "outcome": "offer",
    "referral": False,
}
EXAMPLE_ERASURE = {
    "record_type": "erasure",
    "record_id": "e-1",
    "firm_id": "north-star",
    "client_ref": "jane.doe@example.com",
    "requested_at": "2026-09-01T00:00:00Z",
}
