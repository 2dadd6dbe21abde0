"""Scrub personal data (PII) out of free-text debrief ``notes`` before they reach the warehouse.

E-mail addresses, URLs, phone numbers and person names are replaced by typed placeholders
(``[EMAIL]``, ``[URL]``, ``[PHONE]``, ``[NAME]``).  Everything runs as Polars string operations
(Rust ``regex`` crate, no look-around), so millions of notes are scrubbed without a Python-level
loop: each distinct text once, and each pass only over the texts holding what it needs (its
sentinel, an ``@``, a digit; `Step.needs`).  Approach, measurements and limits:
docs/pii-scrubbing.md.

Names are found in three stages:

1. an honorific + capitalised word(s) (``Dr. Anika Sharma`` -> ``Dr. [NAME]``) or a distinctive
   East-Asian surname + capitalised word(s) (``Nguyen Van An``);
2. lexicon given names (data/first_names.txt, ~26k names of many cultures) with the capitalised
   surname that follows (``Priya Raman``, ``Siobhan O'Neill``); given names that are also words,
   places or brands (data/first_names_ambiguous.txt: ``Will``, ``Grace``, ``Jordan``) only with a
   surname;
3. context: a capitalised word after a person verb or role (``asked Xochitl``, ``recruiter
   Kalani``), before a speech verb or a contact (``Okonkwo said``, ``Bo ([EMAIL])``), next to a
   found name (``[NAME] and Itzel``); lower-case lexicon names after such a word (``met priya``).

A guessed word is checked against stop lists (calendar and function words, English dictionary
words, places, companies, products) before it is replaced.  The regex engine has no look-ahead,
so guesses are first wrapped in private-use sentinel characters; later passes, which only start
at a sentinel and are therefore cheap, restore or replace them.

The whole run uses fewer than 32 distinct regexes (passes and their needs): Polars keeps compiled
regexes in a per-thread LRU cache of 32, and the big lexicon regexes take a while to compile.

Scoring on a labelled corpus, timing and the command line: pipelines.privacy.scrub_eval.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, TypeVar

import polars as pl

__all__ = ["PLACEHOLDERS", "scrub_text", "scrub_texts", "scrubbed_notes"]

PLACEHOLDERS = ("[EMAIL]", "[URL]", "[PHONE]", "[NAME]")

DATA_DIR = Path(__file__).with_name("data")

# Private-use characters used as sentinels between passes; removed from the input first.
_MID = "\ue000"
_CLOSE = "\ue001"
_OPEN_A = "\ue002"  # lexicon given name (+ surname to check)
_OPEN_B = "\ue003"  # ambiguous given name: a name only with a surname
_OPEN_C = "\ue004"  # capitalised word guessed from a verb, a role or a neighbouring name
_OPEN_P = "\ue005"  # same, but proper nouns of the dictionary ("Icelandic") are no names either
_OPEN_L = "\ue006"  # lower-case given name found after a person word
_OPEN_S = "\ue007"  # capitalised word(s) before a contact: only stop words are no names
_SENTINELS = [chr(c) for c in range(0xE000, 0xE008)]
# Capital letters of protected phrases ("Morgan Stanley") are shifted into this private block.
_PROTECT_BASE = 0xE100
_PROTECTED_CAPITALS = [chr(_PROTECT_BASE + i) for i in range(26)]
_PRIVATE_USE = (*_SENTINELS, *_PROTECTED_CAPITALS)


def _words(text: str) -> list[str]:
    """Whitespace-separated words of a literal block (keeps the long word lists readable)."""
    return text.split()


# --------------------------------------------------------------------------- contact data

_EMAIL = r"(?i)[a-z0-9][a-z0-9._%+'-]*@(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,24}\b"

_URL_TAIL = r"[^\s<>\"'`]*[^\s<>\"'`.,;:!?)\]}]"
# Bare domains need a known top-level domain, written in lower case (so "well.It" is no URL).
_TLDS = _words(
    """
    com net org edu gov mil int io co ai app dev info biz fyi ly xyz tech design jobs page site
    online cloud gg tv cc me us uk ca de fr es nl se dk fi ie ch pl pt br mx cn jp kr sg hk au
    nz za ng ke gh ae sa tr ru ua il eu careers work blog
    """
)
_URL = "|".join(
    [
        r"(?i:\b(?:https?|ftp)://" + _URL_TAIL + ")",
        r"(?i:\bwww\d{0,3}\.[a-z0-9-]+\." + _URL_TAIL + ")",
        r"\b(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+(?:"
        + "|".join(sorted(_TLDS, key=len, reverse=True))
        + r")\b(?:[/?#]"
        + _URL_TAIL
        + r"|/)?",
    ]
)

_SEP = r"[ .\-]"
_PHONE = "|".join(
    [
        # international: +CC then 2-6 digit groups with separators, or 8-15 digits in one run
        r"\+\d{1,3}(?:\s?\(0\)\s?\d{1,5}(?:" + _SEP + r"\d{1,6}){1,5}"
        r"|(?:" + _SEP + r"?\(\d{1,4}\)|" + _SEP + r"\d{1,6}){2,6})\b",
        r"\+\d{8,15}\b",
        # North American: (415) 555-0132, 415-555-0132, 415.555.0132, 1-800-555-0199
        r"(?:\b1" + _SEP + r")?(?:\(\d{3}\)\s?|\b\d{3}" + _SEP + r")\d{3}" + _SEP + r"\d{4}\b",
        # national numbers with a trunk 0: (020) 7946 0958, 07700 900123, 030 901820, 01 42 68 53 00
        r"(?:\(0\d{1,4}\)|\b0\d{1,4})(?:" + _SEP + r"?\d{2,4}){2,4}\b",
        # ten digits in one run, as people type a mobile number
        r"\b[2-9]\d{9}\b",
    ]
)

# --------------------------------------------------------------------------- names

_LU = r"\p{Lu}"
_LL = r"\p{Ll}"
# A capitalised word: O'Neill, McDonald, Smith-Jones, Ji-woo (not "I", not "HR", not "I'm").
_CAP = rf"(?:{_LU}['’])?{_LU}{_LL}+(?:{_LU}{_LL}+)?(?:-{_LU}?{_LL}+)*"
_PARTICLE = (
    r"(?:van|von|de|del|della|der|den|da|das|dos|di|du|la|le|bin|binti|ibn|al|el|ben|ter|ten|"
    r"abu|st\.?)"
)
# What may follow a given name as its surname(s): "Connor", "van der Berg", "J. Smith".
_SURNAME_TAIL = (
    rf"(?:\s+{_LU}\.?)?(?:\s+(?:{_PARTICLE}\s+){{0,2}}{_CAP})(?:\s+{_CAP})?"
    rf"|(?:\s+{_PARTICLE}\s+){{1,2}}{_CAP}"
)
_HONORIFICS = (
    r"Mr|Mrs|Ms|Mx|Miss|Dr|Prof|Professor|Sir|Dame|Madam|Mme|Mlle|Herr|Frau|Sr|Sra|Srta|Shri|Smt|"
    r"Mister|Doctor"
)
# Words after which a capitalised word is taken for a person ...
_PRE_PERSON = [
    *_words(
        """
        asked ask asking told tell telling thanked thank thanks emailed e-mailed email texted text
        pinged ping messaged message dm'd cc'd cc cc: bcc named dear hi hello hey interviewer
        interviewers recruiter recruiters sourcer coordinator manager hm cto ceo cfo coo cpo vp
        svp evp founder co-founder cofounder coach mentor colleague boss director lead referrer
        reached reach contact call called with met meet
        """
    ),
    *"""referred by|interviewed by|introduced to|introduced me to|spoke to|spoke with|speak to|
    speak with|talked to|talked with|talk to|talk with|chatted with|chat with|met with|meet with|
    meeting with|call with|lunch with|coffee with|debrief with|ask for|asked for|panel was|
    panel were|panel:|panel included|interviewers were|interviewers:|panelists:""".replace(
        "\n    ", ""
    ).split("|"),
]
# ... and before which (speech and action verbs after a subject), or a contact placeholder.
_POST_PERSON = (
    r"(?:\s*\([^()\[\]]{1,40}\))?\s+(?:said|says|asked|asks|mentioned|mentions|told|tells|"
    r"explained|noted|replied|wrote|emailed|texted|called|suggested|promised|confirmed|thinks|"
    r"thought|wants|wanted|seemed|seems|liked|loved|pushed|grilled|shared|joined|ran|led|agreed|"
    r"warned|stressed|added|answered|offered|sent|forwarded|recommended|interviewed|invited|"
    r"scheduled|needs|needed|will coordinate|will send|will call|had to|from the|from HR|is the|"
    r"was the|flew|works|runs|leads|manages|had concerns|requested|described|emphasised|"
    r"emphasized|insisted|clarified|admitted|hinted|implied|revealed|pointed|took|gave|made|"
    r"kept|responded|raised|probed|challenged|focused|drilled|walked|invited|introduced|"
    r"replied|reached|followed|approved|rejected|declined|accepted|called|messaged)\b"
)
# Before a contact placeholder: "Bo ([EMAIL])", "Grace Hopper at [EMAIL]" (strong evidence).
_CONTACT = r"\s*\(\[(?:EMAIL|PHONE)\]\)|\s+(?:at|on|via)\s+\[(?:EMAIL|PHONE)\]"
# Lower-case lexicon names only count after one of these words.
_PRE_LOWER = _words(
    """
    asked ask told tell thanked thank emailed email texted text pinged ping messaged cc with
    met meet to from and by for called call
    """
)
# "Jan 5" is a date, not Jan.
_MONTHS = r"(?:Jan|Feb|Mar|Apr|May|Jun|June|Jul|July|Aug|August|Sep|Sept|Oct|Nov|Dec|April)"
# A "surname" that makes a place or an organisation of a given name: "Howard St", "Chase Bank".
_ORG_SUFFIX = _words(
    """
    St Street Rd Road Ave Avenue Blvd Station Square Airport Center Centre Tower Building Plaza
    Bank Capital Group Labs Lab Health Partners Inc Ltd Llc LLC Corp Company University College
    Institute School Hospital Clinic Foundation Office Tech Technologies Systems Solutions
    Consulting Ventures Studio Studios Media Foods Motors Airlines Insurance Financial
    Securities Holdings Global International
    """
)
# Lower-case given names that are also English words but nearly always names in notes.
_LOWER_OK = set(
    _words(
        """
        tom john peter maria mike harry martin tony jimmy josh roger billy rick terry bobby ken
        victor brad carol sally hector derrick kim ali lee nick matt jack bob
        """
    )
)


def _read_list(data_dir: Path, name: str) -> list[str]:
    out = []
    for line in (data_dir / name).read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            out.append(line)
    return out


def _alt(words: Iterable[str]) -> str:
    """Regex alternation of literal words, longest first (the engine is leftmost-first)."""
    uniq = sorted(set(words))
    uniq.sort(key=len, reverse=True)  # stable: equal lengths stay in alphabetical order
    # One re.escape of the joined words: a call per word was most of building the steps.
    assert not any("\0" in w for w in uniq)
    return "(?:" + re.escape("\0".join(uniq)).replace("\0", "|") + ")"


def _chunked_alts(words: Iterable[str], n: int) -> list[str]:
    """Split a long word list into n alternations (Polars caps a compiled regex at 10 MB)."""
    ordered = sorted(set(words))
    return [_alt(ordered[i::n]) for i in range(n)]


def _cased_words(words: Iterable[str]) -> tuple[str, ...]:
    """Words as written, Capitalised and UPPER-CASED."""
    return tuple(v for w in words for v in (w, w[0].upper() + w[1:], w.upper()))


def _cased(words: Iterable[str]) -> str:
    """Alternation of `_cased_words` (cheaper than (?i))."""
    return _alt(_cased_words(words))


def _protect(phrase: str) -> str:
    return "".join(_PROTECTED_CAPITALS[ord(c) - 65] if "A" <= c <= "Z" else c for c in phrase)


def _lexicon(data_dir: Path) -> dict[str, list[str]]:
    def read(name: str) -> list[str]:
        return _read_list(data_dir, name)

    not_names = read("not_names.txt")
    return {
        "first": read("first_names.txt"),
        "ambiguous": read("first_names_ambiguous.txt"),
        "stop": read("stop_words.txt"),
        "not_names": [w for w in not_names if " " not in w],
        "phrases": [w for w in not_names if " " in w],
        "english": read("english_words.txt"),
        "proper": read("proper_nouns.txt"),
        "common": read("common_words.txt"),
        "surnames": read("surnames.txt"),
        "prefixes": read("surname_prefixes.txt"),
    }


class Step(NamedTuple):
    """One pass: ("regex", pattern, template) or ("many", olds, news). ``needs``: literals one of
    which every text the pass can change holds (e.g. its sentinel), or a regex all such texts
    match; other texts skip the pass. Literals need no regex, so they cost none of the 32."""

    kind: str
    old: str | list[str]
    new: str | list[str]
    needs: tuple[str, ...] | str | None = None


_NEEDS_NAME = ("[NAME]",)
_Texts = TypeVar("_Texts", pl.Expr, pl.Series)


@functools.cache
def _steps(data_dir: Path = DATA_DIR, names: bool = True) -> tuple[Step, ...]:
    """The scrubbing passes in order.

    ``names=False`` drops the name lexicons (given names, surnames) and keeps only the contact
    regexes, honorifics and context rules: the "pure regex" baseline of docs/pii-scrubbing.md.
    """
    lex = _lexicon(data_dir)
    if not names:
        lex |= {"first": [], "ambiguous": [], "surnames": [], "prefixes": []}
    vocab = _vocabulary(lex)
    resolve = _resolve_guess_steps(vocab)
    neighbours = _neighbour_step()
    steps: list[Step] = [
        *_contact_steps(lex["phrases"]),
        _honorific_step(vocab.prefix_strong if names else None),
        *(_lexicon_name_steps(vocab) if names else []),
        *(_lower_case_name_steps(vocab) if names else []),
        *_context_guess_steps(),
        *resolve,
        # 3c. neighbours of found names, two rounds (lists of three)
        neighbours,
        *resolve,
        neighbours,
        *resolve,
        *_joining_steps(),
    ]
    return tuple(steps)


@dataclass(frozen=True)
class _Vocabulary:
    """The lexicons as the alternations (and lower-case name sets) the passes are built from."""

    first: str
    ambiguous: str
    ambiguous_name: str
    prefix_strong: str
    stop_small: str
    stop_mid: str
    org: str
    word_chunks: tuple[str, ...]
    not_surname: str
    proper: str
    first_lower: frozenset[str]
    surnames_lower: frozenset[str]


def _vocabulary(lex: dict[str, list[str]]) -> _Vocabulary:
    english_lower = {w.lower() for w in lex["english"]}
    stop = set(lex["stop"])
    stop_set = stop | set(lex["not_names"])
    ambiguous_set = set(lex["ambiguous"])
    # What a guessed capitalised word must not be (ambiguous given names such as "Mark" or
    # "Hope" stay guessable), split in three for the size limit; and dictionary proper nouns.
    words = (stop_set | set(_ORG_SUFFIX) | set(lex["english"])) - (ambiguous_set - stop_set)
    return _Vocabulary(
        first=_alt(lex["first"]),
        ambiguous=_alt(ambiguous_set),
        ambiguous_name=_alt(ambiguous_set - stop),
        # distinctive East-Asian surnames: "Nguyen Van An", "Tanaka Hiroshi" need no lexicon match
        prefix_strong=_alt(
            p
            for p in lex["prefixes"]
            if len(p) >= 4 and p.lower() not in english_lower and p not in stop_set
        ),
        stop_small=_alt(stop),
        stop_mid=_alt(stop_set | set(_ORG_SUFFIX)),
        org=_alt(_ORG_SUFFIX),
        word_chunks=tuple(_chunked_alts(words, 3)),
        # what makes "Grace Period" or "Chief Risk" no name, while "Grace Hopper" is one
        not_surname=_alt(
            stop_set
            | set(_ORG_SUFFIX)
            | (set(lex["common"]) - set(lex["surnames"]) - ambiguous_set)
        ),
        proper=_alt(set(lex["proper"]) - ambiguous_set - words),
        first_lower=frozenset(
            w.lower()
            for w in lex["first"]
            if "-" not in w and (w.lower() not in english_lower or w.lower() in _LOWER_OK)
        ),
        surnames_lower=frozenset(
            {w.lower() for w in lex["surnames"] if "-" not in w and "'" not in w} - english_lower
        ),
    )


def _contact_steps(phrases: list[str]) -> list[Step]:
    """Free the sentinels; replace e-mails, URLs, phones; shield multi-word non-names."""
    return [
        Step("many", list(_PRIVATE_USE), [""] * len(_PRIVATE_USE), _PRIVATE_USE),
        Step("regex", _EMAIL, "[EMAIL]", ("@",)),
        Step("regex", _URL, "[URL]", ("://", ".")),
        Step("regex", _PHONE, "[PHONE]", r"\d"),  # any Unicode digit, as the pattern's \d
        Step("many", phrases, [_protect(w) for w in phrases]),
    ]


def _honorific_step(prefix_strong: str | None) -> Step:
    """1. "Dr. Anika Sharma" -> "Dr. [NAME]"; "Nguyen Van An", "Zhang Wei" -> "[NAME]"."""
    return Step(
        "regex",
        rf"\b(?:(?P<h>(?:{_HONORIFICS})\.?\s+)(?:{_LU}\.?\s+)?{_CAP}"
        rf"(?:\s+(?:{_PARTICLE}\s+){{0,2}}{_CAP})?"
        + (rf"|{prefix_strong}(?:\s+{_CAP}){{1,2}})" if prefix_strong is not None else ")"),
        "${h}[NAME]",
    )


def _lexicon_name_steps(v: _Vocabulary) -> list[Step]:
    """2. Given names of the lexicon, with the surname that follows them."""
    a, b, mid, close = _OPEN_A, _OPEN_B, _MID, _CLOSE
    not_mid, not_close = f"[^{mid}]*", f"[^{close}]*"
    return [
        # 2a. mark lexicon given names, then ambiguous ones. The big alternations stay free of
        # Unicode classes, which keeps the regex engine on its fast DFA.
        Step("regex", rf"\b(?:[A-Z]['’])?{v.first}\b", f"{a}$0{mid}{close}"),
        # (not inside a marked name: "Ji-woo" holds the ambiguous "Ji")
        Step(
            "regex",
            rf"(?P<pre>^|[^{a}\p{{L}}\p{{N}}_'’-])(?P<w>{v.ambiguous})\b",
            f"${{pre}}{b}${{w}}{mid}{close}",
        ),
        # 2b. join marked neighbours: "Will Turner" (name), "Grace Hopper" (surname to check)
        Step(
            "regex",
            rf"{b}(?P<h>{not_mid}){mid}{close}(?:(?P<s>\s+){a}(?P<n>{not_mid}){mid}{close}"
            rf"|(?P<s2>\s+){b}(?P<n2>{not_mid}){mid}{close})",
            f"{a}${{h}}${{s}}${{n}}{mid}${{s2}}${{n2}}{close}",
            (b,),
        ),
        # 2c. attach the surname to check: "Priya Raman", "Ji-woo Park", "Deshawn Jackson"
        Step(
            "regex",
            rf"{a}(?P<h>{not_mid}){mid}{close}(?:(?P<s>\s+){b}(?P<n>{not_mid}){mid}{close}"
            rf"|(?P<t>(?:-{_LL}+)?(?:{_SURNAME_TAIL})?))",
            f"{a}${{h}}{mid}${{s}}${{n}}${{t}}{close}",
            (a,),
        ),
        Step(
            "regex",
            rf"{b}(?P<h>{not_mid}){mid}{close}(?P<t>\s+{_CAP})",
            f"{a}${{h}}{mid}${{t}}{close}",
            (b,),
        ),
        # 2d. keep "Howard St", "Jan 5", "Chase Bank", a lone "Grace"; "Tom Monday" ->
        # "[NAME] Monday"; everything else marked is a name
        Step(
            "regex",
            rf"{a}(?P<h>{not_mid}){mid}(?P<t>\s+{v.org}){close}"
            rf"|{a}(?P<h2>{_MONTHS}){mid}{close}(?P<t2>\s*\d)"
            rf"|{a}(?P<h3>{v.ambiguous}){mid}(?P<t3>\s+{v.not_surname}(?:\s{not_close})?){close}"
            rf"|{b}(?P<h4>{not_mid}){mid}{close}",
            "${h}${t}${h2}${t2}${h3}${t3}${h4}",
            (a, b),
        ),
        Step(
            "regex",
            rf"{a}{not_mid}{mid}(?:(?P<t>\s+{v.stop_small}(?:\s{not_close})?)|{not_close}){close}",
            "[NAME]${t}",
            (a,),
        ),
        # 2e. an ambiguous given name right before a found name: "Victoria [NAME]" (Adams)
        Step("regex", rf"\b{v.ambiguous_name}\s+\[NAME\]", "[NAME]", _NEEDS_NAME),
    ]


def _lower_case_name_steps(v: _Vocabulary) -> list[Step]:
    """3a. Lower-case lexicon names after a person word ("met with priya sharma")."""
    lo, close, pre = _OPEN_L, _CLOSE, _cased(_PRE_LOWER)
    return [
        Step(
            "regex",
            rf"\b(?P<p>{pre})\s+{_alt(v.first_lower)}\b",
            f"${{p}} {lo}{close}",
            _cased_words(_PRE_LOWER),
        ),
        Step(
            "regex",
            rf"{lo}{close}(?:\s+{_alt(v.first_lower | v.surnames_lower)}\b)?",
            "[NAME]",
            (lo,),
        ),
    ]


def _context_guess_steps() -> list[Step]:
    """3b. Mark capitalised words that context says are names, to be checked (resolved) next."""
    p, st, mid, close = _OPEN_P, _OPEN_S, _MID, _CLOSE
    return [
        # before a contact ("Bo ([EMAIL])", "Grace Hopper at [PHONE]"),
        Step(
            "regex",
            rf"\b(?P<n>{_CAP}(?:\s+{_CAP})?)(?P<v>{_CONTACT})",
            f"{st}{mid}${{n}}{close}${{v}}",
            ("[EMAIL]", "[PHONE]"),
        ),
        # after a person word or role ("asked Xochitl", "CTO Dana Li"),
        # or before a speech verb ("Okonkwo said", "Efosa requested")
        Step(
            "regex",
            rf"\b(?P<p>{_cased(_PRE_PERSON)},?)(?P<s>\s+)"
            rf"(?P<n>{_CAP}(?:\s+(?:{_PARTICLE}\s+){{0,2}}{_CAP})?)\b"
            rf"|\b(?P<n2>{_CAP})(?P<v>{_POST_PERSON})",
            f"${{p}}${{s}}{p}{mid}${{n}}${{n2}}{close}${{v}}",
        ),
    ]


def _resolve_guess_steps(v: _Vocabulary) -> list[Step]:
    """Restore guesses that are dictionary words, places, brands, calendar words; replace the
    rest by [NAME]."""
    p, st, mid, close = _OPEN_P, _OPEN_S, _MID, _CLOSE
    not_close = f"[^{close}]*"
    guess_open = f"[{_OPEN_C}{p}{st}]"
    guesses = (_OPEN_C, p, st)
    tail = rf"(?P<t>[\s-]{not_close})?"
    return [
        *(
            Step(
                "regex",
                rf"{guess_open}{mid}(?P<n>{chunk}){tail}{close}",
                "${n}${t}",
                guesses,
            )
            for chunk in v.word_chunks
        ),
        Step("regex", rf"{p}{mid}(?P<n>{v.proper}){tail}{close}", "${n}${t}", (p,)),
        Step("regex", rf"{st}{mid}(?P<n>{v.stop_mid}){tail}{close}", "${n}${t}", (st,)),
        Step("regex", rf"{guess_open}{mid}{not_close}{close}", "[NAME]", guesses),
    ]


def _neighbour_step() -> Step:
    """3c. A found name's neighbour: "[NAME], Dilshan and Nuwani", "Faisal bin [NAME]"."""
    c, mid, close = _OPEN_C, _MID, _CLOSE
    near = rf"(?:,\s*|\s+and\s+|\s*&\s*|\s*/\s*|\s+(?:{_PARTICLE}\s+){{0,2}})"
    return Step(
        "regex",
        rf"(?P<a>\[NAME\]{near})(?P<n>{_CAP}(?:\s+{_CAP})?)\b|\b(?P<n2>{_CAP})(?P<b>{near}\[NAME\])",
        f"${{a}}{c}{mid}${{n}}${{n2}}{close}${{b}}",
        _NEEDS_NAME,
    )


