"""Text of the synthetic population (``pipelines.synthetic.generate``): client refs (e-mails, names,
opaque ids), interview / application / record ids, industry spellings and free-text notes full of
PII (names, e-mails, phone numbers, companies, links), so that the pseudonymisation and scrubbing
have something real to do. Vectorised with polars; every choice comes from the World's seeds.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from pipelines.synthetic.model import (
    DAY,
    INDUSTRIES,
    RARE_INDUSTRY,
    REVISION_1_0,
    WINDOW_START,
    reporting_of,
)
from pipelines.synthetic.records import World

# --------------------------------------------------------------------------------------------
# Names and notes vocabulary (display form, ascii form for e-mails)
# --------------------------------------------------------------------------------------------
FIRST_NAMES = (
    ("Jane", "jane"),
    ("Tom", "tom"),
    ("Priya", "priya"),
    ("José", "jose"),
    ("Zoë", "zoe"),
    ("Wei", "wei"),
    ("Aisha", "aisha"),
    ("Liam", "liam"),
    ("Sofía", "sofia"),
    ("Mohammed", "mohammed"),
    ("Olga", "olga"),
    ("Kenji", "kenji"),
    ("Fatima", "fatima"),
    ("Lucas", "lucas"),
    ("Chloé", "chloe"),
    ("Ama", "ama"),
    ("Noah", "noah"),
    ("Mei", "mei"),
    ("Ravi", "ravi"),
    ("Elena", "elena"),
    ("Sean", "sean"),
    ("Ingrid", "ingrid"),
    ("Tariq", "tariq"),
    ("Hannah", "hannah"),
    ("Diego", "diego"),
    ("Yuki", "yuki"),
    ("Grace", "grace"),
    ("Omar", "omar"),
    ("Anna", "anna"),
    ("Kwame", "kwame"),
    ("Marta", "marta"),
    ("Daniel", "daniel"),
    ("Leila", "leila"),
    ("Björn", "bjorn"),
    ("Nadia", "nadia"),
    ("Samuel", "samuel"),
    ("Ana-Maria", "ana-maria"),
    ("Chen", "chen"),
    ("Rosa", "rosa"),
    ("Patrick", "patrick"),
)
LAST_NAMES = (
    ("Doe", "doe"),
    ("Smith", "smith"),
    ("Shah", "shah"),
    ("García", "garcia"),
    ("O'Brien", "obrien"),
    ("Nguyen", "nguyen"),
    ("Müller", "muller"),
    ("Okafor", "okafor"),
    ("Kowalski", "kowalski"),
    ("Tanaka", "tanaka"),
    ("Haddad", "haddad"),
    ("Johansson", "johansson"),
    ("Rossi", "rossi"),
    ("Mensah", "mensah"),
    ("Chen", "chen"),
    ("Patel", "patel"),
    ("Silva", "silva"),
    ("Novak", "novak"),
    ("Dubois", "dubois"),
    ("Kim", "kim"),
    ("Ivanova", "ivanova"),
    ("Smith-Jones", "smith-jones"),
    ("van der Berg", "vanderberg"),
    ("Larsen", "larsen"),
    ("Brown", "brown"),
    ("Cohen", "cohen"),
    ("Ali", "ali"),
    ("Fischer", "fischer"),
    ("Moreau", "moreau"),
    ("Lopez", "lopez"),
    ("Yilmaz", "yilmaz"),
    ("Andersson", "andersson"),
    ("Kaur", "kaur"),
    ("Walsh", "walsh"),
    ("Costa", "costa"),
    ("Popescu", "popescu"),
    ("Sato", "sato"),
    ("Adeyemi", "adeyemi"),
    ("Schmidt", "schmidt"),
    ("Reyes", "reyes"),
)
EMAIL_DOMAINS = (
    "example.com",
    "example.org",
    "example.net",
    "mail.example.com",
    "post.example.org",
    "inbox.example.net",
)
COMPANIES = (
    ("Acme Corp", "acme.io"),
    ("Globex", "globex.com"),
    ("Initech", "initech.com"),
    ("Umbrella Health", "umbrella-health.org"),
    ("Stark Industries", "stark.example"),
    ("Wayne Enterprises", "wayne-ent.com"),
    ("Hooli", "hooli.xyz"),
    ("Vandelay Industries", "vandelay.biz"),
    ("Soylent Foods", "soylent.example"),
    ("Cyberdyne Systems", "cyberdyne.ai"),
    ("Northwind Traders", "northwind.co"),
    ("Contoso", "contoso.com"),
    ("Fabrikam", "fabrikam.net"),
    ("Tailspin Toys", "tailspin.toys"),
    ("Wide World Importers", "wideworld.example"),
    ("Massive Dynamic", "massive.example"),
)
STAGE_WORDS = ("phone screen", "recruiter call", "HM round", "panel", "final round", "interview")
MOODS = ("great", "okay", "a bit rushed", "awkward", "really positive", "hard to read")
CONCERN_TEXT = (
    "my years of experience",
    "not having enough industry experience",
    "a skills gap in their stack",
    "culture fit",
    "my salary expectations",
    "relocating",
    "me being overqualified",
    "the gap on my CV",
    "something vague about timing",
)


# Industry as each firm spells it: canonical names, synonyms, case / spacing / hyphen variants.
INDUSTRY_SYNONYMS = {
    "software": ("tech", "technology", "IT", "software engineering"),
    "healthcare": ("health care", "medical", "hospital"),
    "finance": ("financial services", "banking", "fintech"),
    "retail": ("e-commerce", "ecommerce"),
    "education": ("higher education", "edtech"),
    "manufacturing": ("industrial",),
    "consulting": ("professional services",),
    "government": ("public sector",),
}
RARE_INDUSTRY_SPELLINGS = (
    "Aerospace",
    "non-profit",
    "Biotech",
    "Energy",
    "Hospitality",
    "Logistics",
    "real estate",
    "Non-Profit",
)


# --------------------------------------------------------------------------------------------
# String helpers (vectorised)
# --------------------------------------------------------------------------------------------
def _scramble(x: np.ndarray, bits: int, salt: int) -> np.ndarray:
    """Bijection on [0, 2**bits): multiply by an odd constant, xor a salt (mod 2**bits)."""
    mask = np.uint64((1 << bits) - 1)
    with np.errstate(over="ignore"):
        y = (x.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)) & mask
        y = (y ^ np.uint64(salt & ((1 << bits) - 1))) & mask
        y = (y * np.uint64(0xBF58476D1CE4E5B9)) & mask
    return y


def _hex(x: np.ndarray, digits: int) -> pl.Series:
    """Lower-case hex of uint64 values, zero-padded to `digits` (<= 16) characters."""
    n = len(x)
    buf = np.empty((n, 9), dtype=np.uint8)
    buf[:, :8] = np.asarray(x, dtype=np.uint64).astype(">u8").view(np.uint8).reshape(n, 8)
    buf[:, 8] = 1  # sentinel: numpy "S" arrays strip trailing NUL bytes
    return pl.Series(buf.view("S9").ravel()).bin.encode("hex").str.slice(16 - digits, digits)


def _pick(values, idx: np.ndarray) -> pl.Series:
    return pl.Series(list(values), dtype=pl.String).gather(idx)


def _firm_prefix(firm_id: str) -> str:
    return "".join(p[0] for p in firm_id.split("-") if p).upper()[:4] or "F"


def _unique_codes(rng: np.random.Generator, n: int, base: int, levels: int) -> np.ndarray:
    """n distinct codes in [0, base*levels), preferring the first `base` (level 0) codes."""
    cap = base * levels
    if n > cap:
        raise ValueError("code space exhausted")
    if n <= base:
        return rng.choice(base, n, replace=False)
    rest = rng.choice(cap - base, n - base, replace=False) + base
    return np.concatenate([rng.permutation(base), rest])


def _date(secs: np.ndarray) -> pl.Series:
    return pl.from_epoch(pl.Series(secs, dtype=pl.Int64), time_unit="s").dt.strftime("%Y-%m-%d")


def _scatter(n: int, parts: list[tuple[np.ndarray, pl.Series]]) -> pl.Series:
    """Assemble a string Series of length n from (positions, values) parts covering 0..n-1."""
    pos = np.concatenate([p for p, _ in parts])
    vals = pl.concat([v for _, v in parts])
    inv = np.empty(n, dtype=np.int64)
    inv[pos] = np.arange(n)
    return vals.gather(inv)


def _rank_by(group: np.ndarray, order_key: np.ndarray) -> np.ndarray:
    """1-based rank of each element within its group, by order_key (ties by position)."""
    n = len(group)
    order = np.lexsort((np.arange(n), order_key, group))
    g = group[order]
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]]) if n else np.zeros(0, dtype=np.int64)
    sizes = np.diff(np.r_[starts, n])
    out = np.empty(n, dtype=np.int64)
    out[order] = np.arange(n) - np.repeat(starts, sizes) + 1
    return out


# --------------------------------------------------------------------------------------------
# Industry spellings
# --------------------------------------------------------------------------------------------
def _title(s: str) -> str:
    return " ".join(w if w.isupper() else w[:1].upper() + w[1:] for w in s.split(" "))


def _spellings(canon: str, style: int) -> list[str]:
    """How a firm of a spelling style writes one canonical industry (repeats weigh more)."""
    syn = INDUSTRY_SYNONYMS[canon]
    if style == 0:  # the canonical name, always
        return [canon]
    if style == 1:  # Title Case from a picklist, now and then a synonym
        return [_title(canon)] * 6 + [_title(syn[0])]
    if style == 2:  # free text: padded, title case, synonyms
        return [f" {canon} ", _title(canon), *(_title(s) for s in syn)]
    return [canon, *(_title(s) for s in syn), *(s.replace(" ", "-") for s in syn), *syn]


def industry_spellings(w: World) -> tuple[pl.Series, dict[str, str | None]]:
    """The industry string of each application as its firm writes it, and every spelling used
    mapped to its canonical industry (None for the rare one-offs)."""
    rng = np.random.default_rng(w.seeds[5])
    app_firm = w.client_firm[w.iv_client[np.searchsorted(w.iv_app, np.arange(w.n_apps))]]
    style = np.minimum(app_firm, 3)
    vocab: list[str] = []
    canon_of: dict[str, str | None] = {}
    idx = np.zeros(w.n_apps, dtype=np.int64)
    draw = rng.random(w.n_apps)
    for s in range(4):
        for k, canon in enumerate((*INDUSTRIES, None)):
            words = list(RARE_INDUSTRY_SPELLINGS) if canon is None else _spellings(canon, s)
            sel = (style == s) & (w.app_industry == (RARE_INDUSTRY if canon is None else k))
            idx[sel] = len(vocab) + np.minimum(
                (draw[sel] * len(words)).astype(np.int64), len(words) - 1
            )
            vocab.extend(words)
            for word in words:
                canon_of[word] = canon
    used = sorted({vocab[i] for i in np.unique(idx).tolist()})
    return _pick(vocab, idx), {word: canon_of[word] for word in used}


# --------------------------------------------------------------------------------------------
# Refs and ids
# --------------------------------------------------------------------------------------------
def client_refs(w: World) -> list[str]:
    """One client_ref per client, unique within its firm: e-mails, full names or opaque ids."""
    rng = np.random.default_rng(w.seeds[3])
    refs: list[str] = [""] * w.n_clients
    for f, firm_id in enumerate(w.firm_ids):
        members = np.flatnonzero(w.client_firm == f)
        style = w.client_ref_style[members]
        for i, ref in zip(
            members[style == 0].tolist(), _emails(rng, int((style == 0).sum())), strict=True
        ):
            refs[i] = ref
        for i, ref in zip(
            members[style == 1].tolist(), _names(rng, int((style == 1).sum())), strict=True
        ):
            refs[i] = ref
        op = members[style == 2]
        num = np.arange(1, len(op) + 1)
        if f % 3 == 0:
            vals = [f"C{k:06d}" for k in num.tolist()]
        elif f % 3 == 1:
            vals = ("cl_" + _hex(_scramble(num, 40, 0x5EA1 + f), 10)).to_list()
        else:
            vals = [f"{_firm_prefix(firm_id)}{k:05d}" for k in num.tolist()]
        for i, ref in zip(op.tolist(), vals, strict=True):
            refs[i] = ref
    return refs


def _emails(rng: np.random.Generator, n: int) -> list[str]:
    """first.last / firstlast / f.last / first_last, optional number, six domains."""
    nf, nl = len(FIRST_NAMES), len(LAST_NAMES)
    base = nf * nl * 4 * len(EMAIL_DOMAINS)
    codes = _unique_codes(rng, n, base, 100)
    caps = rng.random(n) < 0.05
    out = []
    for c, cap in zip(codes.tolist(), caps.tolist(), strict=True):
        c, num = c % base, c // base
        fi, c = c % nf, c // nf
        li, c = c % nl, c // nl
        form, dom = c % 4, c // 4
        fa, la = FIRST_NAMES[fi][1], LAST_NAMES[li][1]
        if cap:
            fa, la = fa.capitalize(), la.capitalize()
        local = (f"{fa}.{la}", f"{fa}{la}", f"{fa[0]}.{la}", f"{fa}_{la}")[form]
        out.append(f"{local}{num if num else ''}@{EMAIL_DOMAINS[dom]}")
    return out


def _names(rng: np.random.Generator, n: int) -> list[str]:
    """Full names, with one or two middle initials once plain names run out."""
    nf, nl = len(FIRST_NAMES), len(LAST_NAMES)
    out = []
    for c in _unique_codes(rng, n, nf * nl, 1 + 26 + 26 * 26).tolist():
        fi, c = c % nf, c // nf
        li, mid = c % nl, c // nl
        first, last = FIRST_NAMES[fi][0], LAST_NAMES[li][0]
        if mid == 0:
            out.append(f"{first} {last}")
        elif mid <= 26:
            out.append(f"{first} {chr(64 + mid)}. {last}")
        else:
            a, b = divmod(mid - 27, 26)
            out.append(f"{first} {chr(65 + a)}. {chr(65 + b)}. {last}")
    return out


def interview_refs(w: World) -> pl.Series:
    """interview_ref per interview, unique within a firm (numbered in interview-date order)."""
    firm = w.client_firm[w.iv_client]
    seq = _rank_by(firm, w.rounds.submitted[w.iv])
    style = firm % 3
    sel0, sel1, sel2 = (np.flatnonzero(style == k) for k in range(3))
    year = _date(WINDOW_START + w.rounds.iv_day[w.iv][sel2] * DAY).str.slice(0, 5)
    return _scatter(
        w.n,
        [
            (sel0, "int-" + pl.Series(seq[sel0]).cast(pl.String)),
            (sel1, "iv_" + _hex(_scramble(seq[sel1], 48, 0x1D5EA1), 12)),
            (sel2, year + pl.Series(seq[sel2]).cast(pl.String).str.zfill(6)),
        ],
    )


def application_refs(w: World) -> pl.Series:
    """application_ref per application (null where the firm does not send it), unique within a
    firm, numbered in order of the application's first interview."""
    first_iv = np.searchsorted(w.iv_app, np.arange(w.n_apps))
    firm = w.client_firm[w.iv_client[first_iv]]
    seq = _rank_by(firm, w.rounds.submitted[w.iv[first_iv]])
    style = firm % 3
    pfx = np.array([_firm_prefix(f) + "-APP-" for f in w.firm_ids], dtype=object)
    sel0, sel1, sel2 = (np.flatnonzero(style == k) for k in range(3))
    refs = _scatter(
        w.n_apps,
        [
            (sel0, "app-" + pl.Series(seq[sel0]).cast(pl.String)),
            (sel1, "A" + _hex(_scramble(seq[sel1], 40, 0xA77), 10).str.to_uppercase()),
            (
                sel2,
                pl.Series(pfx[firm[sel2]].astype(str), dtype=pl.String)
                + pl.Series(seq[sel2]).cast(pl.String).str.zfill(6),
            ),
        ],
    )
    sends = pl.Series(reporting_of(firm) != REVISION_1_0)
    return pl.select(pl.when(sends).then(refs)).to_series()


