"""Score and time the notes scrubber (pipelines.privacy.scrub); its command line.

    uv run python -m pipelines.privacy.scrub_eval [FILE]         # scrub one note per line
    uv run python -m pipelines.privacy.scrub_eval --eval CORPUS  # recall and precision
    uv run python -m pipelines.privacy.scrub_eval --bench ROWS   # rows per second

Measurements and what they mean: docs/pii-scrubbing.md.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from pipelines.privacy.scrub import (
    DATA_DIR,
    PLACEHOLDERS,
    Step,
    _scrub_expr,
    _steps,
    scrubbed_notes,
)

__all__ = ["corpus_metrics"]

_TOKEN = re.compile(r"\w+")
_PLACEHOLDER_WORDS = {p.strip("[]") for p in PLACEHOLDERS}


def corpus_metrics(rows: list[dict], outputs: list[str | None]) -> dict:
    """Recall per PII type and token precision of scrubbed ``outputs`` on a labelled corpus.

    ``rows`` are pii_corpus.jsonl records (``text``, ``spans``, ``split``). A span counts as
    caught when none of its word tokens survives: the output holds no more copies of each of its
    tokens than the note's non-PII text does. Precision is over word tokens: removed PII tokens
    / all removed tokens.
    """
    tally = _Tally()
    for row, out in zip(rows, outputs, strict=True):
        tally.add(row, out or "")
    return tally.metrics()


def _tokens(text: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for tok in _TOKEN.findall(text):
        if tok not in _PLACEHOLDER_WORDS:
            counts[tok] = counts.get(tok, 0) + 1
    return counts


@dataclass
class _Tally:
    """What corpus_metrics counts, note by note."""

    caught: dict[str, list[int]] = field(default_factory=dict)  # key -> [caught, spans]
    placeholders: dict[str, list[int]] = field(default_factory=dict)  # kind -> [typed, spans]
    removed_pii: int = 0
    removed_other: int = 0
    false_tokens: dict[str, int] = field(default_factory=dict)
    misses: list[tuple[str, str, str]] = field(default_factory=list)
    clean_changed: int = 0
    clean_total: int = 0

    def add(self, row: dict, out: str) -> None:
        text, spans = row["text"], row["spans"]
        masked = list(text)
        for span in spans:
            masked[span["start"] : span["end"]] = " " * (span["end"] - span["start"])
        other, kept = _tokens("".join(masked)), _tokens(out)
        self._add_spans(row, out, other, kept)
        for kind in {span["type"] for span in spans}:
            want = sum(span["type"] == kind for span in spans)
            got = out.count(f"[{kind}]")
            self.placeholders.setdefault(kind, [0, 0])[0] += min(want, got)
            self.placeholders[kind][1] += want
        for tok, count in other.items():
            lost = count - kept.get(tok, 0)
            if lost > 0:
                self.removed_other += lost
                self.false_tokens[tok] = self.false_tokens.get(tok, 0) + lost
        if not spans:
            self.clean_total += 1
            self.clean_changed += out != text

    def _add_spans(self, row: dict, out: str, other: dict[str, int], kept: dict[str, int]) -> None:
        for span in row["spans"]:
            piece = row["text"][span["start"] : span["end"]]
            span_tokens = _TOKEN.findall(piece)
            ok = all(kept.get(t, 0) <= other.get(t, 0) for t in span_tokens)
            for key in (span["type"], f"{span['type']}/{row.get('split', '')}"):
                self.caught.setdefault(key, [0, 0])[0] += ok
                self.caught[key][1] += 1
            self.removed_pii += len(span_tokens) if ok else 0
            if not ok:
                self.misses.append((span["type"], piece, out))

    def metrics(self) -> dict:
        removed = self.removed_pii + self.removed_other
        return {
            "recall": {k: v[0] / v[1] for k, v in sorted(self.caught.items())},
            "counts": {k: tuple(v) for k, v in sorted(self.caught.items())},
            "placeholder_recall": {k: v[0] / v[1] for k, v in sorted(self.placeholders.items())},
            "token_precision": self.removed_pii / removed if removed else 1.0,
            "false_positive_tokens": dict(sorted(self.false_tokens.items(), key=lambda kv: -kv[1])),
            "clean_notes_changed": (self.clean_changed, self.clean_total),
            "misses": self.misses,
        }


def _scrub_many(texts: list[str], steps: tuple[Step, ...] | None = None) -> list[str | None]:
    frame = pl.LazyFrame({"notes": texts}, schema={"notes": pl.String})
    return frame.select(_scrub_expr(pl.col("notes"), steps)).collect()["notes"].to_list()


def _print_evaluation(corpus: Path, steps: tuple[Step, ...]) -> None:
    lines = corpus.read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines if line.strip()]
    metrics = corpus_metrics(rows, _scrub_many([r["text"] for r in rows], steps))
    for key, value in metrics["recall"].items():
        hit, total = metrics["counts"][key]
        print(f"recall {key:<22} {value:6.3f}  ({hit}/{total})")
    for key, value in metrics["placeholder_recall"].items():
        print(f"typed placeholder {key:<11} {value:6.3f}")
    print(f"token precision              {metrics['token_precision']:6.3f}")
    changed, total = metrics["clean_notes_changed"]
    print(f"PII-free notes changed       {changed}/{total}")
    print("false-positive tokens:", metrics["false_positive_tokens"])
    for kind, piece, out in metrics["misses"]:
        print(f"missed {kind}: {piece!r} -> {out!r}")


def _print_benchmark(rows: int, steps: tuple[Step, ...]) -> None:
    seeds = [
        "Asked Tom (tom@acme.io) if he had concerns; he said fintech experience.",
        "Call Sarah Connor back at +1 (415) 555-0132 re: https://jobs.acme.com/r/123",
        "Panel of 3, 45 min. Rated it 4/5; salary band $120,000-$140,000 in Q3 2026.",
        "Recruiter Priya Raman said the hiring manager liked my answer about scaling.",
        "Met with Kwame Mensah (CTO) and Ama Owusu; strong rapport, follow up Friday.",
        "Will send thank-you notes tomorrow. May need to ask about visa sponsorship.",
    ]
    rng = random.Random(0)
    notes = [" ".join(rng.sample(seeds, 2)) for _ in range(rows)]
    lf = pl.LazyFrame({"notes": notes})
    scrubbed_notes(lf.head(10)).collect()  # compile the regexes once
    start = time.perf_counter()
    out = lf.select(_scrub_expr(pl.col("notes"), steps)).collect()
    elapsed = time.perf_counter() - start
    chars = sum(map(len, notes)) / len(notes)
    print(
        f"{out.height:,} notes (~{chars:.0f} chars) in {elapsed:.2f} s: "
        f"{out.height / elapsed:,.0f} rows/s"
    )


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipelines.privacy.scrub_eval",
        description="Scrub PII from notes (one per line, stdin or FILE), or evaluate/benchmark.",
    )
    parser.add_argument("file", nargs="?", help="notes to scrub, one per line (default: stdin)")
    parser.add_argument("--eval", metavar="CORPUS", help="labelled pii_corpus.jsonl to score")
    parser.add_argument("--bench", metavar="ROWS", type=int, help="time scrubbed_notes on ROWS")
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR, help="lexicon folder")
    parser.add_argument("--no-names", action="store_true", help="drop the name lexicons")
    args = parser.parse_args(argv)
    steps = _steps(args.data_dir.resolve(), not args.no_names)
    if args.eval:
        _print_evaluation(Path(args.eval), steps)
    elif args.bench:
        _print_benchmark(args.bench, steps)
    else:
        if args.file:
            lines = Path(args.file).read_text(encoding="utf-8").splitlines()
        else:
            lines = [line.rstrip("\n") for line in sys.stdin]
        for line in _scrub_many(lines, steps):
            print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
