"""What the estimates say, in plain words (pure functions, no Streamlit).

The rows come from ``marts.tactic_estimates`` and ``marts.hypothesis_tests``
(``pipelines.insights.effects``): one per tactic or hypothesis x estimand x method, each a
difference in chance on the 0-1 scale with a 95% interval clustered by client. This module picks the
headline row of each (``within_client`` where it has enough data, else ``adjusted``), turns rows
into sentences that claim no more than their method supports ("in the same client's rounds, asking
about concerns went with getting past the round 8 points more often [+6, +10]" — never "causes" or
"increases"), gives each hypothesis its answer, and ranks the tactics.

A row is a *finding* when it has enough data and survives the Benjamini-Hochberg correction in
its family (``is_finding``; on a filtered view the family is every view one could have picked
the same way, see ``dashboards.shrinkage``). Everything else says what it is: could be chance,
or not enough data.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from pipelines.insights.effects import ALPHA, MIN_CLIENTS, MIN_PER_ARM

HEADLINE_METHODS = ("within_client", "adjusted")  # in order of preference
METHOD_ORDER = ("crude", "adjusted", "within_client")
METHOD_LABELS = {
    "crude": "crude",
    "adjusted": "adjusted",
    "within_client": "same client",
}
# One plain sentence each on what the method compares (the coefficient plot's legend).
METHOD_SENTENCES = {
    "crude": (
        "Crude: every round where the client did it against every round where they did not. "
        "Nothing is held fixed, so stronger candidates, who ask more and advance more anyway, "
        "make it look better than it is."
    ),
    "adjusted": (
        "Adjusted: the same comparison among rounds alike in everything recorded (round, "
        "stage, seniority, industry, experience, firm, role, interviewer, month, the other "
        "questions). What no field records, such as a client's skill, can still bend it."
    ),
    "within_client": (
        "Same client: one client's own rounds with it against their rounds without it, at the "
        "same round and stage, the other questions held fixed. Whatever about a client stays "
        "the same during their search cancels out."
    ),
}
# How each method's sentence begins: what it holds fixed, and nothing more.
METHOD_LEADS = {
    "crude": "Across all rounds, nothing held fixed,",
    "adjusted": "Among rounds alike in everything recorded,",
    "within_client": "In the same client's rounds,",
}

TACTIC_LABELS = {
    "asked_fit_question": "Any of the three fit questions",
    "asked_about_concerns": "Asking about concerns",
    "asked_about_ideal_candidate": "Asking what the ideal candidate looks like",
    "asked_how_compare": "Asking how they compare",
    "addressed_concerns": "Addressing the concerns raised",
}
# The tactic as the subject of a sentence ("..., asking about concerns went with ...").
TACTIC_PHRASES = {
    "asked_fit_question": "asking any of the three fit questions",
    "asked_about_concerns": "asking about concerns",
    "asked_about_ideal_candidate": "asking what the ideal candidate looks like",
    "asked_how_compare": "asking how they compare",
    "addressed_concerns": "addressing the concerns the interviewer raised",
}
UNION = "asked_fit_question"  # shown apart from its three kinds, never ranked against them
TACTIC_NOTES = {
    "asked_fit_question": "Not ranked against its parts: it is any of the three questions.",
    "addressed_concerns": "Only rounds where the interviewer raised a concern.",
}
OUTCOME_PHRASES = {
    "advance": "getting past the round",
    "application_offer": "the application ending in an offer",
    "referral": "a referral to another opening",
}
ESTIMAND_LABELS = {
    "advance": "chance of getting past the round",
    "application_offer": "chance the application ends in an offer",
    "referral": "chance of a referral (rounds that did not advance)",
}


@dataclass(frozen=True)
class Hypothesis:
    question: str  # in the client's words
    phrase: str  # the condition, as the subject of a sentence
    population: str  # which rounds the comparison covers


HYPOTHESES = {
    "ask_late": Hypothesis(
        "Should I wait until late in the interview to ask my fit question?",
        "asking late (65-85% of the way in) rather than at another time",
        "rounds where the client asked a fit question",
    ),
    "rapport_first": Hypothesis(
        "Should I build rapport before I ask?",
        "asking after good rapport (4-5 of 5) rather than with less (1-3)",
        "rounds where the client asked a fit question",
    ),
    "address_objections": Hypothesis(
        "When the interviewer raises a concern, does it help to address it in the room?",
        "addressing the concerns raised",
        "rounds where the interviewer raised a concern",
    ),
    "self_rating_predicts": Hypothesis(
        "If I feel the interview went well, did I get through?",
        "feeling it went well (4-5 of 5) rather than not (1-3)",
        "all rounds",
    ),
    "warm_prospects": Hypothesis(
        "If I don't get through, does asking about concerns still earn me a referral?",
        "asking about concerns",
        "rounds that did not get past",
    ),
}
SUPPORTED = "supported"
NOT_SUPPORTED = "not supported"
NOT_ENOUGH = "not enough data"
FINDING = "finding"
CHANCE = "could be chance"


# ------------------------------------------------------------------------------ numbers
def pct(x: float | None, digits: int = 0) -> str:
    """A proportion as a percentage: 0.314 -> "31%"."""
    if x is None:
        return "–"
    return f"{100 * x:.{digits}f}%"


def pts(x: float | None) -> str:
    """A difference of proportions in percentage points, signed ("+9", "-3", "0")."""
    if x is None:
        return "–"
    v = round(100 * x)
    return f"{v:+d}" if v else "0"


def interval(low: float | None, high: float | None, fmt=pts) -> str:
    """An interval as "[low, high]" ("[+6, +10]", "[27%, 35%]"); "–" when it is missing."""
    if low is None or high is None:
        return "–"
    return f"[{fmt(low)}, {fmt(high)}]"


def q_text(q: float | None) -> str:
    if q is None:
        return "–"
    return "q < 0.001" if q < 0.001 else f"q = {q:.2g}"


def count(n: int | None, noun: str) -> str:
    """ "1 round", "1,780 rounds"."""
    n = n or 0
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


# ------------------------------------------------------------------------------ labels
def label(tactic: str) -> str:
    return TACTIC_LABELS.get(tactic, tactic.replace("_", " ").capitalize())


def phrase(key: str) -> str:
    if key in HYPOTHESES:
        return HYPOTHESES[key].phrase
    return TACTIC_PHRASES.get(key, key.replace("_", " "))


def method_label(method: str) -> str:
    return METHOD_LABELS.get(method, method)


# ------------------------------------------------------------------------------ verdicts
def status(row: dict, alpha: float = ALPHA) -> str:
    """finding / could be chance / not enough data, from a row's own ``is_finding``."""
    if not row.get("enough_data") or row.get("estimate") is None:
        return NOT_ENOUGH
    return FINDING if row.get("is_finding") else CHANCE