def record_ids(
    rtype: np.ndarray,
    firm: np.ndarray,
    type_seq: np.ndarray,
    firm_seq: np.ndarray,
    firm_ids: list[str],
) -> pl.Series:
    """record_id per record, unique within a firm; the id style differs by firm."""
    n = len(rtype)
    style = firm % 3
    sel0, sel1, sel2 = (np.flatnonzero(style == k) for k in range(3))
    letters = pl.Series(["d-", "o-", "e-"], dtype=pl.String).gather(rtype[sel0])
    a = _hex(_scramble(firm_seq[sel1], 64, 0xA5A5), 16)
    b = _hex(_scramble(firm_seq[sel1], 64, 0x5A5A7), 16)
    uuid = pl.select(
        pl.format(
            "{}-{}-{}-{}-{}",
            a.str.slice(0, 8),
            a.str.slice(8, 4),
            a.str.slice(12, 4),
            b.str.slice(0, 4),
            b.str.slice(4, 12),
        )
    )
    pfx = np.array([_firm_prefix(f) + "-" for f in firm_ids], dtype=object)[firm[sel2]]
    mid = np.array(["DEB-", "OUT-", "ERA-"], dtype=object)[rtype[sel2]]
    head = pl.Series((pfx + mid).astype(str), dtype=pl.String)
    return _scatter(
        n,
        [
            (sel0, letters + pl.Series(type_seq[sel0]).cast(pl.String)),  # "d-17"
            (sel1, uuid.to_series()),  # uuid-shaped, from a bijection of the firm serial
            (
                sel2,
                head + pl.Series(type_seq[sel2]).cast(pl.String).str.zfill(7),
            ),  # "SC-DEB-0000017"
        ],
    )