def _joining_steps() -> list[Step]:
    """4. Pieces of one name: "[NAME] bin [NAME]", "[NAME] [NAME]" -> "[NAME]"; then unshield
    the protected phrases."""
    return [
        Step(
            "regex",
            rf"(?:{_CAP}-)?\[NAME\](?:(?:\s+{_PARTICLE})*\s+\[NAME\]|-(?:{_CAP}|\[NAME\]))*",
            "[NAME]",
            _NEEDS_NAME,
        ),
        Step(
            "many",
            _PROTECTED_CAPITALS,
            [chr(65 + i) for i in range(26)],
            tuple(_PROTECTED_CAPITALS),
        ),
    ]


def _scrub_expr(expr: pl.Expr, steps: tuple[Step, ...] | None = None) -> pl.Expr:
    """Every pass over every text: the plain definition `scrubbed_notes` is tested equal to."""
    for step in steps or _steps():
        expr = _pass(expr, step)
    return expr


def _pass(texts: _Texts, step: Step) -> _Texts:
    if step.kind == "regex":
        return texts.str.replace_all(step.old, step.new)
    return texts.str.replace_many(step.old, step.new, leftmost=True)


def _needing(values: pl.Series, needs: tuple[str, ...] | str | None) -> pl.Series | None:
    if needs is None or isinstance(needs, str):  # none, or a regex
        return None if needs is None else values.str.contains(needs)
    return values.str.contains_any(list(needs))