def with_status(rows: pl.DataFrame) -> pl.DataFrame:
    """``rows`` with ``status`` (finding / could be chance / not enough data)."""
    return rows.with_columns(
        pl.when(~pl.col("enough_data").fill_null(False) | pl.col("estimate").is_null())
        .then(pl.lit(NOT_ENOUGH))
        .when(pl.col("is_finding"))
        .then(pl.lit(FINDING))
        .otherwise(pl.lit(CHANCE))
        .alias("status")
    )


def answer(row: dict) -> str:
    """A hypothesis's answer from its headline row: supported only as a finding in the
    direction the hypothesis says."""
    verdict = status(row)
    if verdict == NOT_ENOUGH:
        return NOT_ENOUGH
    return SUPPORTED if verdict == FINDING and row["estimate"] > 0 else NOT_SUPPORTED


def _how_often(estimate: float) -> str:
    v = round(100 * estimate)
    if v == 0:
        return "about as often (0 points)"
    points = "point" if abs(v) == 1 else "points"
    return f"{abs(v)} {points} {'more' if v > 0 else 'less'} often"


def claim(row: dict, key: str) -> str:
    """The row's estimate as one sentence that claims no more than its method supports."""
    method, estimand = row["method"], row["estimand"]
    subject = phrase(key)
    outcome = OUTCOME_PHRASES.get(estimand, estimand)
    bracket = interval(row["ci_low"], row["ci_high"])
    if estimand == "application_offer" and method == "crude":
        return (
            f"Applications where {subject} happened in any round ended in an offer "
            f"{_how_often(row['estimate'])} {bracket} than those where it never did (biased "
            "in its favour: longer applications have more rounds to do it in)."
        )
    tail = " (if done in every round vs in none)" if estimand == "application_offer" else ""
    return (
        f"{METHOD_LEADS[method]} {subject} went with {outcome} "
        f"{_how_often(row['estimate'])} {bracket}{tail}."
    )


def not_enough_details(row: dict) -> str:
    """ "12 rounds with, 25 without, 30 clients; the estimate needs ..."."""
    with_, without = row.get("n_treated") or 0, row.get("n_control") or 0
    return (
        f"{with_:,} rounds with, {without:,} without, {count(row.get('n_clients'), 'client')}; "
        f"the estimate needs {MIN_PER_ARM} rounds in each arm and {MIN_CLIENTS} clients"
    )


def not_enough_text(row: dict) -> str:
    return f"not enough data ({not_enough_details(row)})"