# --------------------------------------------------------------------------------------------
# Notes
# --------------------------------------------------------------------------------------------
def notes(w: World, refs: list[str]) -> pl.Series:
    """Free-text notes per interview (what happened), ~15% null, full of PII."""
    df = _note_parts(w, refs)
    text = _note_text()
    return df.select(
        pl.when(pl.col("null"))
        .then(pl.lit(None, dtype=pl.String))
        .otherwise(text.str.replace_all(r"\s{2,}", " ").str.strip_chars())
    ).to_series()


def _note_parts(w: World, refs: list[str]) -> pl.DataFrame:
    n, r = w.n, np.random.default_rng(w.seeds[4])
    rounds, iv = w.rounds, w.iv
    fi = r.integers(0, len(FIRST_NAMES), n)
    li = r.integers(0, len(LAST_NAMES), n)
    ci = r.integers(0, len(COMPANIES), n)
    kinds = rounds.kinds[iv]
    return pl.DataFrame(
        {
            "ifirst": _pick([f[0] for f in FIRST_NAMES], fi),
            "ifirst_a": _pick([f[1] for f in FIRST_NAMES], fi),
            "ilast": _pick([x[0] for x in LAST_NAMES], li),
            "ilast_a": _pick([x[1] for x in LAST_NAMES], li),
            "company": _pick([c[0] for c in COMPANIES], ci),
            "cdomain": _pick([c[1] for c in COMPANIES], ci),
            "area": pl.Series(r.integers(201, 990, n)).cast(pl.String),
            "l4": pl.Series(r.integers(100, 200, n)).cast(pl.String).str.zfill(4),
            "carea": pl.Series(r.integers(201, 990, n)).cast(pl.String),
            "cl4": pl.Series(r.integers(100, 200, n)).cast(pl.String).str.zfill(4),
            "pfmt": r.integers(0, 7, n),
            "cfmt": r.integers(0, 7, n),
            "efmt": r.integers(0, 3, n),
            "ufmt": r.integers(0, 4, n),
            "tmpl": r.choice(9, n, p=(0.16, 0.14, 0.12, 0.12, 0.12, 0.1, 0.08, 0.08, 0.08)),
            "null": r.random(n) < 0.15,
            "jobid": pl.Series(r.integers(1000, 99999, n)).cast(pl.String),
            "stage_word": _pick(STAGE_WORDS, rounds.stage[iv]),
            "mood": _pick(MOODS, r.integers(0, len(MOODS), n)),
            "concern": _pick(CONCERN_TEXT, rounds.first_concern[iv]),
            "c": kinds[:, 0],
            "i": kinds[:, 1],
            "m": kinds[:, 2],
            "raised": rounds.raised[iv],
            "addressed": rounds.addressed[iv],
            "noask": r.integers(0, 3, n),
            "client": pl.Series(refs, dtype=pl.String).gather(w.iv_client),
        }
    )


