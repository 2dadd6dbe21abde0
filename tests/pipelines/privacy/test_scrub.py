"""PII scrubbing of debrief notes: unit cases per PII type, negatives, and the labelled corpus.

Corpus format (tests/pipelines/privacy/data/pii_corpus.jsonl), one note per line:
    {"split": "dev|heldout|negative|contact|blind|final", "text": ..., "spans": [
        {"start": 6, "end": 9, "type": "NAME"}, ...]}
``start``/``end`` are Python string offsets into ``text``; honorifics ("Dr.") are not part of a
NAME span. See docs/pii-scrubbing.md for what each split is and the measured numbers.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import polars as pl
import pytest

from pipelines.privacy.scrub import (
    _EMAIL,
    _PHONE,
    _URL,
    PLACEHOLDERS,
    _alt,
    _needing,
    _pass,
    _scrub_expr,
    _steps,
    scrub_text,
    scrub_texts,
    scrubbed_notes,
)
from pipelines.privacy.scrub_eval import corpus_metrics

CORPUS = Path(__file__).parent / "data" / "pii_corpus.jsonl"
# Outputs of the scrubber before #16 (every pass over every row) on the corpus, 2,000 generated
# notes (400 of them non-ASCII), the generated labels and file names, and tricky texts.
EXPECTED = Path(__file__).parent / "data" / "scrub_expected.jsonl"


@pytest.fixture(scope="module")
def corpus() -> list[dict]:
    return [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line]


@pytest.fixture(scope="module")
def corpus_out(corpus) -> list[str]:
    lf = pl.LazyFrame({"notes": [row["text"] for row in corpus]})
    return scrubbed_notes(lf).collect()["notes"].to_list()


@pytest.fixture(scope="module")
def metrics(corpus, corpus_out) -> dict:
    return corpus_metrics(corpus, corpus_out)


# --------------------------------------------------------------------------- contact data


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Asked Tom (tom@acme.io) if he had concerns", "Asked [NAME] ([EMAIL]) if he had concerns"),
        ("cc jennifer.lee+recruiting@talent.bigcorp.com", "cc [EMAIL]"),
        ("HR: hr-team@sub.domain.co.uk.", "HR: [EMAIL]."),
        ("JOHN.DOE@EXAMPLE.COM in caps", "[EMAIL] in caps"),
        ("<pat_kim-1@mail.example.kr>", "<[EMAIL]>"),
        ("o'brien.k@firm.ie", "[EMAIL]"),
    ],
)
def test_email(text, expected):
    assert scrub_text(text) == expected


@pytest.mark.parametrize(
    "phone",
    [
        "+1 (415) 555-0132",
        "415-555-0132",
        "415.555.0132",
        "(415) 555-0132",
        "+44 20 7946 0958",
        "07700 900123",
        "+49 30 901820",
        "(020) 7946 0958",
        "+49 (0)30 9018 2000",
        "+91-98450-12345",
        "+33 1 42 68 53 00",
        "1-800-555-0199",
        "+447700900456",
        "4155550132",
        "+81 3-1234-5678",
        "+55 11 91234-5678",
    ],
)
def test_phone(phone):
    assert scrub_text(f"Call me on {phone} today.") == "Call me on [PHONE] today."


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://jobs.acme.com/r/123", "[URL]"),
        ("http://acme.com/careers?id=42&src=li.", "[URL]."),
        ("www.acme.com/jobs", "[URL]"),
        ("linkedin.com/in/jane-doe", "[URL]"),
        ("github.com/afgomez,", "[URL],"),
        ("bit.ly/3xYzAbc", "[URL]"),
        ("(see https://acme.com)", "(see [URL])"),
        ("janedoe.design", "[URL]"),
    ],
)
def test_url(url, expected):
    assert scrub_text(f"Link {url}") == f"Link {expected}"


@pytest.mark.parametrize(
    "text",
    [
        "Founded in 2026, growing 20% a year.",
        "Salary $120,000-$140,000, or 120k-150k with 15% bonus and a $10,000 signing bonus.",
        "Interview on 2026-03-02, decision by 03/15 or 12/03/2025.",
        "Duration 45 min, rated 4/5, asked at 60%; 3-5 years of experience.",
        "Meeting at 10:30 am; 1:1 at 3:15 pm; panel 9:00-12:00.",
        "Meeting ID 845 2231 9907, passcode 4471.",
        "Version 2.3.1 is deprecated; v3 ships in 2027. Scored 87% on the take-home.",
        "Job code ENG-2026-0415, requisition 77341, interview #3, room 4.12.",
        "Equity 0.05% over 4 years; 401k match 4%; 25 days PTO; 2020-2021 gap.",
        "Node.js and e.g. i.e. well.It works; notes.md and setup.py in the repo.",
    ],
)
def test_numbers_and_dots_survive(text):
    assert scrub_text(text) == text


# --------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Call Sarah Connor back", "Call [NAME] back"),
        ("Recruiter Priya Raman said hi", "Recruiter [NAME] said hi"),
        ("Dr. Anika Sharma ran the case", "Dr. [NAME] ran the case"),
        ("Ms. Kowalski ran the round", "Ms. [NAME] ran the round"),
        ("Talked to Siobhan O'Neill today", "Talked to [NAME] today"),
        ("Zhang Wei leads the Shanghai team", "[NAME] leads the Shanghai team"),
        ("Nguyen Van An is the manager", "[NAME] is the manager"),
        ("Andrés Felipe Gómez asked for my GitHub", "[NAME] asked for my GitHub"),
        ("Spoke to Faisal bin Khalid about Riyadh", "Spoke to [NAME] about Riyadh"),
        ("Maria de la Cruz joined", "[NAME] joined"),
        ("Ji-woo Park said the team is growing", "[NAME] said the team is growing"),
        ("Harriet Okafor-Bright, the CFO", "[NAME], the CFO"),
        ("Priya's team uses Go", "[NAME]'s team uses Go"),
        ("Panel: Wei Zhang, Lars Eriksson and Kavinda", "Panel: [NAME], [NAME] and [NAME]"),
        # not in the lexicon: found from the context
        ("Asked Xochitl about the team", "Asked [NAME] about the team"),
        ("The hiring manager, Kalani, asked why", "The hiring manager, [NAME], asked why"),
        ("Okonkwo said the salary is fixed", "[NAME] said the salary is fixed"),
        ("Contact Bo ([EMAIL]) tomorrow", "Contact [NAME] ([EMAIL]) tomorrow"),
        # lower-case names after a person word
        ("asked tom about the team size", "asked [NAME] about the team size"),
        ("met with priya and rahul", "met with [NAME] and [NAME]"),
        ("talked to sarah connor from recruiting", "talked to [NAME] from recruiting"),
        # given names that are also words, with a surname or a person context
        ("Grace Hopper asked about COBOL", "[NAME] asked about COBOL"),
        ("Asked Mark if I could meet the team", "Asked [NAME] if I could meet the team"),
        ("Victoria Adams runs HR", "[NAME] runs HR"),
    ],
)
def test_names(text, expected):
    assert scrub_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "I think the interviewer liked my answer. I asked about concerns.",
        "Will follow up next Monday. May ask about equity. Mark this as strong.",
        "Hope to hear back by Friday. Grace period is a week. Bill rate is $95/hour.",
        "Interviews in January, March, May, June, August and December; Jan 5 start.",
        "Offer from Morgan Stanley, Wells Fargo, Goldman Sachs, Chase Bank and Ford.",
        "Interview at the Austin office, then a call with the Paris and Dallas teams.",
        "They use Ruby, Python, Go, Julia and Rust; Kafka and Airflow for pipelines.",
        "Senior Data Engineer, fintech, VP of Engineering, Head of Product.",
        "The office is at 500 Howard St, near Victoria Station.",
        "Georgia Tech alumni on the panel; one from Stanford.",
        "Interview was in English, the follow-up call in Spanish.",
        "Summer internship starts in June; Autumn cohort in September.",
        "Rating: 5 out of 10. Long interview, 4 hours. Little time for questions.",
    ],
)
def test_non_names_survive(text):
    assert scrub_text(text) == text


def test_nulls_and_other_columns():
    lf = pl.LazyFrame(
        {"id": [1, 2, 3], "notes": ["Asked Tom at tom@acme.io", None, ""], "x": ["Tom", "a", "b"]}
    )
    out = scrubbed_notes(lf)
    assert isinstance(out, pl.LazyFrame)
    df = out.collect()
    assert df["notes"].to_list() == ["Asked [NAME] at [EMAIL]", None, ""]
    assert df["x"].to_list() == ["Tom", "a", "b"]
    assert scrub_text(None) is None
    assert scrub_text("") == ""


def test_many_strings_at_once_match_one_at_a_time_cached_or_not():
    texts = ["Asked Tom at tom@acme.io", None, "Finance", "Asked Tom at tom@acme.io", "", "Ann B"]
    frame = pl.LazyFrame({"notes": texts}, schema={"notes": pl.String})
    expected = scrubbed_notes(frame).collect()["notes"].to_list()
    assert scrub_texts(texts) == expected  # first time: one query for the new strings
    assert scrub_texts(texts) == expected  # now from the cache
    assert [scrub_text(t) for t in texts] == expected
    assert scrub_texts([]) == []


def test_other_column_name():
    lf = pl.LazyFrame({"free_text": ["Email priya@x.io or call 415-555-0132"]})
    out = scrubbed_notes(lf, column="free_text").collect()
    assert out["free_text"].to_list() == ["Email [EMAIL] or call [PHONE]"]


def test_sentinel_characters_in_input_are_harmless():
    # the private-use characters the scrubber uses internally must not leak or confuse it
    text = "Asked \ue002Tom\ue000 and \ue004Priya\ue001 \ue105 about it"
    assert scrub_text(text) == "Asked [NAME] and [NAME]  about it"


def test_idempotent(corpus, corpus_out):
    again = scrubbed_notes(pl.LazyFrame({"notes": corpus_out})).collect()["notes"].to_list()
    assert again == corpus_out


def test_regex_budget():
    # Polars caches 32 compiled regexes per thread; the big lexicon regexes must stay cached.
    steps = _steps()
    distinct = {s.old for s in steps if s.kind == "regex"} | {
        s.needs for s in steps if isinstance(s.needs, str)
    }
    assert len(distinct) <= 28


@pytest.fixture(scope="module")
def expected() -> list[dict]:
    return [json.loads(line) for line in EXPECTED.read_text(encoding="utf-8").splitlines()]


def test_scrubbed_notes_equal_the_previous_scrubber(expected):
    texts = [row["text"] for row in expected]
    # with nulls and repeats, which are scrubbed once per distinct text
    lf = pl.LazyFrame({"notes": [None, *texts, *texts[:50], None]}, schema={"notes": pl.String})
    out = scrubbed_notes(lf).collect()["notes"].to_list()
    want = [row["scrubbed"] for row in expected]
    assert out == [None, *want, *want[:50], None]


def test_scrub_texts_equal_the_previous_scrubber(expected):
    texts = [row["text"] for row in expected[::7]]
    assert scrub_texts(texts) == [row["scrubbed"] for row in expected[::7]]


def test_scrubbed_notes_equal_every_pass_over_every_text(expected, corpus):
    texts = [row["text"] for row in expected] + [row["text"] for row in corpus]
    lf = pl.LazyFrame({"notes": texts})
    plain = lf.select(_scrub_expr(pl.col("notes"))).collect()["notes"].to_list()
    assert scrubbed_notes(lf).collect()["notes"].to_list() == plain


def test_passes_only_change_texts_holding_what_they_need(expected):
    # The skipped texts are exactly those a pass cannot change: check it pass by pass.
    texts = pl.Series([row["text"] for row in expected])
    for step in _steps():
        after = _pass(texts, step)
        hits = _needing(texts, step.needs)
        if hits is not None:
            assert ((after == texts) | hits).all(), step.old[:80]
        texts = after


def test_alternation_is_longest_first_then_alphabetical():
    words = ["a.b", "Ann", "Anna", "x|y", "Zo\\e", "(o)", "Ann", "ab", "é-è", " sp ", "$"]
    legacy = sorted(set(words), key=lambda w: (-len(w), w))
    assert _alt(words) == "(?:" + "|".join(re.escape(w) for w in legacy) + ")"
    assert re.fullmatch(_alt(words), "x|y") and not re.fullmatch(_alt(words), "x")


# --------------------------------------------------------------------------- corpus


def test_corpus_shape(corpus):
    assert len(corpus) >= 150
    kinds = {span["type"] for row in corpus for span in row["spans"]}
    assert kinds == {"EMAIL", "PHONE", "URL", "NAME"}
    for row in corpus:
        for span in row["spans"]:
            piece = row["text"][span["start"] : span["end"]]
            assert piece and piece == piece.strip(), (row["text"], span)


# Measured values are in docs/pii-scrubbing.md; thresholds sit a little below them.
RECALL_FLOOR = {
    "EMAIL": 0.99,
    "PHONE": 0.99,
    "URL": 0.99,
    "NAME": 0.96,  # measured 0.979
    "NAME/dev": 0.97,  # 0.989
    "NAME/heldout": 0.95,  # 0.974
    "NAME/blind": 0.97,  # 1.000 (0.920 when first run, before the SSA names were added)
    "NAME/final": 0.93,  # 0.953, written after the last change and run once
}


@pytest.mark.parametrize("key", sorted(RECALL_FLOOR))
def test_corpus_recall(metrics, key):
    hit, total = metrics["counts"][key]
    assert hit / total >= RECALL_FLOOR[key], (key, hit, total, metrics["misses"])


def test_corpus_typed_placeholders(metrics):
    for kind in ("EMAIL", "PHONE", "URL"):
        assert metrics["placeholder_recall"][kind] >= 0.99, kind
    assert metrics["placeholder_recall"]["NAME"] >= 0.95


def test_corpus_precision(metrics):
    assert metrics["token_precision"] >= 0.99, metrics["false_positive_tokens"]
    changed, total = metrics["clean_notes_changed"]
    assert total >= 80
    assert changed <= 1, metrics["false_positive_tokens"]


_LEAK_CHECKS = [
    re.compile(_EMAIL),
    re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+"),
    re.compile(r"(?i)\b(?:https?://|www\.)"),
    re.compile(r"(?i)\b[a-z0-9-]+\.(?:com|io|org|net|co|dev|me|ly|fyi|design)\b"),
    re.compile(r"\+\d[\d ().-]{6,}\d"),
    re.compile(r"\(?\b\d{3}\)?[ .-]\d{3}[ .-]\d{4}\b"),
    re.compile(r"\b\d{10,}\b"),
]


def test_no_contact_pattern_survives(corpus_out):
    for out in corpus_out:
        for check in _LEAK_CHECKS:
            assert not check.search(out), (check.pattern, out)
    polars_left = (
        pl.Series(corpus_out)
        .str.contains(f"(?:{_EMAIL})|(?:{_URL})|(?:{_PHONE})")
        .fill_null(False)
        .sum()
    )
    assert polars_left == 0


def test_scrub_text_matches_scrubbed_notes(corpus, corpus_out):
    for row, out in zip(corpus[::7], corpus_out[::7], strict=True):
        assert scrub_text(row["text"]) == out


def test_placeholders_only_from_the_set(corpus_out):
    for out in corpus_out:
        for token in re.findall(r"\[[A-Z]+\]", out):
            assert token in PLACEHOLDERS, out
        assert not re.search("[\ue000-\uf8ff]", out), out  # no internal sentinel leaks
