"""The row-level research release (``microdata.interviews`` in ``research.duckdb``): one row per
analysable round, k-anonymous by distinct clients, under client keys that are new in every
snapshot.

What a row holds: the round's tactic variables and outcome as the estimates use them
(``pipelines.insights.rounds``), and seven quasi-identifiers, generalised. Nothing else: no notes,
no firm-given ref or pseudonym derived from one, no firm id, no exact date.

**Quasi-identifiers** (what someone who knows a client could know about an interview) and their
generalisation hierarchies, level 0 first:

==================  ===========================================================================
round               1, 2, 3, 4+  ->  1, 2+  ->  all
stage               the contract's six  ->  early, late, other  ->  all
seniority           the contract's five  ->  entry-mid, senior+  ->  all
experience_band     0-2, 3-5, 6-10, 11-20, 21+  ->  0-5, 6-10, 11+  ->  all
industry_group      as the estimates group them  ->  the eight standard groups, rest other  ->  all
interview_period    quarter (2025-Q3)  ->  year  ->  all
firm_size           small, medium, large (the firm's distinct clients)  ->  all
==================  ===========================================================================

**Algorithm**: full-domain global recoding along one fixed path (``STEPS``, cheapest loss for
the estimates first), then local suppression. Starting from level 0, take the first step at
which the rows in classes (rows sharing every quasi-identifier) of fewer than k distinct clients
are at most ``MAX_SUPPRESSED_SHARE`` of the rounds; drop those rows. Merging classes never
shrinks one, so the count only falls along the path, and at its end (everything ``all``) no row
is left out unless the whole release has fewer than k clients. The dropped rows, as a whole, are
what the aggregates hold and the release does not; when they come from 1 to k-1 clients, whole
classes (smallest first) are dropped with them until they come from at least k, the k-rule of
the aggregates applied to that difference.

**Keys**: ``HMAC-SHA256(secret, firm_id, client_key)``, with a secret drawn fresh for every
publish and never stored. Without the secret, a key says nothing about the warehouse pseudonym,
and two snapshots' keys cannot be linked.

**Memory**: ``release`` never holds every round's row. It reads ``fct`` once for what slices
need from the whole (label counts, every client), then a slice of whole applications at a time
(``pipelines.release.slices``), writing each slice's analysable rounds to Parquet in its work
folder. The recoding and suppression are decided on (client, class) pairs, the classes'
quasi-identifiers in a small table; the released rows are streamed to Parquet and sorted by
DuckDB.

Functions (the secret is an argument so tests can fix it): ``analysable_rows``,
``snapshot_keys``, ``choose_step``, ``publish_tables`` are pure; ``release`` writes into the
folder it is given.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from pipelines.insights.rounds import GROUPED, INDUSTRY_SYNONYMS, OTHER, label_counts, rounds
from pipelines.release.slices import key_ranges, slice_count
from warehouse import tables
from warehouse.publish import ReleasedTable, sql_quoted

ALL = "all"
UNKNOWN = "unknown"
KEY_COLUMN = "snapshot_client_key"
MAX_SUPPRESSED_SHARE = 0.05
CLIENT = ("firm_id", "client_key")
SORT_MEMORY = "512MB"  # DuckDB sorts the released rows in this, spilling to the work folder
LAST_ROUND = 4  # rounds from the 4th on share one value: few applications have that many
# Firms by their number of distinct clients: a class names a kind of firm, never the firm.
FIRM_SIZES = ((1_000, "large"), (100, "medium"), (0, "small"))
STANDARD_INDUSTRIES = tuple(INDUSTRY_SYNONYMS)

_STAGE_L1 = {
    "phone_screen": "early",
    "recruiter": "early",
    "hiring_manager": "late",
    "panel": "late",
    "final": "late",
}
_SENIORITY_L1 = {
    "entry": "entry-mid",
    "mid": "entry-mid",
    "senior": "senior+",
    "lead": "senior+",
    "executive": "senior+",
}
_EXPERIENCE_L1 = {"0-2": "0-5", "3-5": "0-5", "6-10": "6-10", "11-20": "11+", "21+": "11+"}


def _keep_known(mapping: dict[str, str], default: str) -> Callable[[str], pl.Expr]:
    """A recoding by ``mapping``; values it does not name become ``default``."""
    return lambda c: pl.col(c).replace_strict(mapping, default=pl.lit(default))


# Level names, then the recoding of the level-0 value to each level above 0.
HIERARCHIES: dict[str, tuple[tuple[str, ...], tuple]] = {
    "round": (
        ("1, 2, 3, 4+", "1, 2+"),
        (lambda c: pl.when(pl.col(c) == "1").then(pl.col(c)).otherwise(pl.lit("2+")),),
    ),
    "stage": (
        ("stage", "early, late, other"),
        (_keep_known(_STAGE_L1, "other"),),
    ),
    "seniority": (
        ("seniority", "entry-mid, senior+"),
        (_keep_known(_SENIORITY_L1, UNKNOWN),),
    ),
    "experience_band": (
        ("0-2, 3-5, 6-10, 11-20, 21+", "0-5, 6-10, 11+"),
        (_keep_known(_EXPERIENCE_L1, UNKNOWN),),
    ),
    "industry_group": (
        ("industry group", "standard groups, rest other"),
        (
            lambda c: (
                pl.when(pl.col(c).is_in(STANDARD_INDUSTRIES))
                .then(pl.col(c))
                .otherwise(pl.lit(OTHER))
            ),
        ),
    ),
    "interview_period": (
        ("quarter", "year"),
        (lambda c: pl.col(c).str.slice(0, 4),),
    ),
    "firm_size": (("small, medium, large",), ()),
}
QUASI_IDENTIFIERS = tuple(HIERARCHIES)
# The fixed path: (quasi-identifier, level it goes to). Detail the estimates need least goes
# first; round and stage (the within-client comparison's strata) go last.
STEPS = (
    ("interview_period", 1),
    ("firm_size", 1),
    ("industry_group", 1),
    ("experience_band", 1),
    ("seniority", 1),
    ("interview_period", 2),
    ("experience_band", 2),
    ("industry_group", 2),
    ("seniority", 2),
    ("stage", 1),
    ("round", 1),
    ("stage", 2),
    ("round", 2),
)

TACTICS = (
    "asked_fit_question",
    "asked_about_concerns",
    "asked_about_ideal_candidate",
    "asked_how_compare",
    "asked_at_pct",
    "rapport_before_ask",
    "concerns_raised",
    "concerns_addressed",
    "self_rating",
)
OUTCOMES = ("advanced", "got_offer", "got_referral")
SCHEMA = pl.Schema(
    {
        KEY_COLUMN: pl.String,
        **dict.fromkeys(QUASI_IDENTIFIERS, pl.String),
        "asked_fit_question": pl.Boolean,
        "asked_about_concerns": pl.Boolean,
        "asked_about_ideal_candidate": pl.Boolean,
        "asked_how_compare": pl.Boolean,
        "asked_at_pct": pl.Int32,
        "rapport_before_ask": pl.Int32,
        "concerns_raised": pl.List(pl.String),
        "concerns_addressed": pl.Boolean,
        "self_rating": pl.Int32,
        "advanced": pl.Boolean,
        "got_offer": pl.Boolean,
        "got_referral": pl.Boolean,
    }
)
INFO_SCHEMA = pl.Schema(
    {
        "k": pl.Int32,
        "analysable_rounds": pl.Int64,
        "rows_released": pl.Int64,
        "rows_suppressed": pl.Int64,
        "clients_released": pl.Int64,
        "clients_suppressed": pl.Int64,
        "max_suppressed_share": pl.Float64,
        "step": pl.Int32,
        **{f"{qi}_level": pl.String for qi in QUASI_IDENTIFIERS},
        "clients_rare_by_two_rows": pl.Int64,
    }
)


@dataclass(frozen=True)
class Release:
    path: Path  # the released rows (SCHEMA), Parquet
    info: pl.DataFrame  # one row, INFO_SCHEMA

    @property
    def interviews(self) -> pl.LazyFrame:
        return pl.scan_parquet(self.path)


def level_names(qi: str) -> tuple[str, ...]:
    names, _ = HIERARCHIES[qi]
    return (*names, ALL)


def generalised(qi: str, level: int) -> pl.Expr:
    """The quasi-identifier at ``level`` of its hierarchy, from its level-0 column."""
    names, recode = HIERARCHIES[qi]
    if level >= len(names):
        return pl.lit(ALL).alias(qi)
    return (pl.col(qi) if level == 0 else recode[level - 1](qi)).alias(qi)


def levels_at(step: int) -> dict[str, int]:
    """The level of every quasi-identifier after the first ``step`` steps of the path."""
    levels = dict.fromkeys(QUASI_IDENTIFIERS, 0)
    for qi, level in STEPS[:step]:
        levels[qi] = level
    return levels


def _firm_size(clients: pl.LazyFrame) -> pl.LazyFrame:
    """firm_id -> firm_size, from every (firm_id, client_key) of the warehouse."""
    clients_in_firm = pl.col("client_key").n_unique()
    size = pl.lit("small")
    for least, name in reversed(FIRM_SIZES[:-1]):
        size = pl.when(clients_in_firm >= least).then(pl.lit(name)).otherwise(size)
    return clients.group_by("firm_id").agg(size.alias("firm_size"))


@dataclass(frozen=True)
class Whole:
    """What a slice of the interviews needs from all of them: the label counts that group its
    strata (``pipelines.insights.rounds.label_counts``) and every (firm_id, client_key)."""

    counts: dict[str, pl.DataFrame]
    clients: pl.DataFrame

    @classmethod
    def of(cls, fct: pl.LazyFrame) -> Whole:
        """Read a slice of clients at a time: Polars holds one slice's labels, not every row's."""
        parts = []
        for inside in key_ranges("client_key", slice_count(fct)):
            piece = fct.filter(inside).select(*CLIENT, *GROUPED).collect().lazy()
            parts.append(
                pl.collect_all(
                    [
                        *(label_counts(piece, label) for label in GROUPED),
                        piece.select(CLIENT).unique(),
                    ]
                )
            )
        counts = {
            label: pl.concat(part[i] for part in parts)
            .group_by(label)
            .agg(pl.col("interviews").sum())
            for i, label in enumerate(GROUPED)
        }
        return cls(counts, pl.concat(part[-1] for part in parts))


def analysable_rows(fct: pl.LazyFrame, whole: Whole | None = None) -> pl.LazyFrame:
    """Every analysable round of ``fct_interviews`` (``advanced`` known) with its client
    (firm_id, client_key: dropped before release) and the released columns, quasi-identifiers
    at level 0. ``fct`` may be a slice of whole applications, grouped as ``whole`` (default: it
    is the whole)."""
    if whole is None:
        whole = Whole({}, fct.select(CLIENT).unique().collect())
    quarter = pl.format(
        "{}-Q{}", pl.col("interview_date").dt.year(), pl.col("interview_date").dt.quarter()
    )
    number = pl.col("round_number")
    text = {
        "round": pl.when(number >= LAST_ROUND)
        .then(pl.lit(f"{LAST_ROUND}+"))
        .otherwise(number.cast(pl.String)),
        "stage": pl.col("stage"),
        "seniority": pl.col("seniority"),
        "experience_band": pl.col("experience_band"),
        "industry_group": pl.col("industry_group"),
        "interview_period": quarter,
        "firm_size": pl.col("firm_size"),
    }
    counts = {label: frame.lazy() for label, frame in whole.counts.items()}
    return (
        rounds(fct, counts)
        .filter(pl.col("advanced").is_not_null())
        .join(_firm_size(whole.clients.lazy()), on="firm_id", how="left")
        .select(
            *CLIENT,
            "interview_key",  # a stable order within a client; dropped with the identity
            *(e.cast(pl.String).fill_null(UNKNOWN).alias(qi) for qi, e in text.items()),
            *TACTICS,
            "advanced",
            # Known only where the firm reported the round's outcome (not for inferred advances).
            *(
                pl.when(pl.col("is_advance_inferred").not_()).then(pl.col(c)).alias(c)
                for c in ("got_offer", "got_referral")
            ),
        )
    )


def snapshot_keys(clients: pl.DataFrame, secret: bytes) -> pl.DataFrame:
    """(firm_id, client_key) -> ``snapshot_client_key``: "c" and 16 hex digits of HMAC-SHA256
    under ``secret``. The leading letter keeps every key a word no phone pattern matches."""
    if len(secret) < 16:
        raise ValueError("the snapshot secret must have at least 16 random bytes")
    pairs = clients.select(CLIENT).unique()
    keys = [
        "c" + hmac.new(secret, f"{f}\x1f{c}".encode(), hashlib.sha256).hexdigest()[:16]
        for f, c in pairs.iter_rows()
    ]
    out = pairs.with_columns(pl.Series(KEY_COLUMN, keys, dtype=pl.String))
    if out.get_column(KEY_COLUMN).n_unique() != out.height:  # 64 bits: never in practice
        raise ValueError("two clients drew the same snapshot key: publish again")
    return out


# ------------------------------------------------------------------------------------------
# k-anonymity on the classes: every analysable round as (client, class at level 0), the
# classes' quasi-identifiers in a small table. Generalising maps class ids, not rows.
# ------------------------------------------------------------------------------------------
def _classes_at(classes: pl.DataFrame, levels: dict[str, int]) -> pl.DataFrame:
    """class (level 0) -> gclass, the dense rank of its quasi-identifiers at ``levels``."""
    generalised_qis = pl.struct(generalised(qi, lv) for qi, lv in levels.items())
    return classes.select("class", generalised_qis.rank("dense").alias("gclass"))


def _class_sizes(rounds_: pl.DataFrame, classes: pl.DataFrame, levels: dict[str, int]):
    """Per round its gclass; per gclass its distinct clients and rounds."""
    at = rounds_.join(_classes_at(classes, levels), on="class").select("client", "gclass")
    sizes = at.group_by("gclass").agg(
        pl.col("client").n_unique().alias("clients"), pl.len().alias("rows")
    )
    return at, sizes


def choose_step(
    rounds_: pl.DataFrame, classes: pl.DataFrame, k: int, max_share: float = MAX_SUPPRESSED_SHARE
) -> int:
    """The first step of ``STEPS`` at which at most ``max_share`` of the rounds sit in classes
    of fewer than k distinct clients (the last step if none)."""
    budget = max_share * rounds_.height
    for step in range(len(STEPS) + 1):
        _, sizes = _class_sizes(rounds_, classes, levels_at(step))
        if sizes.filter(pl.col("clients") < k).get_column("rows").sum() <= budget:
            return step
    return len(STEPS)


def _suppressed(at: pl.DataFrame, sizes: pl.DataFrame, k: int) -> pl.Series:
    """The gclasses to drop: those of fewer than k clients, then whole smallest classes until
    the dropped rows come from 0 or >= k clients."""
    drop = sizes.filter(pl.col("clients") < k).get_column("gclass")
    dropped_clients = set(
        at.filter(pl.col("gclass").is_in(drop.implode())).get_column("client").to_list()
    )
    if 0 < len(dropped_clients) < k:
        extra = []
        for cls_id in sizes.filter(pl.col("clients") >= k).sort("clients", "rows", "gclass")[
            "gclass"
        ]:
            extra.append(cls_id)
            members = at.filter(pl.col("gclass") == cls_id).get_column("client")
            dropped_clients |= set(members.to_list())
            if len(dropped_clients) >= k:
                break
        drop = pl.concat([drop, pl.Series("gclass", extra, dtype=drop.dtype)])
    return drop


def _rare_by_two_rows(released: pl.DataFrame, k: int) -> int:
    """Clients with two rows whose pair of classes fewer than k clients share: someone who knows
    two of their interviews can tell them apart from all but a few (k-anonymity is per row)."""
    classes = released.lazy().select("client", pl.col("gclass").alias("c")).unique()
    pairs = classes.join(classes, on="client", suffix="_b").filter(pl.col("c") < pl.col("c_b"))
    # (client, c) is unique, so a pair's rows are its distinct clients; streamed, the pairs
    # (about a client's rounds squared) are never held at once.
    rare = (
        pairs.group_by("c", "c_b")
        .agg(pl.len().alias("n"))
        .filter(pl.col("n") < k)
        .collect(engine="streaming")
    )
    with_rare = pairs.join(rare.lazy(), on=["c", "c_b"], how="semi")
    return with_rare.select(pl.col("client").n_unique()).collect(engine="streaming").item()


# ------------------------------------------------------------------------------------------
# The release, a slice of whole applications at a time
# ------------------------------------------------------------------------------------------


def _write_slices(fct: pl.LazyFrame, whole: Whole, keys: pl.DataFrame, work: Path) -> list[Path]:
    """Every slice's analysable rounds, with the client's index in ``keys``, as Parquet."""
    paths = []
    # Slices of whole applications: rounds are numbered within an application.
    for i, inside in enumerate(key_ranges("application_key", slice_count(fct))):
        path = work / f"rounds-{i:03d}.parquet"
        rows = analysable_rows(fct.filter(inside), whole).join(
            keys.lazy().select(*CLIENT, "client"), on=list(CLIENT)
        )
        rows.drop(*CLIENT).collect().write_parquet(path)
        paths.append(path)
    return paths


def release(
    fct: pl.LazyFrame,
    k: int,
    secret: bytes,
    work: Path,
    *,
    max_suppressed_share: float = MAX_SUPPRESSED_SHARE,
) -> Release:
    """The row-level release of ``fct_interviews`` and what was done to make it k-anonymous.

    ``work`` is an empty folder for the slices and the released rows (``Release.path``).
    ``fct`` is read twice, a slice at a time (by client for the whole's counts and clients,
    then by application), so a DuckDB-backed ``fct`` is never in memory at once."""
    if k < 1:
        raise ValueError("k must be at least 1")
    whole = Whole.of(fct)
    keys = snapshot_keys(whole.clients, secret).sort(*CLIENT).with_row_index("client")
    files = _write_slices(fct, whole, keys, work)
    rows = pl.scan_parquet(files)
    classes = rows.select(QUASI_IDENTIFIERS).unique().collect(engine="streaming")
    classes = classes.sort(QUASI_IDENTIFIERS).with_row_index("class")
    rounds_ = (
        rows.join(classes.lazy(), on=QUASI_IDENTIFIERS, nulls_equal=True)
        .select("client", "class")
        .collect(engine="streaming")
    )
    step = choose_step(rounds_, classes, k, max_suppressed_share)
    levels = levels_at(step)
    at, sizes = _class_sizes(rounds_, classes, levels)
    drop = _suppressed(at, sizes, k)
    dropped = pl.col("gclass").is_in(drop.implode())
    kept, gone = at.filter(~dropped), at.filter(dropped)
    path = _write_released(files, classes, levels, drop, keys, work)
    info = {
        "k": k,
        "analysable_rounds": at.height,
        "rows_released": kept.height,
        "rows_suppressed": gone.height,
        "clients_released": kept.get_column("client").n_unique(),
        "clients_suppressed": gone.get_column("client").n_unique(),
        "max_suppressed_share": max_suppressed_share,
        "step": step,
        **{f"{qi}_level": level_names(qi)[lv] for qi, lv in levels.items()},
        "clients_rare_by_two_rows": _rare_by_two_rows(kept, k),
    }
    return Release(path, pl.DataFrame([info], schema=INFO_SCHEMA))


def _write_released(
    rows: list[Path],
    classes: pl.DataFrame,
    levels: dict[str, int],
    drop: pl.Series,
    keys: pl.DataFrame,
    work: Path,
) -> Path:
    """The released rows: generalised, kept classes only, under snapshot keys, sorted by key
    (then as the warehouse orders a client's interviews: ties say nothing). DuckDB joins the
    slices to the two small tables and sorts, spilling to ``work`` beyond SORT_MEMORY."""
    kept = (
        classes.join(_classes_at(classes, levels), on="class")
        .filter(~pl.col("gclass").is_in(drop.implode()))
        .with_columns(generalised(qi, lv).alias(f"_{qi}") for qi, lv in levels.items())
        .drop("class", "gclass")
    )
    path = work / "released.parquet"
    same = " AND ".join(f'r."{qi}" = c."{qi}"' for qi in QUASI_IDENTIFIERS)
    columns = ", ".join(
        f'c."_{c}" AS "{c}"' if c in QUASI_IDENTIFIERS else f'"{c}"' for c in SCHEMA.names()
    )
    order = f'{KEY_COLUMN}, c."_round", c."_interview_period", c."_stage", r.interview_key'
    files = ", ".join(f"'{sql_quoted(str(f))}'" for f in rows)
    config = {"memory_limit": SORT_MEMORY, "temp_directory": str(work)}
    with duckdb.connect(config=config) as con:
        con.register("c", kept.to_arrow())
        con.register("k", keys.select("client", KEY_COLUMN).to_arrow())
        con.execute(
            f"COPY (SELECT {columns} FROM read_parquet([{files}]) r JOIN c ON {same} "
            f"JOIN k USING (client) ORDER BY {order}) TO '{sql_quoted(str(path))}' (FORMAT parquet)"
        )
    return path


# ------------------------------------------------------------------------------------------
# What the snapshot says about it (the researchers' dictionary is generated from these)
# ------------------------------------------------------------------------------------------
INTERVIEWS, RELEASE_INFO = tables.MICRODATA
_LEVELS = "level used: microdata.release_info"
INTERVIEWS_COMMENT = (
    "One row per analysable round (the unit of every estimate: withdrawn, pending and "
    "debriefed-after-the-outcome rounds left out), k-anonymous: every combination of the seven "
    "quasi-identifiers (round, stage, seniority, experience_band, industry_group, "
    "interview_period, firm_size) that appears is shared by at least k distinct clients "
    "(k: microdata.release_info.k), after generalising them along fixed hierarchies and dropping "
    "the rows still in smaller classes. No notes, refs, pseudonyms, firm ids or dates. See "
    "docs/researchers.md for what this does and does not protect."
)
INTERVIEWS_COLUMNS = {
    KEY_COLUMN: "The client, under a key drawn at random for this snapshot only (HMAC under a "
    "secret that is not kept): the same client's rounds share it within this snapshot; it "
    "matches nothing in any other snapshot or in the warehouse.",
    "round": "Round of the interview in its application (quasi-identifier): 1, 2, 3, 4+; "
    f"coarser if generalised (1, 2+; all) - {_LEVELS}.round_level.",
    "stage": "Interview stage (quasi-identifier): phone_screen, recruiter, hiring_manager, panel, "
    "final, other; coarser if generalised (early = phone_screen or recruiter, late = "
    f"hiring_manager, panel or final, other; all) - {_LEVELS}.stage_level.",
    "seniority": "Level of the role (quasi-identifier): entry, mid, senior, lead, executive; "
    f"coarser if generalised (entry-mid, senior+; all) - {_LEVELS}.seniority_level.",
    "experience_band": "Client's years of experience, banded (quasi-identifier): 0-2, 3-5, 6-10, "
    f"11-20, 21+; coarser if generalised (0-5, 6-10, 11+; all) - {_LEVELS}.experience_band_level.",
    "industry_group": "Employer's industry, grouped as in the estimates (quasi-identifier); if "
    f"generalised only the eight standard groups stay ({', '.join(STANDARD_INDUSTRIES)}), "
    f"the rest is other; or all - {_LEVELS}.industry_group_level.",
    "interview_period": "When the interview took place (quasi-identifier): the quarter "
    f"(2025-Q3); the year (2025) or all if generalised - {_LEVELS}.interview_period_level.",
    "firm_size": "Size of the client's coaching firm by its number of distinct clients "
    "(quasi-identifier): small (under 100), medium (100-999), large (1,000 or more); all if "
    f"generalised - {_LEVELS}.firm_size_level. Never the firm itself.",
    "asked_fit_question": "The client asked at least one of the three fit questions.",
    "asked_about_concerns": "Asked whether the interviewer has concerns about them.",
    "asked_about_ideal_candidate": "Asked what the ideal candidate looks like.",
    "asked_how_compare": "Asked how they compare to what the interviewer is looking for.",
    "asked_at_pct": "How far into the interview the question was asked (0-100); null when not "
    "asked.",
    "rapport_before_ask": "Rapport before asking (1-5); null when not asked.",
    "concerns_raised": "Objections the interviewer voiced (the contract's kinds: experience_gap, "
    "industry_gap, skills_gap, culture_fit, compensation, location, overqualified, "
    "employment_gap, other).",
    "concerns_addressed": "Whether the client addressed the objections in the room; null when "
    "none were raised.",
    "self_rating": "How well the client felt it went (1-5).",
    "advanced": "The outcome the estimates use: got past the round (offer or next round; "
    "inferred when a later round of the application exists) vs did not (rejected, no response).",
    "got_offer": "The round ended in an offer; null where the firm reported no outcome for the "
    "round (an advance inferred from a later round).",
    "got_referral": "The interviewer referred the client to another opportunity; null where the "
    "firm reported no outcome for the round.",
}
RELEASE_INFO_COMMENT = (
    "How microdata.interviews was made k-anonymous in this snapshot: the k, the generalisation "
    "step and the level of every quasi-identifier, and how many rows and clients were left out "
    "(one row)."
)
RELEASE_INFO_COLUMNS = {
    "k": "Every combination of quasi-identifiers in microdata.interviews is shared by at least k "
    "distinct clients (the snapshot's suppression k).",
    "analysable_rounds": "Analysable rounds in the warehouse: rows_released + rows_suppressed.",
    "rows_released": "Rows of microdata.interviews.",
    "rows_suppressed": "Rounds left out because their combination, after generalisation, was "
    "shared by fewer than k clients (plus the smallest classes, when needed so that the "
    "left-out rows come from 0 or at least k clients).",
    "clients_released": "Distinct clients in microdata.interviews.",
    "clients_suppressed": "Distinct clients behind the left-out rows: 0 or at least k (unless the "
    "warehouse has fewer than k clients and nothing is released); they may have other rows "
    "released.",
    "max_suppressed_share": "The generalisation stops at the first step that leaves at most this "
    "share of the rounds in classes of fewer than k clients.",
    "step": f"How many steps of the fixed generalisation path were taken (0 to {len(STEPS)}; "
    "docs/researchers.md lists them).",
    **{
        f"{qi}_level": f"The level of {qi} in this release: "
        + ", then ".join(f"'{name}'" for name in level_names(qi))
        + " from finest to coarsest."
        for qi in QUASI_IDENTIFIERS
    },
    "clients_rare_by_two_rows": "Released clients with two rows whose pair of combinations fewer "
    "than k clients share: k-anonymity holds row by row, and someone who knows two of such a "
    "client's interviews could narrow them down to fewer than k clients.",
}


def publish_tables(result: Release) -> dict[str, ReleasedTable]:
    """The release as ``warehouse.publish`` writes it into research.duckdb."""
    return {
        INTERVIEWS: ReleasedTable(result.path, INTERVIEWS_COMMENT, INTERVIEWS_COLUMNS),
        RELEASE_INFO: ReleasedTable(result.info, RELEASE_INFO_COMMENT, RELEASE_INFO_COLUMNS),
    }