def _phone(area_col: str, l4_col: str, fmt_col: str) -> pl.Expr:
    a, l4, f = pl.col(area_col), pl.col(l4_col), pl.col(fmt_col)
    return (
        pl.when(f == 0)
        .then(pl.format("+1 {}-555-{}", a, l4))
        .when(f == 1)
        .then(pl.format("({}) 555-{}", a, l4))
        .when(f == 2)
        .then(pl.format("{}.555.{}", a, l4))
        .when(f == 3)
        .then(pl.format("+44 20 7946 {}", l4))
        .when(f == 4)
        .then(pl.format("020 7946 {}", l4))
        .when(f == 5)
        .then(pl.format("+1{}555{}", a, l4))
        .otherwise(pl.format("{} 555 {}", a, l4))
    )


def _interviewer_email() -> pl.Expr:
    return (
        pl.when(pl.col("efmt") == 0)
        .then(pl.format("{}@{}", "ifirst_a", "cdomain"))
        .when(pl.col("efmt") == 1)
        .then(pl.format("{}.{}@{}", "ifirst_a", "ilast_a", "cdomain"))
        .otherwise(pl.format("{}{}@{}", pl.col("ifirst_a").str.slice(0, 1), "ilast_a", "cdomain"))
    )


def _url() -> pl.Expr:
    return (
        pl.when(pl.col("ufmt") == 0)
        .then(pl.format("https://www.linkedin.com/in/{}-{}", "ifirst_a", "ilast_a"))
        .when(pl.col("ufmt") == 1)
        .then(pl.format("https://{}/careers/{}", "cdomain", "jobid"))
        .when(pl.col("ufmt") == 2)
        .then(pl.format("www.{}/jobs?id={}", "cdomain", "jobid"))
        .otherwise(pl.format("http://bit.ly/{}", "jobid"))
    )