def verdict_text(row: dict, comparisons: int) -> str:
    """ "A finding (q = 0.004 after correcting for 30 comparisons)." or "Could be chance ..."."""
    q = f"{q_text(row.get('q_value'))} after correcting for {comparisons:,} comparisons"
    if status(row) == FINDING:
        return f"A finding ({q})."
    return f"Could be chance ({q})."


def pooled_note(row: dict) -> str:
    """On a filtered view whose estimate was shrunk: what the view alone says, e.g. " (pooled
    with the other views; this view alone: +12 [+1, +23])"; "" otherwise."""
    raw = row.get("raw_estimate")
    if raw is None or row.get("estimate") is None or row["estimate"] == raw:
        return ""
    alone = f"{pts(raw)} {interval(row['raw_ci_low'], row['raw_ci_high'])}"
    return f" (pooled with the other views; this view alone: {alone})"


def sentence(row: dict, key: str, comparisons: int) -> str:
    """Claim + verdict, or why there is no estimate."""
    if status(row) == NOT_ENOUGH:
        return f"{label(key) if key in TACTIC_LABELS else phrase(key).capitalize()}: " + (
            f"{not_enough_text(row)}."
        )
    text = claim(row, key)
    note = pooled_note(row)
    if note:
        text = f"{text[:-1]}{note}."
    return f"{text} {verdict_text(row, comparisons)}"


def comparisons(rows: pl.DataFrame) -> int:
    """Comparisons in the rows' family: on a filtered view every estimate of every view of its
    family (``family_tests``), else the rows with a p-value (the confirmatory family)."""
    if rows.is_empty():
        return 0
    if "family_tests" in rows.columns:
        return int(rows.get_column("family_tests").max() or 0)
    return rows.get_column("p_value").drop_nulls().len()


# ------------------------------------------------------------------------------ headline
def headline(rows: pl.DataFrame, id_column: str) -> pl.DataFrame:
    """One row per id and estimand: ``within_client`` where it has enough data, else
    ``adjusted`` (with or without enough data). Adds ``is_headline_fallback``: the adjusted row
    stands in because the same-client comparison lacked data."""
    if rows.is_empty():
        return rows.with_columns(pl.lit(False).alias("is_headline_fallback"))
    candidates = rows.filter(pl.col("method").is_in(HEADLINE_METHODS))
    within_ok = (
        candidates.filter((pl.col("method") == "within_client") & pl.col("enough_data"))
        .select(id_column, "estimand")
        .with_columns(pl.lit(True).alias("_within_ok"))
    )
    return (
        candidates.join(within_ok, on=[id_column, "estimand"], how="left")
        .with_columns(pl.col("_within_ok").fill_null(False))
        .filter(
            pl.when(pl.col("_within_ok"))
            .then(pl.col("method") == "within_client")
            .otherwise(pl.col("method") == "adjusted")
        )
        .with_columns((pl.col("method") == "adjusted").alias("is_headline_fallback"))
        .drop("_within_ok")
    )


def ranked(rows: pl.DataFrame, estimand: str = "advance") -> pl.DataFrame:
    """The headline rows of the tactics (not the union), largest estimate first, those without
    enough data last; with ``rank``, ``label``, ``status`` and ``sentence``."""
    order = {t: i for i, t in enumerate(TACTIC_LABELS)}
    top = headline(rows.filter(pl.col("estimand") == estimand), "tactic").filter(
        pl.col("tactic") != UNION
    )
    return (
        _with_text(top, "tactic", comparisons(rows))
        .sort(
            pl.col("estimate").is_null(),
            pl.col("estimate"),
            pl.col("tactic").replace_strict(order, default=len(order)),
            descending=[False, True, False],
            nulls_last=True,
        )
        .with_row_index("rank", offset=1)
    )


def union_row(rows: pl.DataFrame, estimand: str = "advance") -> pl.DataFrame:
    """The headline row of ``asked_fit_question`` (any kind), with its text."""
    top = headline(rows.filter(pl.col("estimand") == estimand), "tactic").filter(
        pl.col("tactic") == UNION
    )
    return _with_text(top, "tactic", comparisons(rows))


def _with_text(rows: pl.DataFrame, id_column: str, family_size: int) -> pl.DataFrame:
    dicts = rows.to_dicts()
    for row in dicts:
        key = row[id_column]
        row["label"] = label(key) if key in TACTIC_LABELS else key
        row["status"] = status(row)
        row["sentence"] = sentence(row, key, family_size)
    schema = dict(rows.schema) | {"label": pl.String, "status": pl.String, "sentence": pl.String}
    return pl.DataFrame(dicts, schema=schema)