def _scrubbed_values(values: pl.Series, steps: tuple[Step, ...]) -> pl.Series:
    """Each pass over only the texts holding what it needs: the others it cannot change."""
    for step in steps:
        hits = _needing(values, step.needs)
        n = values.len() if hits is None else hits.sum()
        if n == values.len():
            values = _pass(values, step)
        elif n:
            rows = hits.arg_true()
            values = values.clone().scatter(rows, _pass(values.gather(rows), step))
    return values


def _scrubbed_column(texts: pl.Series) -> pl.Series:
    # Each distinct text once: half the notes are null and a fifth repeat.
    distinct = texts.drop_nulls().unique()
    if distinct.is_empty():
        return texts
    done = _scrubbed_values(distinct, _steps())
    return texts.replace_strict(distinct, done, default=None, return_dtype=pl.String)


def scrubbed_notes(lf: pl.LazyFrame, column: str = "notes") -> pl.LazyFrame:
    """Return lf with `column` replaced by its scrubbed text (nulls stay null)."""
    scrubbed = pl.col(column).cast(pl.String).map_batches(_scrubbed_column, pl.String)
    return lf.with_columns(scrubbed.alias(column))


_SCRUBBED: dict[str, str] = {}  # short repeated strings (labels, file names) already scrubbed
_SCRUBBED_MAX = 100_000
_SCRUBBED_LOCK = threading.Lock()


def scrub_texts(texts: list[str | None]) -> list[str | None]:
    """Scrub many strings in one query; strings seen before come from a cache. Each query
    compiles every rule's automaton and regex again (~0.2 s), so scrubbing labels or file names
    one call at a time dominated ingest."""
    wanted = {t for t in texts if t is not None}
    with _SCRUBBED_LOCK:  # ingest threads stage chunks side by side
        found = {t: _SCRUBBED[t] for t in wanted if t in _SCRUBBED}
    todo = list(wanted - found.keys())
    if todo:
        frame = pl.LazyFrame({"notes": todo}, schema={"notes": pl.String})
        done = scrubbed_notes(frame).collect().get_column("notes").to_list()
        found.update(zip(todo, done, strict=True))
        with _SCRUBBED_LOCK:
            if len(_SCRUBBED) + len(todo) > _SCRUBBED_MAX:
                _SCRUBBED.clear()
            _SCRUBBED.update(zip(todo, done, strict=True))
    return [None if t is None else found[t] for t in texts]


def scrub_text(text: str | None) -> str | None:
    """Scrub a single string with the same rules as :func:`scrubbed_notes`."""
    return scrub_texts([text])[0]