def _tactic_sentence() -> pl.Expr:
    return (
        pl.when(pl.col("c"))
        .then(pl.format("Asked {} whether they had any concerns about my fit.", "ifirst"))
        .when(pl.col("i"))
        .then(pl.lit("Asked what their ideal candidate looks like."))
        .when(pl.col("m"))
        .then(pl.lit("Asked how I compare with the other candidates."))
        .when(pl.col("noask") == 0)
        .then(pl.lit("Ran out of time for my fit question."))
        .when(pl.col("noask") == 1)
        .then(pl.lit("Didn't ask the fit question."))
        .otherwise(pl.lit(""))
    )


def _concern_sentence() -> pl.Expr:
    return (
        pl.when(pl.col("raised") & pl.col("addressed"))
        .then(pl.format("{} mentioned {}; I clarified it on the spot.", "ifirst", "concern"))
        .when(pl.col("raised"))
        .then(pl.format("{} brought up {}, didn't manage to address it.", "ifirst", "concern"))
        .otherwise(pl.lit(""))
    )


def _note_text() -> pl.Expr:
    tactic, concern, iemail, url = (
        _tactic_sentence(),
        _concern_sentence(),
        _interviewer_email(),
        _url(),
    )
    phone = _phone("area", "l4", "pfmt")
    iname = pl.format("{} {}", "ifirst", "ilast")
    templates = [
        pl.format("{} Interviewer was {} ({}).", tactic, iname, iemail),
        pl.format("Call with {} from {}. {} Follow up at {}.", "ifirst", "company", tactic, phone),
        pl.format("{} {}: felt {}. {} Job post: {}", "company", "stage_word", "mood", concern, url),
        pl.format(
            "{} {} Recruiter {} said to email {} or call {}.", tactic, concern, iname, iemail, phone
        ),
        pl.format("Felt {}. {}", "mood", tactic),
        pl.format("Met {} at {}; {} shared {}. {}", iname, "company", "ifirst", url, concern),
        pl.format("{} asked me to send references to {} by Friday. {}", "ifirst", iemail, tactic),
        pl.format(
            "Notes for coach ({}): {} {} My cell is {}.",
            "client",
            tactic,
            concern,
            _phone("carea", "cl4", "cfmt"),
        ),
        pl.format('{} said "we\'ll be in touch" - {}, {}. {}', iname, "company", "mood", concern),
    ]
    expr = pl.when(pl.col("tmpl") == 0).then(templates[0])
    for k, t in enumerate(templates[1:-1], start=1):
        expr = expr.when(pl.col("tmpl") == k).then(t)
    return expr.otherwise(templates[-1])