def method_caption(rows: pl.DataFrame) -> str:
    """Which method the headline uses, in words, e.g. "Same client for 3 tactics, adjusted for
    1 (too few clients asked both ways)"."""
    if rows.is_empty():
        return ""
    fallback = rows.filter(pl.col("is_headline_fallback")).get_column("label").to_list()
    within = rows.height - len(fallback)
    parts = []
    if within:
        parts.append(
            f"the same-client comparison for {count(within, 'tactic')}".replace(
                "1 tactic", "one tactic"
            )
        )
    if fallback:
        names = ", ".join(n.lower() for n in fallback)
        parts.append(
            f"the adjusted comparison for {names} (too few clients did it in some rounds and "
            "not in others for a same-client comparison)"
        )
    return "Headline: " + "; ".join(parts) + "."


# ------------------------------------------------------------------------------ hypotheses
@dataclass(frozen=True)
class Card:
    hypothesis: str
    question: str
    answer: str
    sentence: str  # the headline claim, or why there is none
    method: str
    estimate: str  # "+8 points [+2, +15]" or "–"
    population: str  # "1,780 rounds of 237 clients (all rounds)"
    other_methods: str  # "crude +10 [+4, +17] · adjusted +8 [+1, +15]"
    verdict: str  # "A finding (q = ...)." or "Could be chance (...)." or ""


def _estimate_text(row: dict) -> str:
    if status(row) == NOT_ENOUGH:
        return "–"
    value = pts(row["estimate"])
    unit = "point" if value in ("+1", "-1") else "points"
    return f"{value} {unit} {interval(row['ci_low'], row['ci_high'])}"


def card(rows: pl.DataFrame, hypothesis: str) -> Card:
    """The card of one hypothesis from its rows of ``hypothesis_tests`` (segment all, or one
    filtered view's rows)."""
    spec = HYPOTHESES[hypothesis]
    own = rows.filter(pl.col("hypothesis") == hypothesis)
    top = headline(own, "hypothesis")
    if top.is_empty():
        return Card(
            hypothesis,
            spec.question,
            NOT_ENOUGH,
            "No round matches the filters.",
            "–",
            "–",
            f"0 rounds ({spec.population})",
            "",
            "",
        )
    row = top.row(0, named=True)
    n = (row.get("n_treated") or 0) + (row.get("n_control") or 0)
    others = [
        f"{method_label(r['method'])} {_estimate_text(r)}"
        for r in own.sort(
            pl.col("method").replace_strict({m: i for i, m in enumerate(METHOD_ORDER)})
        ).iter_rows(named=True)
        if r["method"] != row["method"]
    ]
    verdict = "" if status(row) == NOT_ENOUGH else verdict_text(row, comparisons(rows))
    return Card(
        hypothesis=hypothesis,
        question=spec.question,
        answer=answer(row),
        sentence=f"{claim(row, hypothesis)[:-1]}{pooled_note(row)}."
        if status(row) != NOT_ENOUGH
        else f"Not enough data: {not_enough_details(row)}.",
        method=method_label(row["method"]),
        estimate=_estimate_text(row),
        population=f"{count(n, 'round')} of {count(row.get('n_clients'), 'client')} "
        f"({spec.population})",
        other_methods=" · ".join(others),
        verdict=verdict,
    )


# ------------------------------------------------------------------------------ benchmark
def benchmark(research: pl.DataFrame, k: int | None) -> pl.DataFrame:
    """The published cross-firm headline rows (advance, segment all) as a firm may see them:
    suppressed rows say so instead of showing numbers."""
    hidden = f"suppressed (fewer than {k} clients)"
    rows = research.filter((pl.col("segment") == "all") & (pl.col("estimand") == "advance"))
    # A suppressed row has no enough_data: treat it as lacking data when picking the headline.
    rows = rows.with_columns(pl.col("enough_data").fill_null(False))
    top = headline(rows, "tactic")
    order = {t: i for i, t in enumerate(TACTIC_LABELS)}
    return (
        top.with_columns(
            pl.col("tactic").replace_strict(TACTIC_LABELS, default=pl.col("tactic")).alias("label"),
            pl.when(pl.col("is_suppressed"))
            .then(pl.lit(hidden))
            .when(~pl.col("enough_data"))
            .then(pl.lit(NOT_ENOUGH))
            .when(pl.col("is_finding"))
            .then(pl.lit(FINDING))
            .otherwise(pl.lit(CHANCE))
            .alias("status"),
        )
        .sort(pl.col("tactic").replace_strict(order, default=len(order)))
        .select(
            "tactic",
            "label",
            "method",
            "status",
            "estimate",
            "ci_low",
            "ci_high",
            "n_treated",
            "n_control",
            "n_clients",
            "q_value",
        )
    )
